"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver``, installed by
``scripts/browser-tools``) driven through Selenium: one browser for a module's tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

from selenium import webdriver
from selenium.common.exceptions import (
    NoAlertPresentException,
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# The pictures of docs/console.md, written there only when DINGSTORE_DOCS_SCREENSHOTS=1 (as
# tests/api/test_api_browser.py does): a test run leaves the checkout as it found it.
IMAGES = (
    Path(__file__).resolve().parents[2] / "docs" / "images"
    if os.environ.get("DINGSTORE_DOCS_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "dingstore-console-shots"
)


def start(width: int = 1100, height: int = 760) -> webdriver.Chrome:
    assert CHROMIUM is not None and CHROMEDRIVER is not None
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's own sandbox cannot start
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class Page:
    """The browser, with the few moves the tests make."""

    def __init__(self, driver: webdriver.Chrome, base: str) -> None:
        self.driver = driver
        self.base = base

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> WebElement:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def all(self, css: str) -> list[WebElement]:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def button(self, text: str) -> WebElement:
        """The button or link whose visible label is ``text``."""
        found = [
            e
            for e in self.all("button, a, label.button")
            if e.text.strip() == text and e.is_displayed()
        ]
        assert found, f"no button or link labelled {text!r} on {self.driver.current_url}"
        return found[0]

    def click(self, text: str) -> None:
        self.button(text).click()

    def click_and_confirm(self, text: str) -> None:
        """Click a button that asks first (``data-confirm``), and say yes."""
        self.click(text)
        self.wait(lambda d: d.switch_to.alert).accept()

    def check(self, name: str) -> None:
        """Tick the row whose checkbox's label says ``Select NAME``."""
        label = self.driver.find_element(By.XPATH, f"//label[normalize-space()='Select {name}']")
        self.find("#" + str(label.get_attribute("for"))).click()

    def text(self) -> str:
        return str(self.find("body").text)

    def wait(self, until: Callable[[Any], T], timeout: float = 15) -> T:
        """``until`` once it holds; a page that reloads meanwhile (an element gone stale or not
        there yet) is waited through."""

        def holds(driver: Any) -> T:
            try:
                return until(driver)
            except WebDriverException as exc:
                # Chromium's word for an element whose page was replaced mid-call: as stale
                if "does not belong to the document" not in (exc.msg or ""):
                    raise
                return cast(T, False)

        return WebDriverWait(
            self.driver,
            timeout,
            poll_frequency=0.05,
            ignored_exceptions=(
                StaleElementReferenceException,
                NoSuchElementException,
                NoAlertPresentException,
            ),
        ).until(holds)

    def shot(self, name: str) -> None:
        IMAGES.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(IMAGES / f"console-{name}.png"))

    def errors(self) -> list[str]:
        """What the page logged as errors (a CSP violation shows here)."""
        return [str(e["message"]) for e in self.driver.get_log("browser") if e["level"] == "SEVERE"]
