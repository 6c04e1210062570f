"""GetWebOfficeUrl and RefreshWebOfficeToken through the official SDK, and the WOPI host they
point an office server at (docs/previews.md, "Online editing"). The office server is played by
``tests.office.Office``: its discovery is served from a thread, and it calls the WOPI
endpoints with the token as Collabora would, each call signed with its proof key."""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from html import escape
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image

from dingstore.store import events, schema
from tests.api.test_thumbnails import BLUE, RED, color_of, fetch, near, pdf_bytes
from tests.conftest import new_tenant, sdk_error
from tests.live import LiveServer, Sdk, http
from tests.office import EDIT, ODT, PDF, VIEW, Office
from tests.storage import Storage

DOCX = b"PK\x03\x04 a word document"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def office(server: LiveServer) -> Iterator[Office]:
    with Office(server.clock.now_ms) as office:
        yield office


@pytest.fixture
def editing(make_server: Callable[..., LiveServer], office: Office) -> LiveServer:
    """A server with online editing: its discovery is ``office``'s."""
    return make_server(wopi_discovery_url=office.discovery_url)


@pytest.fixture
def ed(editing: LiveServer) -> Storage:
    """The editing server's org, acting through the SDK as its admin."""
    sdk = Sdk(editing.endpoint)
    return Storage.of(editing, sdk, new_tenant(editing, sdk))


def _wopi_src(url: str) -> str:
    (src,) = parse_qs(urlsplit(url).query)["WOPISrc"]
    return src


def _user(st: Storage, name: str) -> Storage:
    services = st.server.services
    corp_id = st.actor().corp_id
    return st.as_user(st.server.run(services.identity.create_user(corp_id, name)).union_id)


def test_without_an_office_server_editing_is_not_configured(st: Storage) -> None:
    space = st.new_space()
    file = st.upload(space.id, DOCX, "a.docx")
    error = sdk_error(lambda: st.web_office_url(space.id, file.id))
    assert (error.statusCode, error.code) == (400, "dentryEditNotSupport")
    assert "not configured" in error.data["message"]
    error = sdk_error(lambda: st.refresh_web_office_token(space.id, file.id, "a", "b"))
    assert (error.statusCode, error.code) == (400, "dentryEditNotSupport")
    wopi = http.get(f"{st.server.url}/wopi/files/{file.id}?access_token=x")
    assert (wopi.status_code, wopi.json()["code"]) == (404, "NotFound")


def test_an_editor_saves_new_versions_under_its_lock(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "report.docx")
    opened = ed.web_office_url(space.id, file.id)
    src = _wopi_src(opened.web_office_url)
    assert src == f"{ed.server.url}/wopi/files/{file.id}"
    assert opened.web_office_url.startswith(EDIT + "WOPISrc=")  # the external zone's edit
    token = opened.web_office_access_token
    assert token and opened.web_office_refresh_token
    assert token not in opened.web_office_url  # the page opening the editor POSTs it

    info = office.call("GET", src, token)
    assert info.status_code == 200, info.text
    body = info.json()
    assert body["BaseFileName"] == "report.docx" and body["Size"] == len(DOCX)
    assert body["Version"] == "1" and body["OwnerId"] == ed.union_id == body["UserId"]
    assert body["UserFriendlyName"] == "alice"
    assert body["UserCanWrite"] is True and body["SupportsLocks"] and body["SupportsUpdate"]
    assert "DisableExport" not in body
    got = office.call("GET", src, token, contents=True)
    assert (got.status_code, got.content) == (200, DOCX)
    assert got.headers["X-WOPI-ItemVersion"] == "1"

    assert office.call("POST", src, token, override="LOCK", lock="L1").status_code == 200
    again = office.call("POST", src, token, override="LOCK", lock="L1")  # the same: a refresh
    assert again.status_code == 200
    saved = office.call("POST", src, token, contents=True, override="PUT", lock="L1", body=b"v2")
    assert saved.status_code == 200, saved.text
    assert saved.headers["X-WOPI-ItemVersion"] == "2"
    assert [v.version for v in ed.versions(space.id, file.id)] == [2, 1]
    assert ed.download(space.id, file.id) == b"v2"
    assert office.call("GET", src, token).json()["Version"] == "2"

    # Another lock is refused with the file's lock named, and nothing changes.
    wrong = office.call("POST", src, token, contents=True, override="PUT", lock="L2", body=b"x")
    assert (wrong.status_code, wrong.headers["X-WOPI-Lock"]) == (409, "L1")
    assert wrong.json()["code"] == "wopiLockMismatch"
    other = office.call("POST", src, token, override="LOCK", lock="L2")
    assert (other.status_code, other.headers["X-WOPI-Lock"]) == (409, "L1")
    assert office.call("POST", src, token, override="UNLOCK", lock="L2").status_code == 409
    assert ed.download(space.id, file.id) == b"v2"
    got_lock = office.call("POST", src, token, override="GET_LOCK")
    assert (got_lock.status_code, got_lock.headers["X-WOPI-Lock"]) == (200, "L1")

    relock = office.call("POST", src, token, override="LOCK", lock="L3", old_lock="L1")
    assert relock.status_code == 200  # UnlockAndRelock
    assert office.call("POST", src, token, override="REFRESH_LOCK", lock="L3").status_code == 200
    assert office.call("POST", src, token, override="UNLOCK", lock="L3").status_code == 200
    assert office.call("POST", src, token, override="GET_LOCK").headers["X-WOPI-Lock"] == ""
    # Unlocked and not empty: a save is refused, naming no lock.
    unlocked = office.call("POST", src, token, contents=True, override="PUT", body=b"x")
    assert (unlocked.status_code, unlocked.headers["X-WOPI-Lock"]) == (409, "")
    assert [v.version for v in ed.versions(space.id, file.id)] == [2, 1]

    assert office.call("POST", src, token, override="PUT_RELATIVE").status_code == 501
    assert office.call("POST", src, token, override="LOCK").status_code == 400  # no lock id


def test_a_lock_holds_at_most_1024_characters(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, b"0123456789", "a.docx")
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    long = office.call("POST", src, token, override="LOCK", lock="L" * 1025)
    assert long.status_code == 400, long.text
    held = office.call("POST", src, token, override="GET_LOCK")
    assert held.headers["X-WOPI-Lock"] == ""  # nothing was locked
    assert office.call("POST", src, token, override="LOCK", lock="L" * 1024).status_code == 200


def test_a_lock_expires_after_30_minutes(
    make_server: Callable[..., LiveServer], office: Office
) -> None:
    server = make_server(wopi_discovery_url=office.discovery_url, wopi_token_ttl=7200)
    sdk = Sdk(server.endpoint)
    ed = Storage.of(server, sdk, new_tenant(server, sdk))
    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "a.docx")
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    assert office.call("POST", src, token, override="LOCK", lock="A").status_code == 200
    server.clock.advance(29 * 60)
    assert office.call("POST", src, token, override="LOCK", lock="B").status_code == 409
    assert office.call("POST", src, token, override="REFRESH_LOCK", lock="A").status_code == 200
    server.clock.advance(29 * 60)  # refreshed: 29 minutes after the refresh, still held
    assert office.call("POST", src, token, override="LOCK", lock="B").status_code == 409
    server.clock.advance(2 * 60)
    assert office.call("POST", src, token, override="LOCK", lock="B").status_code == 200


def test_without_editor_the_session_is_read_only(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "a.docx")
    reader, downloader, stranger = _user(ed, "rita"), _user(ed, "dan"), _user(ed, "sam")
    ed.add_permission(space.id, file.id, "READER", [("USER", reader.union_id)])
    ed.add_permission(space.id, file.id, "DOWNLOADER", [("USER", downloader.union_id)])

    error = sdk_error(lambda: stranger.web_office_url(space.id, file.id))
    assert (error.statusCode, error.code) == (403, "permissionDenied")

    opened = reader.web_office_url(space.id, file.id)
    assert opened.web_office_url.startswith(VIEW + "WOPISrc=")  # the view action
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    body = office.call("GET", src, token).json()
    assert body["UserCanWrite"] is False and body["ReadOnly"] is True
    assert body["DisableExport"] is True and body["HidePrintOption"] is True
    assert office.call("GET", src, token, contents=True).content == DOCX
    put = office.call("POST", src, token, contents=True, override="PUT", body=b"no")
    assert (put.status_code, put.json()["code"]) == (401, "wopiInvalidToken")
    assert office.call("POST", src, token, override="LOCK", lock="L").status_code == 401
    assert [v.version for v in ed.versions(space.id, file.id)] == [1]

    down = downloader.web_office_url(space.id, file.id)
    body = office.call("GET", _wopi_src(down.web_office_url), down.web_office_access_token).json()
    assert body["UserCanWrite"] is False and "DisableExport" not in body

    # An editor's token loses writing with the role: checked again at every call.
    editor = _user(ed, "eve")
    ed.add_permission(space.id, file.id, "EDITOR", [("USER", editor.union_id)])
    mine = editor.web_office_url(space.id, file.id)
    src, token = _wopi_src(mine.web_office_url), mine.web_office_access_token
    assert office.call("GET", src, token).json()["UserCanWrite"] is True
    ed.delete_permission(space.id, file.id, "EDITOR", [("USER", editor.union_id)])
    assert office.call("GET", src, token).status_code == 404  # no role left: WOPI's 404
    ed.add_permission(space.id, file.id, "READER", [("USER", editor.union_id)])
    assert office.call("GET", src, token).json()["UserCanWrite"] is False
    assert office.call("POST", src, token, override="LOCK", lock="L").status_code == 404


def test_tokens_expire_and_a_refresh_token_works_once(
    make_server: Callable[..., LiveServer], office: Office
) -> None:
    server = make_server(wopi_discovery_url=office.discovery_url, wopi_refresh_ttl=3600)
    sdk = Sdk(server.endpoint)
    ed = Storage.of(server, sdk, new_tenant(server, sdk))
    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "a.docx")
    other = ed.upload(space.id, DOCX, "b.docx")
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    elsewhere = _wopi_src(ed.web_office_url(space.id, other.id).web_office_url)
    assert office.call("GET", elsewhere, token).status_code == 401  # another file's token
    assert office.call("GET", src, token + "x").status_code == 401
    assert office.call("GET", src, token).status_code == 200
    missing = ed.raw("GET", f"/spaces/{space.id}/dentries/{file.id}/refreshWebOfficeToken")
    assert (missing.status_code, missing.json()["code"]) == (
        400,
        "paramError.webOfficeAccessToken",
    )
    forged = ed.raw(
        "GET",
        f"/spaces/{space.id}/dentries/{file.id}/refreshWebOfficeToken",
        params={"webOfficeAccessToken": "v1.e30.00", "webOfficeRefreshToken": "x"},
    )
    assert forged.json()["code"] == "paramError.webOfficeAccessToken"

    ed.server.clock.advance(1801)  # past the access token's 30 minutes
    expired = office.call("GET", src, token)
    assert (expired.status_code, expired.json()["code"]) == (401, "wopiInvalidToken")

    fresh = ed.refresh_web_office_token(space.id, file.id, token, opened.web_office_refresh_token)
    assert fresh.web_office_access_token != token
    assert office.call("GET", src, fresh.web_office_access_token).status_code == 200
    error = sdk_error(  # spent
        lambda: ed.refresh_web_office_token(
            space.id, file.id, token, opened.web_office_refresh_token
        )
    )
    assert (error.statusCode, error.code) == (400, "paramError.webOfficeRefreshToken")
    error = sdk_error(  # the new refresh token with another access token than its own
        lambda: ed.refresh_web_office_token(
            space.id, file.id, token, fresh.web_office_refresh_token
        )
    )
    assert error.code == "paramError.webOfficeRefreshToken"
    error = sdk_error(  # for another file
        lambda: ed.refresh_web_office_token(
            space.id, other.id, fresh.web_office_access_token, fresh.web_office_refresh_token
        )
    )
    assert error.code == "paramError.webOfficeAccessToken"
    again = ed.refresh_web_office_token(  # the refused calls spent nothing
        space.id, file.id, fresh.web_office_access_token, fresh.web_office_refresh_token
    )
    assert office.call("GET", src, again.web_office_access_token).status_code == 200
    ed.server.clock.advance(3601)  # past the refresh token's life (an hour here)
    error = sdk_error(
        lambda: ed.refresh_web_office_token(
            space.id, file.id, again.web_office_access_token, again.web_office_refresh_token
        )
    )
    assert error.code == "paramError.webOfficeRefreshToken"


def test_calls_must_carry_the_office_servers_proof(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "a.docx")
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    assert office.call("GET", src, token).status_code == 200
    assert office.call("GET", src, token, signed=False).status_code == 401
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert office.call("GET", src, token, key=forged).status_code == 401
    stale = ed.server.clock.now_ms() - 21 * 60 * 1000  # stamped 21 minutes ago
    assert office.call("GET", src, token, stamped_ms=stale).status_code == 401
    assert office.call("GET", src, token).status_code == 200


def test_the_action_follows_the_file_type(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    pdf = ed.upload(space.id, b"%PDF-1.7", "a.pdf")  # only a view action
    assert ed.web_office_url(space.id, pdf.id).web_office_url.startswith(
        PDF.split("?")[0] + "?WOPISrc="  # Microsoft's placeholders dropped
    )
    odt = ed.upload(space.id, b"odt", "a.odt")  # by MIME type (Collabora's apps)
    assert ed.web_office_url(space.id, odt.id).web_office_url.startswith(ODT + "WOPISrc=")
    other = ed.upload(space.id, b"?", "a.xyz")
    error = sdk_error(lambda: ed.web_office_url(space.id, other.id))
    assert (error.statusCode, error.code) == (400, "dentryExtensionNotSupport")
    folder = ed.add_folder(space.id, "docs")
    error = sdk_error(lambda: ed.web_office_url(space.id, folder.id))
    assert error.code == "paramError.dentryId"
    assert office.fetches == 1  # the discovery is cached


def test_an_empty_file_takes_a_save_without_a_lock(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, b"", "new.docx")
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    saved = office.call("POST", src, token, contents=True, override="PUT", body=DOCX)
    assert saved.status_code == 200, saved.text
    assert ed.download(space.id, file.id) == DOCX
    assert ed.used_quota(space.id) == len(DOCX)


def test_a_save_past_the_quota_changes_nothing(ed: Storage, office: Office) -> None:
    space = ed.new_space(quota=20)
    file = ed.upload(space.id, b"0123456789", "a.docx")
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    assert office.call("POST", src, token, override="LOCK", lock="L").status_code == 200
    big = office.call("POST", src, token, contents=True, override="PUT", lock="L", body=b"x" * 15)
    assert (big.status_code, big.json()["code"]) == (400, "spaceQuotaInsufficient")
    assert [v.version for v in ed.versions(space.id, file.id)] == [1]
    assert ed.used_quota(space.id) == 10
    assert _unreferenced_blobs(ed) == 1  # the bytes stored for it: left to collection
    fits = office.call("POST", src, token, contents=True, override="PUT", lock="L", body=b"y" * 9)
    assert fits.status_code == 200 and ed.used_quota(space.id) == 19


def test_a_save_over_the_largest_object_is_413_and_changes_nothing(
    make_server: Callable[..., LiveServer], office: Office
) -> None:
    server = make_server(wopi_discovery_url=office.discovery_url, blob_max_object_size=16)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space = st.new_space()
    file = st.upload(space.id, b"0123456789", "a.docx")
    opened = st.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    assert office.call("POST", src, token, override="LOCK", lock="L").status_code == 200
    declared = office.call(
        "POST", src, token, contents=True, override="PUT", lock="L", body=b"x" * 17
    )
    assert declared.status_code == 413, declared.text  # refused on its Content-Length
    streamed = office.call(
        "POST", src, token, contents=True, override="PUT", lock="L", body=iter([b"y" * 9] * 2)
    )
    assert streamed.status_code == 413, streamed.text  # no length declared: cut off as it comes
    assert [v.version for v in st.versions(space.id, file.id)] == [1]
    assert st.download(space.id, file.id) == b"0123456789"
    fits = office.call("POST", src, token, contents=True, override="PUT", lock="L", body=b"z" * 16)
    assert fits.status_code == 200, fits.text
    assert st.download(space.id, file.id) == b"z" * 16


def _unreferenced_blobs(st: Storage) -> int:
    services = st.server.services

    async def count() -> int:
        async with services.db.read() as conn:
            query = sa.select(sa.func.count()).where(schema.blobs.c.refcount <= 0)
            return int((await conn.execute(query.select_from(schema.blobs))).scalar_one())

    return st.server.run(count())


def test_a_save_emits_the_update_a_new_version_does(ed: Storage, office: Office) -> None:
    services = ed.server.services
    corp_id, app_id = ed.actor().corp_id, ed.actor().app_id

    async def outbox() -> list[tuple[str, str, int, str, str]]:
        async with services.db.read() as conn:
            rows = await events.deliveries(conn, corp_id, app_id, limit=1000)
        return sorted(
            (r["event_type"], r["action"], int(r["dentry_id"]), r["name"], r["union_id"])
            for r in rows
        )

    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "a.docx")
    assert ed.subscribe_event("ORG", corp_id).success is True
    editor = _user(ed, "eve")
    ed.add_permission(space.id, file.id, "EDITOR", [("USER", editor.union_id)])
    opened = editor.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    office.call("POST", src, token, override="LOCK", lock="L")
    assert ed.server.run(outbox()) == []  # opening and locking change nothing
    saved = office.call("POST", src, token, contents=True, override="PUT", lock="L", body=b"v2")
    assert saved.status_code == 200
    assert ed.server.run(outbox()) == [
        (events.UPDATE, "version", int(file.id), "a.docx", editor.union_id)
    ]
    refused = office.call("POST", src, token, contents=True, override="PUT", lock="M", body=b"")
    assert refused.status_code == 409
    assert len(ed.server.run(outbox())) == 1


def test_the_host_page_posts_the_token_to_the_office_server_only(
    ed: Storage, office: Office
) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, b"sheet", "a.ods")
    opened = ed.web_office_url(space.id, file.id)
    assert opened.web_office_url.startswith(f"{office.live}/editor?WOPISrc=")
    page = http.get(f"{ed.server.url}/wopi/host", params={"src": opened.web_office_url})
    assert page.status_code == 200, page.text
    policy = page.headers["content-security-policy"]
    assert f"frame-src {office.live};" in policy and f"form-action {office.live};" in policy
    assert "script-src 'nonce-" in policy and "default-src 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert f'action="{escape(opened.web_office_url)}"' in page.text
    for elsewhere in ("https://evil.test/editor?", "javascript:alert(1)", ""):
        refused = http.get(f"{ed.server.url}/wopi/host", params={"src": elsewhere})
        assert (refused.status_code, refused.json()["code"]) == (400, "paramError.src")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium: run scripts/browser-tools")
def test_a_browser_opens_the_editor_with_the_token(
    ed: Storage, office: Office, tmp_path: Path
) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, b"sheet", "a.ods")
    services = ed.server.services
    link = ed.server.run(services.weboffice.editor_link(ed.actor(), space.id, file.id))
    assert "access_token=" in urlsplit(link).fragment and "access_token" not in urlsplit(link).query
    assert CHROMIUM is not None
    done = subprocess.run(
        [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000",
            "--dump-dom", link,
        ],
        capture_output=True, text=True, timeout=90, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'id="office_frame"' in done.stdout
    (form,) = office.posted  # the editor got the token by POST, as WOPI wants
    (token,) = form["access_token"]
    (ttl,) = form["access_token_ttl"]
    assert int(ttl) > ed.server.clock.now_ms()
    src = f"{ed.server.url}/wopi/files/{file.id}"
    info = office.call("GET", src, token)
    assert (info.status_code, info.json()["BaseFileName"]) == (200, "a.ods")


def test_open_info_opens_office_files_in_the_office_server(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, DOCX, "a.docx")

    def session(url: str) -> tuple[str, str]:
        """The editor URL and the access token of a host page link."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{ed.server.url}/wopi/host"
        (src,) = parse_qs(parts.query)["src"]
        (token,) = parse_qs(parts.fragment)["access_token"]
        return src, token

    src, token = session(ed.open_info(space.id, file.id, type="EDIT").url)
    assert src.startswith(EDIT + "WOPISrc=")
    assert office.call("GET", _wopi_src(src), token).json()["UserCanWrite"] is True
    src, token = session(ed.open_info(space.id, file.id).url)  # PREVIEW: the viewer
    assert src.startswith(VIEW + "WOPISrc=")
    assert office.call("GET", _wopi_src(src), token).json()["UserCanWrite"] is False

    text = ed.upload(space.id, b"hello", "a.txt")  # dingstore's own page shows it
    assert "/wopi/" not in ed.open_info(space.id, text.id, check_login=True).url
    ed.upload(space.id, b"v2", "a.docx", conflict_strategy="OVERWRITE")
    error = sdk_error(lambda: ed.open_info(space.id, file.id, type="EDIT", version=1))
    assert error.code == "dentryEditNotSupport"  # the office server opens the current version
    other = ed.upload(space.id, b"?", "a.xyz")
    error = sdk_error(lambda: ed.open_info(space.id, other.id, type="EDIT"))
    assert error.code == "dentryEditNotSupport"


def test_a_save_gets_its_thumbnail_as_a_new_version_does(ed: Storage, office: Office) -> None:
    space = ed.new_space()
    file = ed.upload(space.id, pdf_bytes(), "a.pdf")  # a red first page
    assert near(color_of(fetch(ed.wait_thumbnail(space.id, file.id).thumbnail.url)), RED)
    opened = ed.web_office_url(space.id, file.id)
    src, token = _wopi_src(opened.web_office_url), opened.web_office_access_token
    office.call("POST", src, token, override="LOCK", lock="L")
    blue = io.BytesIO()
    Image.new("RGB", (827, 1169), BLUE).save(blue, "PDF", resolution=100)
    saved = office.call(
        "POST", src, token, contents=True, override="PUT", lock="L", body=blue.getvalue()
    )
    assert saved.status_code == 200
    assert near(color_of(fetch(ed.wait_thumbnail(space.id, file.id).thumbnail.url)), BLUE)
