"""The API browser, ``GET /docs`` (api/routes/apidocs.py), in headless Chromium: the page draws
every operation of ``/openapi.json`` from dingstore's own copy of Swagger UI, with every other
host unreachable (no CDN), and a token given to its *Authorize* dialog is sent with a *Try it
out* call. Chromium comes from ``scripts/browser-tools`` (Debian's ``chromium`` and
``chromium-driver``); the browser tests skip without it. The interaction goes through
chromedriver's WebDriver HTTP API, spoken with httpx.

``DINGSTORE_DOCS_SCREENSHOTS=1`` makes the rendering test write docs/images/api-browser.png,
the picture in docs/reference/api.md.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import pngs
from tests.api.test_preview_browser import CHROMIUM
from tests.live import LiveServer, http
from tests.storage import Storage

pytestmark = pytest.mark.shapes("embedded")  # a page and static files: no store in it
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOT = Path(__file__).parents[2] / "docs" / "images" / "api-browser.png"
# Every host but loopback fails to resolve: a page that needs a CDN draws nothing.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"


def _operations(server: LiveServer) -> list[str]:
    document = http.get(f"{server.url}/openapi.json").json()
    return [op["operationId"] for item in document["paths"].values() for op in item.values()]


def test_the_page_loads_only_dingstore_s_own_assets(server: LiveServer) -> None:
    page = http.get(f"{server.url}/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    sources = [
        part.split('"', 1)[0] for part in page.text.replace("'", '"').split('="')[1:]
    ]  # every attribute value and the script's string values
    urls = [s for s in sources if s.startswith(("/", "http"))]
    assert set(urls) == {
        "/docs/assets/swagger-ui.css",
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/favicon-32x32.png",
    }
    assert "/openapi.json" in page.text
    for name, kind in (("swagger-ui-bundle.js", "text/javascript"), ("swagger-ui.css", "text/css")):
        asset = http.get(f"{server.url}/docs/assets/{name}")
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert len(asset.content) > 100_000
        assert asset.headers["x-content-type-options"] == "nosniff"
    for name in ("LICENSE", "../apidocs.py", "swagger-ui-bundle.js.map", "nothing.js"):
        assert http.get(f"{server.url}/docs/assets/{name}").status_code == 404


def test_the_document_declares_the_token_header(server: LiveServer) -> None:
    document = http.get(f"{server.url}/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert list(schemes.values()) == [
        {"type": "apiKey", "in": "header", "name": "x-acs-dingtalk-access-token"}
        | ({"description": schemes["APIKeyHeader"]["description"]})
    ]
    storage = [
        op
        for path, item in document["paths"].items()
        if path.startswith("/v1.0/storage/")
        for op in item.values()
    ]
    assert len(storage) >= 46
    assert all(op.get("security") == [{"APIKeyHeader": []}] for op in storage)


# --- in Chromium, through WebDriver ------------------------------------------------------------


class WebDriver:
    """The few WebDriver commands the test needs, over chromedriver's HTTP API."""

    def __init__(self, url: str, session: str) -> None:
        self.url, self.session = url, session

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = httpx.request(
            method, f"{self.url}/session/{self.session}{path}", json=body, timeout=60
        )
        assert answer.status_code == 200, answer.text[:2000]
        return answer.json()["value"]

    def open(self, url: str) -> None:
        """Go to ``url``, unless the browser is there (Swagger UI takes seconds to load)."""
        if self._call("GET", "/url") != url:
            self._call("POST", "/url", {"url": url})

    def find(self, css: str, timeout: float = 10) -> str:
        """The first element ``css`` selects, once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._call("POST", "/elements", {"using": "css selector", "value": css})
            if found:
                return str(next(iter(found[0].values())))
            assert time.monotonic() < deadline, f"nothing matches {css}"
            time.sleep(0.1)

    def click(self, css: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/click", {})

    def type(self, css: str, text: str) -> None:
        self._call("POST", f"/element/{self.find(css)}/value", {"text": text})

    def text(self, css: str) -> str:
        return str(self._call("GET", f"/element/{self.find(css)}/text"))

    def run(self, script: str) -> Any:
        return self._call("POST", "/execute/sync", {"script": script, "args": []})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", "/screenshot"))


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    """One headless Chromium for the module's tests, every host but loopback unresolvable."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium or chromedriver: run scripts/browser-tools (make test does)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    driver = subprocess.Popen(
        [CHROMEDRIVER, f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/status").json()["value"]["ready"]:
                    break
            time.sleep(0.1)
        options = {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1280,1000",
                f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
                OFFLINE,
            ],
        }
        capabilities = {"browserName": "chrome", "goog:chromeOptions": options}
        answer = httpx.post(
            f"{url}/session", json={"capabilities": {"alwaysMatch": capabilities}}, timeout=90
        )
        assert answer.status_code == 200, answer.text[:2000]
        session = WebDriver(url, answer.json()["value"]["sessionId"])
        try:
            yield session
        finally:
            httpx.delete(f"{url}/session/{session.session}", timeout=30)
    finally:
        driver.terminate()
        driver.wait(timeout=10)


def test_the_page_draws_every_operation_offline(server: LiveServer, page: WebDriver) -> None:
    page.open(f"{server.url}/docs")
    page.find(".opblock-summary-description")
    drawn = page.run(
        "return [...document.querySelectorAll('.opblock-summary-description')]"
        ".map(e => e.textContent)"
    )
    assert drawn == _operations(server)
    page.find("button.btn.authorize.unlocked")

    shot = page.screenshot()
    image = pngs.decode(shot)
    # Swagger UI's method badges: POST green (73, 204, 144), GET blue (97, 175, 254)
    colours = {image.at(x, y) for y in range(0, image.height, 3) for x in range(0, 200, 3)}
    assert (73, 204, 144) in colours and (97, 175, 254) in colours
    if os.environ.get("DINGSTORE_DOCS_SCREENSHOTS"):
        SCREENSHOT.write_bytes(shot)


def test_a_token_given_to_authorize_goes_with_try_it_out(
    server: LiveServer, st: Storage, page: WebDriver
) -> None:
    """GetTask of a task that does not exist, tried from the page: ``404 taskNotExist`` with
    the token given to the Authorize dialog; without it the server would answer ``400
    InvalidAuthentication``."""
    page.open(f"{server.url}/docs")
    page.click("button.btn.authorize")
    page.type(".auth-container input", st.token)
    page.click(".auth-btn-wrapper button.authorize")
    page.click(".auth-btn-wrapper button.btn-done")

    operation = "#operations-tasks-GetTask"
    page.click(f"{operation} .opblock-summary-control")
    page.click(f"{operation} .try-out__btn")
    page.type(f'{operation} tr[data-param-name="taskId"] input', "10000000123")
    page.type(f'{operation} tr[data-param-name="unionId"] input', st.union_id)
    page.click(f"{operation} .execute")
    status = page.text(f"{operation} .live-responses-table tbody .response-col_status")
    body = page.text(f"{operation} .live-responses-table tbody .response-col_description")
    assert status.split()[0] == "404", status
    assert "taskNotExist" in body
