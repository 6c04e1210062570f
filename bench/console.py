"""Benchmark the web console in a real browser (issue 19).

What is measured
----------------
* **First paint of a big folder**: headless Chromium (Debian's ``chromium`` through its
  ``chromedriver``, Selenium) opens the console's page of a folder holding ``--children``
  entries (100,000 by default, seeded straight into the tables) sorted by name, and reads the
  page's ``first-contentful-paint`` from the browser's Performance API: from the start of the
  navigation to the first paint, the server's page included. Then the same for the next page
  (the keyset ``after=`` link). Each is the median of ``--repeat`` loads. Target: <= 300 ms.
* **Upload through the browser**: a file of ``--upload-mb`` MB (100 by default) picked in the
  folder page's **Upload** input; the seconds from picking it to the console saying it is done
  (start, the PUT(s) to the signed data plane — over 32 MB: 16 MB parts, three at a time —,
  commit), against the same bytes uploaded as the SDKs do (GetFileUploadInfo, one PUT,
  CommitFile) over raw HTTP. Medians of ``--repeat`` alternating rounds, after one unmeasured
  round. Target: browser >= 0.5x.

``dingstore serve`` runs as its own process on a fresh embedded store. Results are printed and
written to ``bench/results/console.json``.

Run: ``.venv/bin/python bench/console.py [--children 100000] [--upload-mb 100] [--repeat 5]``
(small: ``--children 2000 --upload-mb 8 --repeat 2``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import common
import httpx
from common import BenchError, Tenant
from transfers import Api

BATCH = 5_000


async def _seed(data_dir: Path, port: int, children: int) -> tuple[Tenant, int, str]:
    """A fresh store with a space whose root holds ``children`` folders; a sign-in token."""
    import sqlalchemy as sa

    from dingstore.service.spaces import NewSpace
    from dingstore.store import schema

    async with common.fresh_services(data_dir, port) as (svc, tenant):
        actor = await common.actor(svc, tenant)
        space = await svc.spaces.add(actor, NewSpace(name="big", scene="bench", scene_id="big"))
        first = await svc.ids.reserve(children)
        now = svc.clock.now_ms()
        rows = [
            {
                "id": first + i,
                "space_id": space.id,
                "parent_id": 0,
                "name": f"folder-{i:06d}",
                "type": "FOLDER",
                "size": 0,
                "blob_id": None,
                "version": None,
                "status": "NORMAL",
                "uuid": uuid.uuid4().hex,
                "creator_id": tenant.union_id,
                "modifier_id": tenant.union_id,
                "created_at": now,
                "modified_at": now,
                "descendants": 0,
                "stored": 0,
            }
            for i in range(children)
        ]
        async with svc.db.write(long=True) as conn:
            for at in range(0, len(rows), BATCH):
                await conn.execute(sa.insert(schema.dentries), rows[at : at + BATCH])
        await common.analyze(svc)
        token = await svc.console.link(tenant.union_id)
        return tenant, int(space.id), token


def _browser() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        raise BenchError("needs chromium and chromedriver (scripts/browser-tools)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(driver), options=options)


def _paint_ms(browser: Any) -> float:
    """The page's first paint (ms from the navigation's start), once the browser reports it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = browser.execute_script(
            "const p = performance.getEntriesByType('paint')"
            ".find(e => e.name === 'first-contentful-paint');"
            "return p ? p.startTime : null;"
        )
        if found is not None:
            return float(found)
        time.sleep(0.02)
    raise BenchError("the browser reported no first-contentful-paint")


def _wait(until: Any, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            raise BenchError("the browser did not get there in time")
        time.sleep(0.02)


def _browser_upload(browser: Any, folder_url: str, body: Path) -> float:
    """Seconds from picking ``body`` in the folder page's Upload input to the page saying
    it is done."""
    from selenium.webdriver.common.by import By

    browser.get(folder_url)
    started = time.perf_counter()
    browser.find_element(By.ID, "upload-files").send_keys(str(body))
    panel = browser.find_element(By.ID, "uploads")
    _wait(lambda: panel.get_attribute("data-state") is not None)
    seconds = time.perf_counter() - started
    if panel.get_attribute("data-state") != "done":
        raise BenchError(f"the browser's upload ended {panel.get_attribute('data-state')}")
    return seconds


def work(stack: contextlib.ExitStack, args: argparse.Namespace) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    data_dir = common.temp_dir(stack)
    port = common.free_port()
    tenant, space_id, token = asyncio.run(_seed(data_dir, port, args.children))
    server = common.dingstore_server(data_dir, port)
    proc = stack.enter_context(common.running(server, data_dir / "serve.log"))
    common.wait_ready(proc, server.base_url + server.ready_path, {})
    browser = _browser()
    stack.callback(browser.quit)
    base = server.base_url
    browser.get(f"{base}/console/signin/{token}")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(lambda: browser.current_url.endswith("/console/spaces"))

    folder = f"{base}/console/s/{space_id}/f/0?sort=NAME&dir=ASC"
    first, following = [], []
    for _ in range(args.repeat):
        browser.get(folder)
        first.append(_paint_ms(browser))
        next_url = browser.find_element(By.ID, "next-page").get_attribute("href")
        browser.get(next_url)
        following.append(_paint_ms(browser))
        if "folder-000050" not in browser.page_source:
            raise BenchError("the next page does not start after the first page's last row")

    size = args.upload_mb * 1024 * 1024
    body = data_dir / "upload.bin"
    with body.open("wb") as f:
        for _ in range(args.upload_mb):
            f.write(b"\x5a" * (1024 * 1024))
    sdk = Api(base, tenant, space_id)
    stack.callback(sdk.close)
    # Rounds alternate the two, after one unmeasured upload by each (the first upload of a
    # process is slower: the file is read cold, connections and code are warmed).
    browser_runs, sdk_runs = [], []
    for round_ in range(args.repeat + 1):
        seconds = _browser_upload(browser, f"{base}/console/s/{space_id}/f/0", body)
        sdk_s, dentry = sdk.upload((body, size), f"by-sdk-{round_}.bin")
        if int(dentry["size"]) != size:
            raise BenchError("the SDK's upload stored the wrong size")
        if round_:
            browser_runs.append(seconds)
            sdk_runs.append(sdk_s)
    browser_s, sdk_s = statistics.median(browser_runs), statistics.median(sdk_runs)
    with httpx.Client(base_url=base) as client:
        client.get("/healthz")
    results = {
        "children": args.children,
        "first_page_paint_ms": statistics.median(first),
        "next_page_paint_ms": statistics.median(following),
        "paint_target_ms": 300,
        "upload_mb": args.upload_mb,
        "browser_upload_mb_s": args.upload_mb / browser_s,
        "sdk_upload_mb_s": args.upload_mb / sdk_s,
        "browser_vs_sdk": sdk_s / browser_s,
        "upload_target_ratio": 0.5,
        "all_verified": True,
    }
    for key, value in results.items():
        print(f"{key:24} {value:.3f}" if isinstance(value, float) else f"{key:24} {value}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--children", type=int, default=100_000)
    parser.add_argument("--upload-mb", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    return common.run_benchmark(lambda stack: work(stack, args), "console")


if __name__ == "__main__":
    sys.exit(main())
