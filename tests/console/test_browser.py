"""The console in a real browser: headless Chromium signs in by link, uploads a folder through
the file input, copies it and watches the task reach 100%, deletes it to the recycle bin and
restores it, shares the space with a second user, who sees it and may not delete; a used link
and a post without the CSRF token are refused. Screenshots of the main pages go to
docs/images/console-*.png (docs/console.md shows them).

One browser for the module: Chromium takes about two seconds to start."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from dingstore.api.console import uploads
from tests import pngs
from tests.conftest import Tenant, new_tenant
from tests.console import browser
from tests.console.conftest import link
from tests.live import LiveServer, Sdk
from tests.s3 import MotoS3
from tests.storage import Storage

pytestmark = [
    pytest.mark.skipif(
        browser.CHROMIUM is None or browser.CHROMEDRIVER is None,
        reason="no chromium/chromedriver: run scripts/browser-tools (make test does)",
    ),
    pytest.mark.shapes("embedded"),
]


@pytest.fixture(scope="module")
def driver() -> Iterator[browser.webdriver.Chrome]:
    chrome = browser.start()
    yield chrome
    chrome.quit()


@pytest.fixture
def page(driver: browser.webdriver.Chrome, server: LiveServer) -> browser.Page:
    driver.delete_all_cookies()
    driver.set_window_size(1100, 760)
    return browser.Page(driver, server.url)


def sign_in(page: browser.Page, server: LiveServer, union_id: str) -> str:
    path = link(server, union_id)
    page.open(path)
    page.click("Sign in")
    page.wait(lambda d: d.current_url.endswith("/console/spaces"))
    return path


def folder_of_files(root: Path) -> Path:
    top = root / "photos"
    (top / "2024").mkdir(parents=True)
    for i in range(4):
        (top / f"p{i}.txt").write_bytes(b"x" * (1000 + i))
    (top / "2024" / "summer.txt").write_bytes(b"sun" * 100)
    return top


@pytest.mark.heavy(15)
def test_a_day_in_the_console(
    page: browser.Page, server: LiveServer, st: Storage, tenant: Tenant, tmp_path: Path
) -> None:
    space = st.new_space(name="Team files")
    st.upload(space.id, b"hello", "readme.txt")

    # sign in by link
    used = sign_in(page, server, st.union_id)
    assert "Team files" in page.text()
    page.shot("spaces")

    # upload a folder of files through the file input
    page.open(f"/console/s/{space.id}/f/0")
    folder = folder_of_files(tmp_path)
    page.find("#upload-folder").send_keys(str(folder))
    page.wait(lambda d: page.find("#uploads").get_attribute("data-state") == "done")
    assert [li.get_attribute("data-state") for li in page.all("#upload-list li")] == ["done"] * 5
    page.wait(lambda d: "photos" in page.find("#listing").text)  # the page reloaded
    page.click("photos")
    page.wait(lambda d: "p3.txt" in page.text())
    assert "2024" in page.text() and "Spaces" in page.find("nav.trail").text
    page.shot("folder")
    photos = next(d for d in st.list_dentries(space.id, "0") if d.name == "photos")
    names = sorted(d.name for d in st.list_dentries(space.id, photos.id))
    assert names == ["2024", "p0.txt", "p1.txt", "p2.txt", "p3.txt"]

    # copy it, through the folder picker, and watch the task reach 100%
    page.open(f"/console/s/{space.id}/f/0")
    page.check("photos")
    page.click("Copy to…")
    page.wait(lambda d: "Copy here" in page.text())
    assert "csrf" not in page.driver.current_url  # the token stays out of URLs
    page.shot("picker")
    page.click("Copy here")
    page.wait(lambda d: "/console/tasks" in d.current_url)
    task = page.find("[data-task]")
    page.wait(lambda d: task.get_attribute("data-status") == "SUCCESS")
    assert task.find_element("css selector", "progress").get_attribute("value") == "100"
    assert "SUCCESS" in task.text
    page.shot("tasks")
    copies = [d for d in st.list_dentries(space.id, "0") if d.type == "FOLDER"]
    assert len(copies) == 2

    # delete the copy to the recycle bin, then restore it
    copy = next(d for d in copies if d.name != "photos")
    page.open(f"/console/s/{space.id}/f/0")
    page.check(copy.name)
    page.click("Delete")
    page.wait(lambda d: "/console/tasks" in d.current_url or "recycle bin" in page.text())
    page.wait(lambda d: copy.name not in [x.name for x in st.list_dentries(space.id, "0")])
    page.click("Recycle bin")
    page.wait(lambda d: copy.name in page.text())
    page.shot("bin")
    page.check(copy.name)
    page.click("Restore")
    # where the restore leads (its task, or the bin without it), before another page is opened
    page.wait(lambda d: "/console/tasks" in d.current_url or copy.name not in page.text())
    page.wait(lambda d: copy.name in [x.name for x in st.list_dentries(space.id, "0")])

    # share the space with bob
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    page.open(f"/console/s/{space.id}/f/0")
    page.click("Sharing")
    page.find("#member-id").send_keys(bob.union_id)
    page.click("Share")
    page.wait(lambda d: "READER granted" in page.text())
    page.shot("sharing")
    assert page.errors() == []  # nothing the CSP blocked, no script error

    # bob sees it and may not delete it
    page.driver.delete_all_cookies()
    sign_in(page, server, bob.union_id)
    page.click("Team files")
    page.wait(lambda d: "photos" in page.text())
    page.check("photos")
    page.click("Delete")
    page.wait(lambda d: "You do not have permission to do that here." in page.text())
    assert "photos" in [x.name for x in st.list_dentries(space.id, "0")]

    # a post without the CSRF token is refused, from the page itself
    status = page.driver.execute_async_script(
        "const done = arguments[0];"
        f"fetch('/console/s/{space.id}/f/0/folders', {{method: 'POST',"
        " headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'name=evil'})"
        ".then(r => done(r.status));"
    )
    assert status in (401, 403)
    assert "evil" not in [x.name for x in st.list_dentries(space.id, "0")]

    # a link used once is refused the second time
    page.driver.delete_all_cookies()
    page.open(used)
    page.click("Sign in")
    page.wait(lambda d: "This sign-in link is not valid" in page.text())

    # a narrow window: nothing wider than the screen
    sign_in(page, server, st.union_id)
    page.driver.set_window_size(400, 760)
    page.open(f"/console/s/{space.id}/f/0")
    wide = page.driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert wide <= 0
    page.shot("narrow")


@pytest.mark.heavy(15)
def test_files_in_depth(
    page: browser.Page,
    server: LiveServer,
    st: Storage,
    tenant: Tenant,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    space = st.new_space(name="Depth")
    sign_in(page, server, st.union_id)
    here = f"/console/s/{space.id}/f/0"

    # a file over the multipart threshold goes in parts
    monkeypatch.setattr(uploads, "MULTIPART_OVER", 200_000)
    monkeypatch.setattr(uploads, "PART_SIZE", 128 * 1024)
    data = bytes(range(256)) * 1800  # 460,800 bytes: 4 parts
    (tmp_path / "big.bin").write_bytes(data)
    page.open(here)
    page.find("#upload-files").send_keys(str(tmp_path / "big.bin"))
    page.wait(lambda d: page.find("#uploads").get_attribute("data-state") == "done")
    big = next(d for d in st.list_dentries(space.id, "0") if d.name == "big.bin")
    assert st.download(space.id, big.id) == data

    # files dropped on the page are uploaded
    page.driver.execute_script(
        "const dt = new DataTransfer();"
        "dt.items.add(new File(['dropped bytes'], 'dropped.txt', {type: 'text/plain'}));"
        "document.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));"
    )
    page.wait(lambda d: "dropped.txt" in [x.name for x in st.list_dentries(space.id, "0")])
    dropped = next(x for x in st.list_dentries(space.id, "0") if x.name == "dropped.txt")
    assert st.download(space.id, dropped.id) == b"dropped bytes"

    # the keyboard alone makes a folder
    page.wait(lambda d: "big.bin" in page.find("#listing").text)
    page.find("#new-folder-name").send_keys("archive" + Keys.ENTER)
    page.wait(lambda d: "Folder “archive” created." in page.text())

    # rename, a second version, revert to the first
    page.click("big.bin")
    page.find("#rename").clear()
    page.find("#rename").send_keys("renamed.bin")
    page.click("Rename")
    page.wait(lambda d: "Renamed to “renamed.bin”." in page.text())
    info = st.upload_info(space.id)
    st.put(info, b"second version")
    st.commit(space.id, info.upload_key, "renamed.bin", "0", overwrite_dentry_id=big.id)
    page.driver.refresh()
    assert "Revert to version 1" in page.text() and "Download version 2" in page.text()
    page.shot("file")
    page.click("Revert to version 1")
    page.wait(lambda d: "Reverted to version 1." in page.text())
    assert st.download(space.id, big.id) == data

    # preview: the open-info page; a kind it cannot show, said in words
    page.click("Preview")
    page.wait(lambda d: "That did not work" in page.text())
    notes = st.upload(space.id, b"plain words", "notes.txt")
    page.open(f"/console/s/{space.id}/d/{notes.id}")
    page.click("Preview")
    page.wait(lambda d: "/_preview/" in d.current_url)
    assert "plain words" in page.text()

    # move it into the folder through the picker
    page.open(here)
    page.check("renamed.bin")
    page.click("Move to…")
    page.wait(lambda d: "Move here" in page.text())
    page.click("archive")
    page.wait(lambda d: "f=" in d.current_url and "archive" in page.find("nav.trail").text)
    page.click("Move here")
    page.wait(lambda d: "1 item(s) moved." in page.text())
    archive = next(d for d in st.list_dentries(space.id, "0") if d.name == "archive")
    assert [d.name for d in st.list_dentries(space.id, archive.id)] == ["renamed.bin"]

    # the grid view, with the thumbnail of an image
    picture = pngs.encode(64, 48, lambda x, y: (220, 30, 30) if x < 32 else (30, 60, 220))
    flag = st.upload(space.id, picture, "flag.png")
    st.wait_thumbnail(space.id, flag.id)
    page.open(here)
    page.click("Grid")
    thumb = page.wait(lambda d: page.find("ul.grid img"))
    page.wait(lambda d: page.driver.execute_script("return arguments[0].naturalWidth", thumb) > 0)
    page.shot("grid")

    # purge one item from the bin, then empty it
    st.upload(space.id, b"junk", "junk.txt")
    page.open(here)
    page.check("archive")
    page.check("junk.txt")
    page.check("notes.txt")
    page.click("Delete")
    page.wait(lambda d: "/console/tasks" in d.current_url or "recycle bin" in page.text())
    page.open("/console/bin")
    page.wait(lambda d: "junk.txt" in page.text() and "archive" in page.text())
    page.check("junk.txt")
    page.driver.execute_script("window.stillHere = true")
    page.click_and_confirm("Delete permanently")
    page.wait(lambda d: "1 item(s) deleted permanently." in page.text())
    assert page.driver.execute_script("return window.stillHere") is True  # htmx swapped it in
    assert "junk.txt" not in page.find("#bin").text
    page.click_and_confirm("Empty recycle bin")
    page.wait(lambda d: "The recycle bin is empty." in page.text())

    # a grant changed and removed
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    page.open(f"/console/s/{space.id}/share/0")
    page.find("#member-id").send_keys(bob.union_id)
    page.click("Share")
    page.wait(lambda d: "READER granted" in page.text())
    Select(page.find("#role-1")).select_by_visible_text("EDITOR")
    page.click("Change role")
    page.wait(lambda d: "now holds EDITOR" in page.text())
    assert [p.role.id for p in st.permissions(space.id, "0")] == ["EDITOR"]
    page.click("Remove")
    page.wait(lambda d: "No grants set here" in page.text())

    # an upload cancelled half way leaves nothing behind
    page.driver.execute_cdp_cmd("Network.enable", {})
    page.driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": 40_000},
    )
    try:
        (tmp_path / "slow.bin").write_bytes(b"s" * 150_000)
        page.open(here)
        page.find("#upload-files").send_keys(str(tmp_path / "slow.bin"))
        bar = page.wait(lambda d: page.find("#upload-list progress"))
        page.wait(lambda d: int(bar.get_attribute("value") or 0) > 0)
        page.click("Cancel")
        page.wait(lambda d: page.find("#uploads").get_attribute("data-state") == "cancelled")
        assert "Cancelled." in page.find("#upload-list").text
    finally:
        page.driver.execute_cdp_cmd("Network.disable", {})
    assert "slow.bin" not in [d.name for d in st.list_dentries(space.id, "0")]

    # the admin page (the log read first: the refused preview above logged its 400)
    page.errors()
    page.open("/console/admin")
    page.wait(lambda d: "Create app" in page.text())
    page.shot("admin")
    assert page.errors() == []

    # every input of the main pages has a label
    for path in (here, f"/console/s/{space.id}/share/0", "/console/bin", "/console/admin"):
        page.open(path)
        unlabelled = page.driver.execute_script(
            "return [...document.querySelectorAll('input:not([type=hidden]), select')]"
            ".filter(e => !e.labels || e.labels.length === 0).map(e => e.outerHTML)"
        )
        assert unlabelled == [], path


def test_an_upload_to_s3_from_the_browser(
    driver: browser.webdriver.Chrome,
    make_server: Callable[..., LiveServer],
    moto_s3: MotoS3,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    """With an S3 blob store the browser PUTs to S3's pre-signed URL, on S3's origin: the CSP
    names it, and the bucket's CORS rules (the operator's to set) admit the console."""
    s3_server = make_server(blob_url=moto_s3.url(s3_bucket))
    moto_s3.client.put_bucket_cors(
        Bucket=s3_bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [s3_server.url],
                    "AllowedMethods": ["PUT", "GET"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                }
            ]
        },
    )
    sdk = Sdk(s3_server.endpoint)
    st = Storage.of(s3_server, sdk, new_tenant(s3_server, sdk))
    space = st.new_space(name="On S3")
    driver.delete_all_cookies()
    page = browser.Page(driver, s3_server.url)
    sign_in(page, s3_server, st.union_id)
    page.open(f"/console/s/{space.id}/f/0")
    csp = page.driver.execute_script(
        "return fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    assert moto_s3.endpoint in csp
    (tmp_path / "cloud.txt").write_bytes(b"to the bucket")
    page.find("#upload-files").send_keys(str(tmp_path / "cloud.txt"))
    page.wait(lambda d: page.find("#uploads").get_attribute("data-state") is not None)
    assert page.find("#uploads").get_attribute("data-state") == "done", page.text()
    (file,) = st.list_dentries(space.id, "0")
    assert st.download(space.id, file.id) == b"to the bucket"
    assert moto_s3.keys(s3_bucket)  # the bytes are in the bucket


def test_a_folder_shared_deep_in_a_space(
    page: browser.Page, server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    """Bob holds a grant on a folder two levels down: from the space he reaches it, and the
    breadcrumbs name the folder above it, which he may not open, without a link; the folder
    picker, which starts at the space's root, offers him that folder to copy into."""
    space = st.new_space(name="Projects")
    above = st.add_folder(space.id, "private")
    shared = st.add_folder(space.id, "shared plans", above.id)
    st.upload(space.id, b"plan", "plan.txt", shared.id)
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    st.add_permission(space.id, shared.id, "EDITOR", [("USER", bob.union_id)])

    sign_in(page, server, bob.union_id)
    page.click("Projects")
    page.wait(lambda d: "These were shared with you in it" in page.text())
    assert "/private/shared plans" in page.text()
    page.shot("shared-space")
    page.click("shared plans")
    page.wait(lambda d: "plan.txt" in page.text())
    trail = page.find("nav.trail")
    assert "private" in trail.text
    assert [a.text for a in trail.find_elements("tag name", "a")] == [
        "Spaces", "Projects", "shared plans"
    ]  # fmt: skip
    page.shot("shared")

    page.check("plan.txt")
    page.click("Copy to…")
    page.wait(lambda d: "Open a folder shared with you in it" in page.text())
    assert "Copy here" not in page.text()  # not into the root he may not open
    assert "/private/shared plans" in page.find("ul.folders").text
    page.shot("picker-shared")
    page.click("shared plans")
    page.wait(lambda d: "Copy here" in page.text())
    assert "private" in page.find("nav.trail").text
    page.click("Copy here")
    page.wait(lambda d: len(st.list_dentries(space.id, shared.id)) == 2)
    assert {x.name for x in st.list_dentries(space.id, shared.id)} == {"plan.txt", "plan(1).txt"}
    assert page.errors() == []
