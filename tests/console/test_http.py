"""The console's rules that need no browser, over HTTP: sign-in links are used once and expire,
sessions expire and sign out, every change needs the session's CSRF token, the headers forbid
inline script, and the console refuses what the API refuses the same user."""

from __future__ import annotations

import html
import json
import re

import httpx
import pytest

from tests.conftest import Tenant
from tests.console.conftest import csrf_of, link, sign_in, token_of
from tests.live import LiveServer
from tests.storage import Storage

pytestmark = pytest.mark.shapes("embedded")


def test_a_link_signs_in_once_and_sets_a_safe_cookie(
    server: LiveServer, st: Storage, web: httpx.Client
) -> None:
    path = link(server, st.union_id)
    page = web.get(path)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script>" not in page.text  # only <script src=...>
    done = web.post("/console/signin", data={"token": token_of(path)})
    assert done.status_code == 303
    cookie = done.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/console" in cookie
    assert web.get("/console/spaces").status_code == 200

    again = httpx.post(server.url + "/console/signin", data={"token": token_of(path)})
    assert again.status_code == 403
    assert "used already, or it expired" in again.text


def test_an_expired_link_and_an_expired_session_are_refused(
    server: LiveServer, st: Storage, web: httpx.Client
) -> None:
    stale = link(server, st.union_id)
    server.clock.advance(601)
    refused = web.post("/console/signin", data={"token": token_of(stale)})
    assert refused.status_code == 403

    sign_in(web, server, st.union_id)
    assert web.get("/console/spaces").status_code == 200
    server.clock.advance(12 * 3600 + 1)
    gone = web.get("/console/spaces")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/console/?")
    assert server.run(server.services.housekeeper.sweep())["console_sessions"] >= 2


def test_sign_out_ends_the_session(server: LiveServer, st: Storage, web: httpx.Client) -> None:
    sign_in(web, server, st.union_id)
    page = web.get("/console/spaces")
    cookie = web.cookies["dingstore_console"]
    assert web.post("/console/signout", data={"csrf": csrf_of(page.text)}).status_code == 303
    with httpx.Client(base_url=server.url, cookies={"dingstore_console": cookie}) as old:
        assert old.get("/console/spaces", follow_redirects=False).status_code == 303


def test_changes_without_the_csrf_token_are_refused(
    server: LiveServer, st: Storage, web: httpx.Client
) -> None:
    space = st.new_space()
    sign_in(web, server, st.union_id)
    page = web.get(f"/console/s/{space.id}/f/0")
    assert page.status_code == 200
    token = csrf_of(page.text)

    no_token = web.post(f"/console/s/{space.id}/f/0/folders", data={"name": "a"})
    wrong = web.post(f"/console/s/{space.id}/f/0/folders", data={"name": "a", "csrf": "x" * 64})
    upload = web.post(
        f"/console/s/{space.id}/uploads", json={"path": "a.txt", "size": 1, "parentId": "0"}
    )
    for refused in (no_token, wrong, upload):
        assert refused.status_code == 403
    assert st.list_dentries(space.id, "0") == []

    made = web.post(f"/console/s/{space.id}/f/0/folders", data={"name": "a", "csrf": token})
    assert made.status_code == 303
    header = web.post(
        f"/console/s/{space.id}/f/0/folders", data={"name": "b"}, headers={"X-CSRF-Token": token}
    )
    assert header.status_code == 303
    assert sorted(d.name for d in st.list_dentries(space.id, "0")) == ["a", "b"]


def test_the_console_refuses_what_the_api_refuses_the_user(
    server: LiveServer, st: Storage, tenant: Tenant, web: httpx.Client
) -> None:
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    space = st.new_space()
    sign_in(web, server, bob.union_id)
    assert web.get("/console/spaces").status_code == 200
    assert str(space.id) not in web.get("/console/spaces").text  # not his to see
    denied = web.get(f"/console/s/{space.id}/f/0")
    assert denied.status_code == 403
    assert "You do not have permission" in denied.text
    token = csrf_of(web.get("/console/spaces").text)
    refused = web.post(f"/console/s/{space.id}/f/0/folders", data={"name": "x", "csrf": token})
    assert refused.status_code == 403
    assert st.list_dentries(space.id, "0") == []


def test_unsigned_requests_are_sent_to_sign_in(server: LiveServer, web: httpx.Client) -> None:
    assert web.get("/console/spaces").status_code == 303
    home = web.get("/console/")
    assert home.status_code == 200 and "ask an administrator for a sign-in link" in home.text
    assert web.post("/console/bin", data={"action": "clear"}).status_code == 401


def test_a_task_streams_its_progress_until_success(
    server: LiveServer, st: Storage, tenant: Tenant, web: httpx.Client
) -> None:
    space = st.new_space()
    top = st.add_folder(space.id, "top")
    for i in range(3):
        st.upload(space.id, b"x" * i, f"f{i}.txt", parent_id=top.id)
    copied = st.copy(space.id, top.id, space.id, "0")
    assert copied.task_id
    sign_in(web, server, st.union_id)
    with web.stream("GET", f"/console/live/tasks?ids={copied.task_id}") as events:
        assert events.headers["content-type"].startswith("text/event-stream")
        body = "".join(events.iter_text())
    tasks = [json.loads(line[6:]) for line in body.splitlines() if line.startswith('data: {"')]
    assert tasks[-1]["status"] == "SUCCESS" and tasks[-1]["percent"] == 100
    assert tasks[-1]["success"] == tasks[-1]["total"] == 4
    assert body.rstrip().endswith("event: done\ndata: {}")
    listed = web.get(f"/console/tasks?ids={copied.task_id}")
    assert f'data-task="{copied.task_id}"' in listed.text and "SUCCESS" in listed.text

    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    with httpx.Client(base_url=server.url) as other:
        sign_in(other, server, bob.union_id)
        assert other.get(f"/console/live/tasks?ids={copied.task_id}").status_code == 403


def test_a_folder_pages_by_keyset(server: LiveServer, st: Storage, web: httpx.Client) -> None:
    space = st.new_space()
    for i in range(53):
        st.add_folder(space.id, f"d{i:02}")
    sign_in(web, server, st.union_id)
    first = web.get(f"/console/s/{space.id}/f/0?sort=NAME&dir=ASC").text
    assert first.count('name="id"') == 50 and "d49" in first and "d50" not in first
    after = re.search(r'id="next-page" href="([^"]+)"', first)
    assert after is not None
    second = web.get(html.unescape(after.group(1))).text
    assert second.count('name="id"') == 3 and "d52" in second and "next-page" not in second


def test_downloads_of_files_and_their_versions(
    server: LiveServer, st: Storage, tenant: Tenant, web: httpx.Client
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"first", "a.txt")
    info = st.upload_info(space.id)
    st.put(info, b"second")
    st.commit(space.id, info.upload_key, "a.txt", "0", overwrite_dentry_id=file.id)
    sign_in(web, server, st.union_id)
    page = web.get(f"/console/s/{space.id}/d/{file.id}").text
    assert "Download version 1" in page and "Revert to version 1" in page
    for query, body in (("", b"second"), ("?version=1", b"first")):
        sent = web.get(f"/console/download/{space.id}/{file.id}{query}")
        assert sent.status_code == 200 and sent.content == body
        assert sent.headers["content-disposition"] == "attachment; filename*=UTF-8''a.txt"

    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    with httpx.Client(base_url=server.url) as other:
        sign_in(other, server, bob.union_id)
        assert other.get(f"/console/download/{space.id}/{file.id}").status_code == 403


def test_a_form_over_the_body_limit_is_refused_in_words(
    server: LiveServer, st: Storage, web: httpx.Client
) -> None:
    space = st.new_space()
    sign_in(web, server, st.union_id)
    token = csrf_of(web.get(f"/console/s/{space.id}/f/0").text)
    big = web.post(
        f"/console/s/{space.id}/f/0/folders",
        data={"csrf": token, "name": "a", "pad": "x" * (2 * 1024 * 1024)},
    )
    assert big.status_code == 413
    assert big.headers["content-type"].startswith("text/html")
    assert "The request body is larger than" in big.text
    assert st.list_dentries(space.id, "0") == []


def test_every_console_post_needs_the_csrf_token(
    server: LiveServer, st: Storage, web: httpx.Client
) -> None:
    from dingstore.api.console import router

    space = st.new_space()
    sign_in(web, server, st.union_id)
    posts = [
        r.path
        for r in router.routes
        if "POST" in (getattr(r, "methods", None) or ()) and r.path != "/console/signin"
    ]
    assert len(posts) >= 15
    for path in posts:
        concrete = re.sub(r"\{version:int\}", "1", path)
        concrete = re.sub(r"\{space\}", str(space.id), concrete)
        concrete = re.sub(r"\{[a-z]+\}", "0", concrete)
        refused = web.post(concrete, data={"name": "a", "action": "clear"})
        assert refused.status_code == 403, (path, refused.status_code)
        assert "did not come from the console" in refused.text, path
    assert st.list_dentries(space.id, "0") == []


def test_a_sign_in_posted_from_another_site_is_refused(
    server: LiveServer, st: Storage, web: httpx.Client
) -> None:
    path = link(server, st.union_id)
    crossed = web.post(
        "/console/signin", data={"token": token_of(path)}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert crossed.status_code == 403 and "not from another site" in crossed.text
    assert "set-cookie" not in crossed.headers
    same = web.post(
        "/console/signin", data={"token": token_of(path)}, headers={"Sec-Fetch-Site": "same-origin"}
    )
    assert same.status_code == 303  # the refused post did not use the link up


def test_pages_name_the_users_beside_their_ids(
    server: LiveServer, st: Storage, tenant: Tenant, web: httpx.Client
) -> None:
    carol = server.run(server.services.identity.create_user(tenant.corp_id, "Carol Chen"))
    stranger = "union-id-of-nobody"
    space = st.new_space()
    file = st.upload(space.id, b"x", "a.txt")
    st.add_permission(space.id, file.id, "READER", [("USER", carol.union_id)])
    sign_in(web, server, st.union_id)

    page = web.get(f"/console/s/{space.id}/d/{file.id}").text
    assert "<dt>Size</dt><dd>1 byte</dd>" in page  # not "1 Byte (1 bytes)"
    big = st.upload(space.id, b"y" * 1500, "b.txt")
    big_page = web.get(f"/console/s/{space.id}/d/{big.id}").text
    assert "<dt>Size</dt><dd>1.5 kB (1500 bytes)</dd>" in big_page
    made_by = re.search(r"<dt>Created by</dt><dd>(.*?)</dd>", page)
    assert made_by and made_by.group(1) == f'alice <span class="id">{st.union_id}</span>'
    as_carol = Storage(server, st.sdk, st.token, carol.union_id)
    mine = as_carol.new_space(owner_type="USER")  # a USER space is its operator's
    listed = web.get("/console/spaces").text
    assert re.search(
        rf'<a href="/console/s/{mine.id}/f/0">.*?</a></td>\s*<td>Carol Chen <span class="id">',
        listed,
    )
    sharing = web.get(f"/console/s/{space.id}/share/{file.id}").text
    assert f'Carol Chen <span class="id">{carol.union_id}</span>' in sharing
    # an id that is no user of the org is shown as it is, and nobody of another org is named
    other = server.run(server.services.identity.create_org("Elsewhere"))
    dave = server.run(server.services.identity.create_user(other.corp_id, "Dave"))
    assert server.run(
        server.services.identity.names(tenant.corp_id, [carol.union_id, dave.union_id, stranger])
    ) == {carol.union_id: "Carol Chen"}


def test_a_folder_shared_deep_in_a_space_opens(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    """A user granted a folder below others they may not read: its page and its files' pages
    open, the breadcrumbs name the folders above (as the path does) without a link, and those
    stay closed."""
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    space = st.new_space()
    above = st.add_folder(space.id, "private")
    shared = st.add_folder(space.id, "shared", above.id)
    file = st.upload(space.id, b"x", "f.txt", shared.id)
    st.add_permission(space.id, shared.id, "READER", [("USER", bob.union_id)])
    with httpx.Client(base_url=server.url) as web:
        sign_in(web, server, bob.union_id)
        page = web.get(f"/console/s/{space.id}/f/{shared.id}")
        assert page.status_code == 200, page.text
        assert "<h1>shared</h1>" in page.text and "f.txt" in page.text
        crumbs = re.search(r'<nav class="trail".*?</nav>', page.text, re.S)
        assert crumbs and f"Space {space.id}" in crumbs.group(0)
        assert '<span title="a folder you may not open">private</span>' in crumbs.group(0)
        assert f"/f/{above.id}" not in crumbs.group(0)
        assert web.get(f"/console/s/{space.id}/d/{file.id}").status_code == 200
        assert web.get(f"/console/s/{space.id}/f/{above.id}").status_code == 403
        # the space's own page lists what was shared in it, since its root is closed to bob
        root = web.get(f"/console/s/{space.id}/f/0")
        assert root.status_code == 200, root.text
        listed = re.search(r'<table class="list" id="shared">.*?</table>', root.text, re.S)
        assert listed and f'href="/console/s/{space.id}/f/{shared.id}"' in listed.group(0)
        assert "/private/shared" in listed.group(0) and f"/f/{above.id}" not in listed.group(0)
        # once what was shared went to the recycle bin, bob holds nothing in the space
        st.delete(space.id, shared.id)
        assert web.get(f"/console/s/{space.id}/f/0").status_code == 403


def test_the_picker_at_a_closed_root_offers_only_what_was_shared(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    """In a space whose root bob may not open, the folder picker lists the folders shared with
    him there and offers no "Copy here"; with only a file shared, it says so; a copy posted into
    that root anyway is refused as the API refuses it; with nothing shared, the picker refuses."""
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    theirs, closed = st.new_space(), st.new_space()
    st.add_permission(theirs.id, "0", "EDITOR", [("USER", bob.union_id)])
    mine = st.upload(theirs.id, b"x", "mine.txt")
    shared_file = st.upload(closed.id, b"y", "only.txt")
    st.add_permission(closed.id, shared_file.id, "EDITOR", [("USER", bob.union_id)])
    with httpx.Client(base_url=server.url) as web:
        sign_in(web, server, bob.union_id)
        query = {"id": mine.id, "action": "copy", "from": theirs.id, "s": closed.id}
        page = web.get("/console/pick", params=query)
        assert page.status_code == 200, page.text
        assert "No folder here is shared with you." in page.text
        assert "Copy here" not in page.text and "only.txt" not in page.text
        form = {"id": mine.id, "action": "copy", "from": theirs.id, "s": closed.id, "f": "0"}
        refused = web.post("/console/pick", data={**form, "csrf": csrf_of(page.text)})
        assert refused.status_code == 403
        assert [d.name for d in st.list_dentries(closed.id, "0")] == ["only.txt"]
        nothing = st.new_space()
        assert web.get("/console/pick", params={**query, "s": nothing.id}).status_code == 403
