"""GetDentryOpenInfo and RegisterOpenInfo through the official SDK (spec §6 K 42, 44;
docs/previews.md), and the preview pages their links open, over plain HTTP as a browser asks:
each kind of file shown with the right content and headers, nothing of a file run as script,
a link bound to the first browser session that opens it and dead 5 minutes after issue if
unused, rights checked at issue and at every visit, and every bad input answered with its code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from dingstore.service import previews
from tests import pngs
from tests.api.test_access_log import access_record
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage

RED_BLUE = pngs.encode(64, 32, lambda x, y: (220, 30, 30) if x < 32 else (30, 60, 220))


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """A browser session: its own cookie jar."""
    with httpx.Client(timeout=30) as client:
        yield client


def _user(server: LiveServer, tenant: Tenant, name: str) -> str:
    return server.run(server.services.identity.create_user(tenant.corp_id, name)).union_id


def _content(url: str) -> str:
    return url + "content"


def _csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers["content-security-policy"]
    return {d.split()[0]: d for d in (p.strip() for p in policy.split(";")) if d}


def _open(st: Storage, data: bytes, name: str, **options: object) -> tuple[str, str]:
    """Upload a file to a new space; the file's id and a preview link."""
    space = st.new_space()
    file = st.upload(space.id, data, name)
    return file.id, st.open_info(space.id, file.id, **options).url  # type: ignore[arg-type]


def _page_is_locked_down(response: httpx.Response) -> None:
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    csp = _csp(response)
    assert csp["default-src"] == "default-src 'none'"
    assert "script-src" not in csp  # hence none: default-src 'none'
    assert csp["style-src"].startswith("style-src 'nonce-")
    assert csp["frame-ancestors"] == "frame-ancestors 'none'"
    assert "<script" not in response.text.lower()
    (nonce,) = re.findall(r"<style nonce=\"([^\"]+)\">", response.text)
    assert csp["style-src"] == f"style-src 'nonce-{nonce}'"


# --- each kind of file --------------------------------------------------------------------------


def test_an_image_is_shown_by_name_and_served_from_its_content_url(
    st: Storage, server: LiveServer, browser: httpx.Client
) -> None:
    _, url = _open(st, RED_BLUE, "sunset & sea's.png")
    assert url.startswith(f"{server.url}/_preview/") and url.endswith("/")
    page = browser.get(url)
    assert page.status_code == 200
    _page_is_locked_down(page)
    assert "<title>sunset &amp; sea&#x27;s.png</title>" in page.text
    assert "<h1>sunset &amp; sea&#x27;s.png</h1>" in page.text
    path = urlsplit(url).path
    assert f'<img src="{path}content" alt="sunset &amp; sea&#x27;s.png">' in page.text
    cookie = page.headers["set-cookie"]
    assert "httponly" in cookie.lower() and f"Path={path.rstrip('/')}" in cookie
    assert "samesite=lax" in cookie.lower() and "expires" not in cookie.lower()  # session only

    content = browser.get(_content(url))
    assert content.status_code == 200 and content.content == RED_BLUE
    assert content.headers["content-type"] == "image/png"
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"].startswith("inline; filename*=UTF-8''sunset")
    assert _csp(content)["sandbox"] == "sandbox"
    assert _csp(content)["frame-ancestors"] == "frame-ancestors 'self'"


@pytest.mark.parametrize(
    ("name", "tag", "media_type"),
    [("clip.mp4", "video", "video/mp4"), ("song.mp3", "audio", "audio/mpeg")],
)
def test_audio_and_video_play_from_ranges(
    st: Storage, browser: httpx.Client, name: str, tag: str, media_type: str
) -> None:
    data = bytes(range(256)) * 40
    _, url = _open(st, data, name)
    page = browser.get(url)
    assert page.status_code == 200
    assert re.search(rf'<{tag} controls preload="metadata" src="[^"]+/content"></{tag}>', page.text)
    assert _csp(page)["media-src"] == "media-src 'self'"
    part = browser.get(_content(url), headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["content-type"] == media_type
    assert part.headers["accept-ranges"] == "bytes"
    tail = browser.get(_content(url), headers={"Range": "bytes=10000-"})
    assert tail.status_code == 206 and tail.content == data[10000:]
    past = browser.get(_content(url), headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"


def test_a_pdf_opens_in_the_browsers_viewer_with_a_water_mark(
    st: Storage, browser: httpx.Client
) -> None:
    pdf = b"%PDF-1.4\n%%EOF\n"
    space = st.new_space()
    file = st.upload(space.id, pdf, "report.pdf")
    info = st.open_info(space.id, file.id, water_mark=True)
    assert info.has_water_mark is True
    page = browser.get(info.url)
    assert re.search(r'<iframe src="[^"]+/content" title="report.pdf"></iframe>', page.text)
    assert _csp(page)["frame-src"] == "frame-src 'self'"
    assert page.text.count("<span>alice</span>") == 48  # the operator's name, drawn over it
    content = browser.get(_content(info.url))
    assert content.content == pdf and content.headers["content-type"] == "application/pdf"
    assert "sandbox" not in _csp(content)  # Chromium shows no PDF in a sandboxed frame
    assert _csp(content)["frame-ancestors"] == "frame-ancestors 'self'"
    assert content.headers["x-frame-options"] == "SAMEORIGIN"

    plain = st.open_info(space.id, file.id)
    assert plain.has_water_mark is False
    assert 'class="watermark"' not in browser.get(plain.url).text


def test_a_water_mark_is_only_for_the_formats_that_take_one(
    st: Storage, browser: httpx.Client
) -> None:
    space = st.new_space()
    image = st.upload(space.id, RED_BLUE, "a.png")
    info = st.open_info(space.id, image.id, water_mark=True)
    assert info.has_water_mark is False
    assert 'class="watermark"' not in browser.get(info.url).text


def test_text_and_code_are_escaped_in_pre(st: Storage, browser: httpx.Client) -> None:
    source = "if a < b && c > d:\n    print('\u00e9t\u00e9 \u2603')\n</pre><b>not bold</b>\n"
    _, url = _open(st, source.encode(), "main.py")
    page = browser.get(url)
    assert page.status_code == 200
    assert "if a &lt; b &amp;&amp; c &gt; d:" in page.text
    assert "&lt;/pre&gt;&lt;b&gt;not bold&lt;/b&gt;" in page.text
    assert "\u00e9t\u00e9 \u2603" in page.text
    assert "<b>" not in page.text


def test_a_long_text_shows_its_first_mebibyte(st: Storage, browser: httpx.Client) -> None:
    data = b"x" * (1024 * 1024) + b"THE END"
    _, url = _open(st, data, "big.log")
    page = browser.get(url)
    assert "THE END" not in page.text and "The first 1.0 MB of 1.0 MB" in page.text


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("evil.html", b"<html><body><script>document.title='pwned'</script></body></html>"),
        (
            "evil.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)'
            b"</script></svg>",
        ),
    ],
)
def test_html_and_svg_are_text_and_never_run(
    st: Storage, browser: httpx.Client, name: str, data: bytes
) -> None:
    _, url = _open(st, data, name, check_login=True)
    page = browser.get(url)
    assert page.status_code == 200
    _page_is_locked_down(page)
    assert "&lt;script&gt;" in page.text
    content = browser.get(_content(url))  # the raw bytes, had someone navigated there
    assert content.content == data
    assert content.headers["content-type"] == "text/plain; charset=utf-8"
    assert content.headers["content-disposition"].startswith("attachment;")
    assert content.headers["x-content-type-options"] == "nosniff"
    assert _csp(content)["sandbox"] == "sandbox"
    assert _csp(content)["default-src"] == "default-src 'none'"


def test_an_older_version_is_previewed_when_asked(st: Storage, browser: httpx.Client) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"first words", "notes.txt")
    st.upload(space.id, b"second words", "notes.txt", conflict_strategy="OVERWRITE")
    assert "second words" in browser.get(st.open_info(space.id, file.id).url).text
    with httpx.Client() as other:
        old = other.get(st.open_info(space.id, file.id, version=1).url)
        assert "first words" in old.text and "version 1" in old.text


# --- once per browser session, 5 minutes unused ------------------------------------------------


def test_a_link_opens_in_one_browser_session_only(st: Storage, browser: httpx.Client) -> None:
    _, url = _open(st, RED_BLUE, "a.png")
    assert browser.get(url).status_code == 200
    with httpx.Client() as second:
        refused = second.get(url)
        assert refused.status_code == 403
        assert "opened elsewhere" in refused.text
        _page_is_locked_down(refused)
        assert second.get(_content(url)).status_code == 403
        assert "set-cookie" not in refused.headers
    again = browser.get(url)  # a reload in the first session
    assert again.status_code == 200 and "set-cookie" not in again.headers
    assert browser.get(_content(url)).content == RED_BLUE
    forged = httpx.get(url, cookies={"dingstore_preview": "guessed"})
    assert forged.status_code == 403


def test_first_visits_at_once_bind_the_link_once(st: Storage) -> None:
    _, url = _open(st, RED_BLUE, "a.png")
    clients = [httpx.Client() for _ in range(8)]
    with ThreadPoolExecutor(len(clients)) as pool:
        statuses = list(pool.map(lambda c: c.get(url).status_code, clients))
    assert sorted(statuses) == [200] + [403] * 7
    winner = clients[statuses.index(200)]
    assert winner.get(_content(url)).content == RED_BLUE
    for client in clients:
        client.close()


def test_content_is_refused_before_the_page_binds_the_link(
    st: Storage, browser: httpx.Client
) -> None:
    _, url = _open(st, RED_BLUE, "a.png")
    assert browser.get(_content(url)).status_code == 403
    assert browser.head(url).status_code == 200  # a HEAD binds nothing
    assert browser.get(url).status_code == 200
    assert browser.get(_content(url)).status_code == 200


def test_an_unused_link_dies_after_five_minutes(
    st: Storage, server: LiveServer, browser: httpx.Client
) -> None:
    space = st.new_space()
    file = st.upload(space.id, RED_BLUE, "a.png")
    opened, unused = (st.open_info(space.id, file.id).url for _ in range(2))
    assert browser.get(opened).status_code == 200
    server.clock.advance(previews.LINK_TTL - 1)
    with httpx.Client() as late:
        early = st.open_info(space.id, file.id).url
        server.clock.advance(2)
        expired = late.get(unused)
        assert expired.status_code == 410 and "expired" in expired.text
        assert late.get(early).status_code == 200  # 2 s old
    assert browser.get(opened).status_code == 200  # opened in time: its session goes on
    assert browser.get(_content(opened)).status_code == 200
    server.clock.advance(previews.SESSION_TTL)
    assert browser.get(opened).status_code == 410
    assert server.run(server.services.housekeeper.sweep())["open_infos"] >= 2


def test_a_link_that_was_tampered_with_is_refused(st: Storage, browser: httpx.Client) -> None:
    _, url = _open(st, RED_BLUE, "a.png")
    claims, expires, signature = urlsplit(url).path.split("/")[2].split(".")
    base = url.split("/_preview/")[0] + "/_preview/"
    later = f"{base}{claims}.{int(expires) + 3600}.{signature}/"
    assert browser.get(later).status_code == 403
    other = f"{base}{claims}.{expires}.{'0' * 64}/"
    assert browser.get(other).status_code == 403
    assert browser.get(f"{base}nonsense/").status_code == 403


def test_the_access_log_keeps_no_token(
    st: Storage, browser: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dingstore.access")
    _, url = _open(st, RED_BLUE, "a.png")
    token = urlsplit(url).path.split("/")[2]
    for response in (browser.get(url), browser.get(_content(url))):
        record = access_record(caplog, response.headers["x-acs-request-id"])
        assert token not in record.getMessage() and token not in str(record.__dict__)
    assert record.path == "/_preview/\u2026/content"  # type: ignore[attr-defined]


# --- rights -------------------------------------------------------------------------------------


def test_readers_preview_editors_edit_and_others_are_refused(
    st: Storage, server: LiveServer, tenant: Tenant, browser: httpx.Client
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    bob = st.as_user(_user(server, tenant, "bob"))
    assert sdk_error(lambda: bob.open_info(space.id, file.id)).code == "permissionDenied"
    st.add_permission(space.id, file.id, "READER", [("USER", bob.union_id)])
    url = bob.open_info(space.id, file.id).url
    assert sdk_error(lambda: bob.open_info(space.id, file.id, type="EDIT")).code == (
        "permissionDenied"
    )
    assert browser.get(url).status_code == 200

    st.delete_permission(space.id, file.id, "READER", [("USER", bob.union_id)])
    refused = browser.get(url)  # every visit checks again
    assert refused.status_code == 403 and "may not see" in refused.text
    assert browser.get(_content(url)).status_code == 403


def test_a_file_deleted_after_its_link_was_issued_is_gone(
    st: Storage, browser: httpx.Client
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    url = st.open_info(space.id, file.id).url
    st.delete(space.id, file.id)
    assert browser.get(url).status_code == 404


def test_another_org_cannot_open_the_file(st: Storage, server: LiveServer, sdk: Sdk) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    other = Storage.of(server, sdk, new_tenant(server, sdk))
    assert sdk_error(lambda: other.open_info(space.id, file.id)).code == "spaceNotExist"


# --- what cannot be opened ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "options", "code"),
    [
        ("a.txt", {"type": "VIEW"}, "paramError.openType"),
        ("a.txt", {"type": "EDIT"}, "dentryEditNotSupport"),
        ("a.txt", {"version": 7}, "paramError.version"),
        ("a.txt", {"version": 0}, "paramError.version"),
        ("a.docx", {}, "dentryPreviewNotSupport"),
        ("scan.tiff", {}, "dentryPreviewNotSupport"),
        ("movie.mkv", {}, "dentryPreviewNotSupport"),
        ("a.xyz", {}, "dentryExtensionNotSupport"),
        ("README", {}, "dentryExtensionNotSupport"),
        ("archive.zip", {"check_login": True}, "dentryExtensionNotSupport"),
        ("logo.svg", {}, "dentryExtensionNotSupport"),  # checkLogin: false shows no SVG
        ("photo.avif", {}, "dentryExtensionNotSupport"),
    ],
)
def test_what_cannot_be_opened_is_refused_with_its_code(
    st: Storage, name: str, options: dict[str, object], code: str
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"data", name)
    error = sdk_error(lambda: st.open_info(space.id, file.id, **options))  # type: ignore[arg-type]
    assert (error.code, error.statusCode) == (code, 400)


def test_folders_and_missing_things_are_refused(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "docs")
    assert sdk_error(lambda: st.open_info(space.id, folder.id)).code == "dentryPreviewNotSupport"
    edit = sdk_error(lambda: st.open_info(space.id, folder.id, type="EDIT"))
    assert edit.code == "dentryEditNotSupport"
    missing = sdk_error(lambda: st.open_info(space.id, "987654321"))
    assert (missing.code, missing.statusCode) == ("dentryNotExist", 404)
    assert sdk_error(lambda: st.open_info("987654321", "1")).code == "spaceNotExist"
    assert sdk_error(lambda: st.open_info(space.id, "x")).code == "paramError.dentryId"


def test_the_body_may_be_empty_and_options_are_typed(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    body = st.raw_ok("POST", f"/spaces/{space.id}/dentries/{file.id}/openInfos/query", json={})
    assert set(body) == {"url", "hasWaterMark"} and body["hasWaterMark"] is False
    bad = st.raw(
        "POST",
        f"/spaces/{space.id}/dentries/{file.id}/openInfos/query",
        json={"option": {"version": "one"}},
    )
    assert bad.status_code == 400 and bad.json()["code"] == "paramError.version"


# --- RegisterOpenInfo ---------------------------------------------------------------------------


def _second_app(server: LiveServer, sdk: Sdk, tenant: Tenant, name: str) -> Storage:
    creds = server.run(server.services.identity.create_app(tenant.corp_id, name))
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    return Storage(server, sdk, token, tenant.admin_id)


def test_registered_urls_come_first_the_callers_own_before_anothers(
    st: Storage, server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    preview, edit = "https://viewer.example/v?id=1", "https://editor.example/e?id=1"
    assert st.register_open_info(space.id, file.id, "acme", [("PREVIEW", preview), ("EDIT", edit)])
    assert st.open_info(space.id, file.id).url == preview
    assert st.open_info(space.id, file.id, type="EDIT").url == edit
    assert st.open_info(space.id, file.id, water_mark=True).has_water_mark is False

    other = _second_app(server, sdk, tenant, "other")
    assert other.open_info(space.id, file.id).url == preview  # another app's registration
    mine = "https://other.example/p"
    assert other.register_open_info(space.id, file.id, "other", [("PREVIEW", mine)])
    assert other.open_info(space.id, file.id).url == mine  # its own first
    assert st.open_info(space.id, file.id).url == preview
    third = _second_app(server, sdk, tenant, "third")
    assert third.open_info(space.id, file.id).url == mine  # the latest of the others'
    assert third.open_info(space.id, file.id, type="EDIT").url == edit

    replaced = "https://viewer.example/v2"
    st.register_open_info(space.id, file.id, "acme", [("PREVIEW", replaced)])
    assert st.open_info(space.id, file.id).url == replaced
    assert st.open_info(space.id, file.id, type="EDIT").url == edit  # untouched


def test_a_registration_opens_what_dingstore_cannot(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"PK\x03\x04", "plan.docx")
    assert sdk_error(lambda: st.open_info(space.id, file.id, type="EDIT")).code == (
        "dentryEditNotSupport"
    )
    st.register_open_info(space.id, file.id, "office", [("EDIT", "https://office.example/e")])
    assert st.open_info(space.id, file.id, type="EDIT").url == "https://office.example/e"
    copy = st.copy(space.id, file.id, space.id).dentry  # a copy is another file
    assert sdk_error(lambda: st.open_info(space.id, copy.id, type="EDIT")).code == (
        "dentryEditNotSupport"
    )
    moved = st.add_folder(space.id, "moved")
    st.move(space.id, file.id, space.id, moved.id)  # a move keeps it: the same file
    assert st.open_info(space.id, file.id, type="EDIT").url == "https://office.example/e"


@pytest.mark.own_server
def test_housekeeping_forgets_the_registrations_of_purged_files(
    st: Storage, server: LiveServer
) -> None:
    space = st.new_space()
    kept, purged = (st.upload(space.id, b"x", f"{n}.docx") for n in "ab")
    for file in (kept, purged):
        st.register_open_info(space.id, file.id, "office", [("EDIT", "https://o.example/")])
    st.delete(space.id, purged.id)
    assert server.run(server.services.housekeeper.sweep())["open_infos"] == 1
    assert st.open_info(space.id, kept.id, type="EDIT").url == "https://o.example/"


def test_registering_needs_editor_on_the_file(
    st: Storage, server: LiveServer, tenant: Tenant
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    bob = st.as_user(_user(server, tenant, "bob"))
    st.add_permission(space.id, file.id, "DOWNLOADER", [("USER", bob.union_id)])
    register = lambda: bob.register_open_info(  # noqa: E731
        space.id, file.id, "bob", [("PREVIEW", "https://bob.example/")]
    )
    assert sdk_error(register).code == "permissionDenied"
    assert "bob.example" not in bob.open_info(space.id, file.id).url
    st.add_permission(space.id, file.id, "EDITOR", [("USER", bob.union_id)])
    assert register()
    assert bob.open_info(space.id, file.id).url == "https://bob.example/"


@pytest.mark.parametrize(
    ("provider", "infos", "code"),
    [
        ("acme", [("VIEW", "https://a.example/")], "paramError.openType"),
        ("acme", [("PREVIEW", "javascript:alert(1)")], "paramError.url"),
        ("acme", [("PREVIEW", "/relative")], "paramError.url"),
        ("acme", [("PREVIEW", "https://a.example/" + "x" * 2048)], "paramError.url"),
        ("acme", [("PREVIEW", "https://a.example/ b")], "paramError.url"),
        ("acme", [("PREVIEW", "http://[::1/")], "paramError.url"),
        ("", [("PREVIEW", "https://a.example/")], "paramError.provider"),
        ("a\u202eb", [("PREVIEW", "https://a.example/")], "paramError.provider"),
        ("acme", [], "paramError.openInfos"),
        (
            "acme",
            [("PREVIEW", "https://a.example/"), ("PREVIEW", "https://b.example/")],
            "paramError.openInfos",
        ),
    ],
)
def test_bad_registrations_are_refused_and_change_nothing(
    st: Storage, provider: str, infos: list[tuple[str, str]], code: str
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    error = sdk_error(lambda: st.register_open_info(space.id, file.id, provider, infos))
    assert (error.code, error.statusCode) == (code, 400)
    assert "/_preview/" in st.open_info(space.id, file.id).url


def test_a_folder_takes_no_registration(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "docs")
    error = sdk_error(
        lambda: st.register_open_info(space.id, folder.id, "acme", [("EDIT", "https://a.example")])
    )
    assert error.code == "paramError.dentryId"


# --- the provider hook --------------------------------------------------------------------------


class OfficeStub:
    """An edit provider, as a WOPI server is: it opens Office documents."""

    def __init__(self) -> None:
        self.asked: list[previews.OpenRequest] = []

    async def open_url(self, request: previews.OpenRequest) -> previews.OpenInfo | None:
        self.asked.append(request)
        if request.extension != "docx":
            return None
        marked = request.water_mark
        return previews.OpenInfo(f"https://office.example/{request.open_type}", marked)


@pytest.mark.own_server
def test_a_provider_opens_files_after_registrations(st: Storage, server: LiveServer) -> None:
    stub = OfficeStub()
    server.services.previews.add_provider(stub)
    space = st.new_space()
    doc = st.upload(space.id, b"PK\x03\x04", "plan.docx")
    edit = st.open_info(space.id, doc.id, type="EDIT", water_mark=True)
    assert (edit.url, edit.has_water_mark) == ("https://office.example/EDIT", True)
    asked = stub.asked[-1]
    assert (asked.name, asked.version, asked.actor.union_id) == ("plan.docx", 1, st.union_id)
    assert st.open_info(space.id, doc.id).url == "https://office.example/PREVIEW"
    text = st.upload(space.id, b"hi", "a.txt")
    assert "/_preview/" in st.open_info(space.id, text.id).url  # the provider passed
    st.register_open_info(space.id, doc.id, "app", [("EDIT", "https://mine.example/")])
    assert st.open_info(space.id, doc.id, type="EDIT").url == "https://mine.example/"


def test_behind_an_https_address_the_cookie_is_secure(
    make_server: Callable[..., LiveServer],
) -> None:
    plain = make_server()
    sdk = Sdk(plain.endpoint)
    st = Storage.of(plain, sdk, new_tenant(plain, sdk))
    space = st.new_space()
    file = st.upload(space.id, b"hello", "a.txt")
    assert "secure" not in httpx.get(st.open_info(space.id, file.id).url).headers["set-cookie"]
    behind = make_server(public_url="https://files.example/")  # the same store, behind TLS
    other = Storage(behind, Sdk(behind.endpoint), st.token, st.union_id)
    url = other.open_info(space.id, file.id).url
    assert url.startswith("https://files.example/_preview/")
    page = httpx.get(behind.url + urlsplit(url).path)
    assert page.status_code == 200 and "; secure" in page.headers["set-cookie"].lower()
