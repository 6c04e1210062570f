"""dingstore's space list, ``GET /dingstore/v1/spaces`` (docs/files.md#the-space-list), through
HTTP: what an operator sees (GetSpace's rule: an org admin every space of the org, anyone else
the spaces they created or own or hold a live grant in), never another org's; the Space shape
of GetSpace; pages; the storage API's errors. The listing's SQL runs on both shapes in one test,
the rest on the embedded shape."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.store import schema
from tests.api.test_task_extensions import ext, fails, ok, user
from tests.conftest import Tenant, new_tenant
from tests.live import LiveServer, http
from tests.storage import Storage


def listed(st: Storage, **params: object) -> list[str]:
    """Every space the operator is shown, a page of ``maxResults`` at a time (every page but
    the last full)."""
    seen: list[str] = []
    token = None
    while True:
        query = {**params, **({"nextToken": token} if token else {})}
        page = ok(ext(st, "GET", "/spaces", params=query))
        seen += [s["id"] for s in page["spaces"]]
        token = page.get("nextToken")
        if not token:
            return seen
        assert len(page["spaces"]) == params.get("maxResults", 50)


def test_the_space_list_pages_newest_first(st: Storage) -> None:
    made = [st.new_space().id for _ in range(5)]
    newest_first = made[::-1]
    assert listed(st) == newest_first
    assert listed(st, maxResults=2) == newest_first  # three pages
    assert listed(st, maxResults=5) == newest_first  # one page, no token
    one = ok(ext(st, "GET", "/spaces", params={"maxResults": 1}))
    assert [s["id"] for s in one["spaces"]] == newest_first[:1] and one["nextToken"]
    for bad in (0, 101, -1):
        fails(ext(st, "GET", "/spaces", params={"maxResults": bad}), 400, "paramError.maxResults")
    fails(ext(st, "GET", "/spaces", params={"nextToken": "x"}), 400, "paramError.nextToken")


@pytest.mark.shapes("embedded")
def test_each_space_is_getspaces_answer(st: Storage) -> None:
    space = st.new_space(quota=1000, name="reports")
    st.upload(space.id, b"abc", "a.txt")
    [shown] = ok(ext(st, "GET", "/spaces"))["spaces"]
    assert shown == st.raw_ok("GET", f"/spaces/{space.id}")["space"]
    assert (shown["name"], shown["usedQuota"], shown["quota"]) == ("reports", 3, 1000)


@pytest.mark.shapes("embedded")
def test_a_user_sees_only_the_spaces_they_may_read(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    bob = user(server, tenant, "bob")
    as_bob = st.as_user(bob)
    ungranted = st.new_space().id
    on_a_folder = st.new_space().id
    folder = st.add_folder(on_a_folder, "shared")
    st.add_permission(on_a_folder, folder.id, "READER", [("USER", bob)])
    to_the_org = st.new_space().id
    st.add_permission(to_the_org, "0", "EDITOR", [("ORG", tenant.corp_id)])
    expiring = st.new_space(owner_type="APP").id  # an APP space's grants are temporary
    st.add_permission(expiring, "0", "READER", [("USER", bob)], duration=60)
    bobs_own = as_bob.new_space().id

    mine = [bobs_own, expiring, to_the_org, on_a_folder]
    assert listed(as_bob) == mine
    assert listed(as_bob, maxResults=1) == mine
    for space_id in mine:  # GetSpace answers each one; and refuses the one not shown
        assert as_bob.raw_ok("GET", f"/spaces/{space_id}")["space"]["id"] == space_id
    fails(as_bob.raw("GET", f"/spaces/{ungranted}"), 403, "permissionDenied")
    # the org's admin sees them all
    assert listed(st) == [bobs_own, expiring, to_the_org, on_a_folder, ungranted]
    # a grant that has expired shows nothing
    server.clock.advance(61)
    assert listed(as_bob) == [bobs_own, to_the_org, on_a_folder]
    # a user of no grant, no space of their own: the org grant only
    carol = user(server, tenant, "carol")
    assert listed(st.as_user(carol)) == [to_the_org]


@pytest.mark.shapes("embedded")
def test_another_orgs_spaces_are_never_listed(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    bob = user(server, tenant, "bob")
    mine = st.new_space().id
    other = new_tenant(server, st.sdk)
    theirs = Storage.of(server, st.sdk, other)
    their_space = theirs.new_space().id
    assert listed(st) == [mine]
    assert listed(theirs) == [their_space]
    assert listed(st.as_user(bob)) == []
    # No API call grants a user of one org a role in another's space; a grant row naming bob
    # there (put in the store by hand) still shows him nothing of that org.
    now = server.clock.now_ms()
    grant = sa.insert(schema.permissions).values(
        space_id=int(their_space), dentry_id=0, member=f"USER:{bob}", role_id="READER", rank=1,
        member_type="USER", member_id=bob, operator_id=other.admin_id, created_at=now,
        modified_at=now,
    )  # fmt: skip
    server.run(_execute(server.services.db, grant))
    assert listed(st.as_user(bob)) == []
    # the other org's app acting for this org's user: refused as GetSpace refuses it
    response = ext(theirs.as_user(bob), "GET", "/spaces")
    getspace = theirs.as_user(bob).raw("GET", f"/spaces/{their_space}")
    assert response.status_code == getspace.status_code >= 400
    assert response.json()["code"] == getspace.json()["code"]


async def _execute(db: Any, stmt: Any) -> None:
    async with db.write() as conn:
        await conn.execute(stmt)


@pytest.mark.shapes("embedded")
def test_the_space_list_takes_getspaces_token_and_operator(server: LiveServer, st: Storage) -> None:
    no_token = http.get(f"{server.url}/dingstore/v1/spaces", params={"unionId": st.union_id})
    fails(no_token, 400, "InvalidAuthentication")
    no_operator = http.get(
        f"{server.url}/dingstore/v1/spaces", headers={"x-acs-dingtalk-access-token": st.token}
    )
    getspace = http.get(
        f"{server.url}/v1.0/storage/spaces/1", headers={"x-acs-dingtalk-access-token": st.token}
    )
    assert no_operator.status_code == getspace.status_code >= 400
    assert no_operator.json()["code"] == getspace.json()["code"]
    # documented in /openapi.json (what make fuzz runs over)
    listing = http.get(f"{server.url}/openapi.json").json()["paths"]["/dingstore/v1/spaces"]
    assert listing["get"]["operationId"] and {"maxResults", "nextToken", "unionId"} <= {
        p["name"] for p in listing["get"]["parameters"]
    }
