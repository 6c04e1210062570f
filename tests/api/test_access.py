"""Roles enforced on the tree, file, version, property and space operations through the official
SDK (docs/permissions.md, "What each operation needs"): a matrix of role by operation by where
the grant is (on the node, on an ancestor folder, on the whole space) by space type; each member
type; copy and move needing their roles on both ends; batches failing only the items denied;
ListAllDentries listing only what the operator reads, in full pages; a move dropping or carrying
grants; a temporary grant expiring. A denied call answers 403 ``permissionDenied`` and changes
nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from alibabacloud_dingtalk.storage_1_0 import models as m

import dingstore.service.dentries as dentry_service
from dingstore.store.schema import permissions as grants
from tests.api.test_batch import batch_copy, batch_move, batch_remove
from tests.conftest import Tenant, sdk_error
from tests.storage import Member, Storage, every_page

ROLES = (None, "READER", "DOWNLOADER", "EDITOR", "MANAGER")
RANK = {role: rank for rank, role in enumerate(ROLES)}


def new_user(st: Storage, tenant: Tenant, name: str) -> str:
    identity = st.server.services.identity
    return st.server.run(identity.create_user(tenant.corp_id, name)).union_id


def grant(st: Storage, space: Any, node: str, role: str, *members: Member) -> None:
    """Grant as the admin; an APP space's grants are temporary (an hour)."""
    duration = 3600 if space.owner_type == "APP" else None
    st.add_permission(space.id, node, role, list(members), duration=duration)


def denied(call: Callable[[], object]) -> None:
    err = sdk_error(call)
    assert (err.statusCode, err.code) == (403, "permissionDenied"), err.data


def state(st: Storage, space_id: str) -> tuple[Any, ...]:
    """What any change would show: every live node as sent (paths, versions, times, app
    properties), and the space's usage."""
    body = st.raw_ok(
        "POST", f"/spaces/{space_id}/dentries/listAll", json={"option": {"maxResults": 50}}
    )
    assert not body.get("nextToken")
    return body["dentries"], st.used_quota(space_id)


def denied_and_unchanged(st: Storage, space_id: str, call: Callable[[], object]) -> None:
    before = state(st, space_id)
    denied(call)
    assert state(st, space_id) == before


def ids(items: list[Any] | None) -> list[str]:
    return [d.id for d in items or []]


# --- SDK calls tests/storage.py does not wrap ----------------------------------------------


def set_property(u: Storage, space_id: str, dentry_id: str) -> Any:
    request = m.UpdateDentryAppPropertiesRequest(
        union_id=u.union_id,
        app_properties=[
            m.UpdateDentryAppPropertiesRequestAppProperties(
                name="q", value="2", visibility="PUBLIC"
            )
        ],
    )
    return u._api.update_dentry_app_properties_with_options(
        space_id, dentry_id, request, u._h(m.UpdateDentryAppPropertiesHeaders), u._rt
    )


def drop_property(u: Storage, space_id: str, dentry_id: str) -> Any:
    request = m.DeleteDentryAppPropertiesRequest(union_id=u.union_id, property_names=["p"])
    return u._api.delete_dentry_app_properties_with_options(
        space_id, dentry_id, request, u._h(m.DeleteDentryAppPropertiesHeaders), u._rt
    )


def revert(u: Storage, space_id: str, dentry_id: str, version: str) -> Any:
    request = m.RevertDentryVersionRequest(union_id=u.union_id)
    return u._api.revert_dentry_version_with_options(
        space_id, dentry_id, version, request, u._h(m.RevertDentryVersionHeaders), u._rt
    )


def upload_into(u: Storage, space_id: str, parent_id: str) -> Any:
    """GetFileUploadInfo with ``preCheckParam.parentId``."""
    check = m.GetFileUploadInfoRequestOptionPreCheckParam(parent_id=parent_id)
    return u.upload_info(space_id, pre_check=check)


# --- the matrix -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tree:
    """``/top/box/{sub/, f.txt}`` and ``/other`` in a new space; f.txt has two versions and a
    PUBLIC app property."""

    space: Any
    top: str
    box: str
    sub: str
    file: str
    other: str


def plant(st: Storage, owner_type: str) -> Tree:
    space = st.new_space(owner_type=owner_type)
    top = st.add_folder(space.id, "top").id
    box = st.add_folder(space.id, "box", top).id
    sub = st.add_folder(space.id, "sub", box).id
    file = st.upload(space.id, b"v1", "f.txt", box, app_properties=[("p", "1", "PUBLIC")]).id
    st.upload(space.id, b"v2", "f.txt", box, conflict_strategy="OVERWRITE")
    other = st.add_folder(space.id, "other").id
    return Tree(space, top, box, sub, file, other)


GRANTED_ON: dict[str, Callable[[Tree], list[str]]] = {
    "node": lambda t: [t.box, t.sub, t.file],  # each node an operation below touches
    "ancestor": lambda t: [t.top],
    "root": lambda t: ["0"],
}
READABLE: dict[str, Callable[[Tree], set[str]]] = {
    "node": lambda t: {t.box, t.sub, t.file},
    "ancestor": lambda t: {t.top, t.box, t.sub, t.file},
    "root": lambda t: {t.top, t.box, t.sub, t.file, t.other},
}


def operations(u: Storage, t: Tree) -> list[tuple[str, str, Callable[[], object]]]:
    """(operation, role it needs, the call) in an order where each still finds what it
    touches; the calls that change nothing come first."""
    s = t.space.id
    return [
        ("GetDentry", "READER", lambda: u.get_dentry(s, t.file)),
        ("ListDentries", "READER", lambda: u.list_dentries(s, t.box)),
        ("ListDentryVersions", "READER", lambda: u.versions(s, t.file)),
        ("GetFileDownloadInfo", "DOWNLOADER", lambda: u.download(s, t.file)),
        ("AddFolder", "EDITOR", lambda: u.add_folder(s, "new", t.box)),
        ("GetFileUploadInfo", "EDITOR", lambda: upload_into(u, s, t.box)),
        ("CommitFile", "EDITOR", lambda: u.upload(s, b"new", "g.txt", t.box)),
        ("CommitFile overwrite", "EDITOR",
         lambda: u.upload(s, b"v3", "f.txt", t.box, overwrite_dentry_id=t.file)),
        ("RenameDentry", "EDITOR", lambda: u.rename(s, t.file, "renamed.txt")),
        ("UpdateDentryAppProperties", "EDITOR", lambda: set_property(u, s, t.file)),
        ("DeleteDentryAppProperties", "EDITOR", lambda: drop_property(u, s, t.file)),
        ("RevertDentryVersion", "EDITOR", lambda: revert(u, s, t.file, "1")),
        ("CopyDentry", "EDITOR", lambda: u.copy(s, t.file, s, t.sub)),  # and DOWNLOADER
        ("MoveDentry", "EDITOR", lambda: u.move(s, t.file, s, t.sub)),
        ("DeleteDentry", "EDITOR", lambda: u.delete(s, t.file)),
    ]  # fmt: skip


@pytest.mark.parametrize("owner_type", ["USER", "APP"])
@pytest.mark.parametrize("where", ["node", "ancestor", "root"])
def test_each_role_may_do_what_it_ranks_for(
    st: Storage, tenant: Tenant, where: str, owner_type: str
) -> None:
    for role in ROLES:
        t = plant(st, owner_type)
        bob = new_user(st, tenant, f"bob-{role}")
        if role is not None:
            for node in GRANTED_ON[where](t):
                grant(st, t.space, node, role, ("USER", bob))
        u = st.as_user(bob)

        # the space, and the listings that show what the role reaches
        readable = READABLE[where](t) if role else set()
        if role:
            assert u.get_space(t.space.id).id == t.space.id
            assert set(ids(u.list_all(t.space.id))) == readable
        else:
            denied_and_unchanged(st, t.space.id, lambda u=u, t=t: u.get_space(t.space.id))
            denied(lambda u=u, t=t: u.list_all(t.space.id))
        items = u.get_dentries(t.space.id, [t.file, t.top, "424242"])
        assert [(i.dentry_id, i.success, i.error_code) for i in items] == [
            (n, n in readable, None if n in readable else "permissionDenied")
            for n in (t.file, t.top)
        ] + [("424242", False, "dentryNotExist")]

        for name, need, call in operations(u, t):
            if RANK[role] >= RANK[need]:
                call()
            else:
                before = state(st, t.space.id)
                denied(call)
                assert state(st, t.space.id) == before, (name, role)


MEMBERS: dict[str, Callable[[str, str], Member]] = {  # (corpId, bob) → the member bob is in
    "USER": lambda corp, bob: ("USER", bob),
    "ORG": lambda corp, bob: ("ORG", corp),
    "DEPT": lambda corp, bob: ("DEPT", "d7", corp),
    "TAG": lambda corp, bob: ("TAG", "ops", corp),
    "CONVERSATION": lambda corp, bob: ("CONVERSATION", "cid9"),
}


@pytest.mark.parametrize("member_type", list(MEMBERS))
def test_every_member_type_gives_its_role(st: Storage, tenant: Tenant, member_type: str) -> None:
    bob, carol = new_user(st, tenant, "bob"), new_user(st, tenant, "carol")
    member = MEMBERS[member_type](tenant.corp_id, bob)
    if member_type in ("DEPT", "TAG", "CONVERSATION"):
        identity = st.server.services.identity
        st.server.run(identity.add_to_group(tenant.corp_id, member_type, member[1], bob))
    for owner_type in ("USER", "APP"):
        t = plant(st, owner_type)
        grant(st, t.space, t.box, "EDITOR", member)
        u = st.as_user(bob)
        assert u.add_folder(t.space.id, "mine", t.box).path == "/top/box/mine"
        assert u.get_dentry(t.space.id, t.file).name == "f.txt"
        denied_and_unchanged(st, t.space.id, lambda u=u, t=t: u.add_folder(t.space.id, "x", t.top))
        if member_type != "ORG":  # every user of the org is in it
            c = st.as_user(carol)
            denied_and_unchanged(st, t.space.id, lambda c=c, t=t: c.get_dentry(t.space.id, t.file))


# --- copy, move, upload: the roles on both ends -------------------------------------------


def test_copy_needs_download_on_a_file_read_on_a_folder_and_edit_on_the_target(
    st: Storage, tenant: Tenant
) -> None:
    source, target = st.new_space(), st.new_space()
    empty = st.add_folder(source.id, "empty").id
    file = st.upload(source.id, b"data", "a.txt").id
    into = st.add_folder(target.id, "into").id
    bob = new_user(st, tenant, "bob")
    u = st.as_user(bob)
    grant(st, source, "0", "READER", ("USER", bob))
    grant(st, target, "0", "READER", ("USER", bob))

    for node in (empty, file):  # the target folder is read-only to bob
        denied_and_unchanged(st, target.id, lambda n=node: u.copy(source.id, n, target.id, into))
    grant(st, target, into, "EDITOR", ("USER", bob))
    denied_and_unchanged(st, target.id, lambda: u.copy(source.id, file, target.id, into))
    assert u.copy(source.id, empty, target.id, into).dentry.path == "/into/empty"
    grant(st, source, file, "DOWNLOADER", ("USER", bob))
    copied = u.copy(source.id, file, target.id, into).dentry
    assert (copied.path, u.download(target.id, copied.id)) == ("/into/a.txt", b"data")
    denied_and_unchanged(st, target.id, lambda: u.copy(source.id, file, target.id, "0"))


def test_move_needs_edit_on_the_node_and_the_target(st: Storage, tenant: Tenant) -> None:
    space, elsewhere = st.new_space(), st.new_space()
    mine, theirs = st.add_folder(space.id, "mine").id, st.add_folder(space.id, "theirs").id
    file = st.upload(space.id, b"x", "a.txt", mine).id
    their_file = st.upload(space.id, b"y", "b.txt", theirs).id
    bob = new_user(st, tenant, "bob")
    u = st.as_user(bob)
    grant(st, space, mine, "EDITOR", ("USER", bob))
    grant(st, space, theirs, "DOWNLOADER", ("USER", bob))
    grant(st, elsewhere, "0", "DOWNLOADER", ("USER", bob))

    denied_and_unchanged(st, space.id, lambda: u.move(space.id, file, space.id, theirs))
    denied_and_unchanged(st, space.id, lambda: u.move(space.id, their_file, space.id, mine))
    denied_and_unchanged(st, space.id, lambda: u.move(space.id, file, elsewhere.id, "0"))
    assert state(st, elsewhere.id)[0] == []
    grant(st, space, theirs, "EDITOR", ("USER", bob))
    assert u.move(space.id, file, space.id, theirs).dentry.path == "/theirs/a.txt"


def test_an_upload_needs_edit_where_the_file_goes(st: Storage, tenant: Tenant) -> None:
    space = st.new_space()
    writable, readable = st.add_folder(space.id, "w").id, st.add_folder(space.id, "r").id
    file = st.upload(space.id, b"old", "f.txt", readable).id
    bob = new_user(st, tenant, "bob")
    u = st.as_user(bob)
    grant(st, space, readable, "DOWNLOADER", ("USER", bob))
    denied(lambda: u.upload_info(space.id))  # EDITOR nowhere in the space
    grant(st, space, writable, "EDITOR", ("USER", bob))
    denied(lambda: upload_into(u, space.id, readable))

    info = u.upload_info(space.id)  # EDITOR somewhere: may start an upload
    assert u.put(info, b"new").status_code == 200
    before = state(st, space.id)
    denied(lambda: u.commit(space.id, info.upload_key, "g.txt", readable))
    denied(lambda: u.commit(space.id, info.upload_key, "f.txt", overwrite_dentry_id=file))
    assert state(st, space.id) == before
    made = u.commit(space.id, info.upload_key, "g.txt", writable)  # the key was not used up
    assert (made.path, u.download(space.id, made.id)) == ("/w/g.txt", b"new")


# --- batches ------------------------------------------------------------------------------


def test_batches_fail_only_the_items_denied(st: Storage, tenant: Tenant) -> None:
    space = st.new_space()
    open_, shut = st.add_folder(space.id, "open").id, st.add_folder(space.id, "shut").id
    into = st.add_folder(space.id, "into", open_).id
    mine = [st.upload(space.id, f"{n}".encode(), f"{n}.txt", open_).id for n in range(3)]
    theirs = st.upload(space.id, b"t", "t.txt", shut).id
    bob = new_user(st, tenant, "bob")
    u = st.as_user(bob)
    grant(st, space, open_, "EDITOR", ("USER", bob))
    grant(st, space, shut, "READER", ("USER", bob))

    def outcome(items: list[Any]) -> list[tuple[Any, ...]]:
        return [(i.dentry_id, i.success, i.error_code) for i in items]

    no = "permissionDenied"
    assert outcome(batch_copy(u, space.id, [mine[0], theirs], space.id, into)) == [
        (mine[0], True, None), (theirs, False, no),  # a file to copy needs DOWNLOADER
    ]  # fmt: skip
    assert outcome(batch_move(u, space.id, [theirs, mine[1]], space.id, into)) == [
        (theirs, False, no), (mine[1], True, None),
    ]  # fmt: skip
    before = state(st, space.id)
    assert outcome(batch_move(u, space.id, [mine[2]], space.id, shut)) == [(mine[2], False, no)]
    assert outcome(batch_copy(u, space.id, [mine[2]], space.id, "0")) == [(mine[2], False, no)]
    assert state(st, space.id) == before
    assert outcome(batch_remove(u, space.id, [theirs, mine[2]])) == [
        (theirs, False, no), (mine[2], True, None),
    ]  # fmt: skip
    assert sorted(d.path for d in st.list_all(space.id) if d.type == "FILE") == [
        "/open/0.txt", "/open/into/0.txt", "/open/into/1.txt", "/shut/t.txt",
    ]  # fmt: skip


# --- ListAllDentries --------------------------------------------------------------------------


def test_list_all_lists_what_the_operator_reads_in_full_pages(
    st: Storage, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A readable folder among many hidden nodes, read a few rows at a time: every page full
    but the last, in order, nothing lost or repeated."""
    monkeypatch.setattr(dentry_service, "SCAN", 4)
    service, actor = st.server.services.dentries, st.actor()
    space = st.new_space()
    seen, hidden = st.add_folder(space.id, "seen").id, st.add_folder(space.id, "hidden").id
    for n in range(60):  # one in seven readable, in runs longer than a read
        parent = seen if n % 7 == 3 else hidden
        st.server.run(service.add_folder(actor, space.id, parent, f"n{n}", None))
    bob, carol, dave = (new_user(st, tenant, n) for n in ("bob", "carol", "dave"))
    grant(st, space, seen, "READER", ("USER", bob))
    grant(st, space, "0", "READER", ("USER", dave))
    u = st.as_user(bob)
    readable = {seen, *ids(st.list_dentries(space.id, seen))}
    assert len(readable) == 10

    for order in ("ASC", "DESC"):
        everything = ids(st.list_all(space.id, order=order))
        assert len(everything) == 62
        assert ids(st.as_user(dave).list_all(space.id, order=order, max_results=7)) == everything
        for size in (1, 3, 4, 50):
            found = every_page(
                lambda token, s=size, o=order: u.list_all_page(
                    space.id, next_token=token, max_results=s, order=o
                ),
                lambda page: page.dentries,
                size,
            )
            assert ids(found) == [i for i in everything if i in readable], (order, size)
    denied(lambda: st.as_user(carol).list_all_page(space.id))


# --- grants and moves ---------------------------------------------------------------------


def granted_nodes(st: Storage, space_id: str) -> set[int]:
    """The nodes of the space that carry grants, read from the store."""
    db = st.server.services.db

    async def read() -> set[int]:
        async with db.read() as conn:
            rows = await conn.execute(
                sa.select(grants.c.dentry_id).where(grants.c.space_id == int(space_id))
            )
            return {int(r) for r in rows.scalars()}

    return st.server.run(read())


@dataclass(frozen=True)
class Granted:
    """``/<name>/inner/f.txt``: bob holds EDITOR on the folder, carol READER on ``inner`` and
    bob DOWNLOADER on the file."""

    folder: str
    inner: str
    file: str

    @property
    def nodes(self) -> set[int]:
        return {int(self.folder), int(self.inner), int(self.file)}


def granted(st: Storage, space: Any, name: str, bob: str, carol: str) -> Granted:
    folder = st.add_folder(space.id, name).id
    inner = st.add_folder(space.id, "inner", folder).id
    file = st.upload(space.id, b"x", "f.txt", inner).id
    grant(st, space, folder, "EDITOR", ("USER", bob))
    grant(st, space, inner, "READER", ("USER", carol))
    grant(st, space, file, "DOWNLOADER", ("USER", bob))
    return Granted(folder, inner, file)


def move_raw(
    st: Storage,
    space_id: str,
    node: str,
    target: tuple[str, str],
    option: dict[str, Any],
    *,
    many: bool,
) -> None:
    """MoveDentry (or MoveDentries of the one node) to ``target`` (spaceId, folderId) over plain
    HTTP with exactly ``option``; waits for its task, if any."""
    where = {"targetSpaceId": target[0], "targetFolderId": target[1], "option": option}
    if many:
        path = f"/spaces/{space_id}/dentries/batchMove"
        (body,) = st.raw_ok("POST", path, json={**where, "dentryIds": [node]})["resultItems"]
    else:
        body = st.raw_ok("POST", f"/spaces/{space_id}/dentries/{node}/move", json=where)
    assert body.get("success", True)
    if body.get("taskId"):
        assert st.wait_task(body["taskId"]).status == "SUCCESS"


@pytest.mark.parametrize("across", [False, True], ids=["same-space", "across-spaces"])
def test_a_move_drops_the_grants_under_it_or_carries_them(
    st: Storage, tenant: Tenant, across: bool
) -> None:
    source = st.new_space()
    target = st.new_space() if across else source
    dest = (target.id, st.add_folder(target.id, "dest").id)
    bob, carol = new_user(st, tenant, "bob"), new_user(st, tenant, "carol")
    grant(st, target, "0", "READER", ("USER", bob))
    ways = [  # (option, by MoveDentries, whether the grants stay): both spellings on both
        ({}, False, False),
        ({"presevePermissions": False}, False, False),
        ({"presevePermissions": True}, False, True),
        ({"preservePermissions": True}, False, True),
        ({}, True, False),
        ({"preservePermissions": True}, True, True),
        ({"presevePermissions": True}, True, True),
    ]
    untouched = granted(st, source, "stays", bob, carol)
    for n, (option, many, keep) in enumerate(ways):
        g = granted(st, source, f"g{n}", bob, carol)
        move_raw(st, source.id, g.folder, dest, option, many=many)
        shown = {
            node: {(p.member.id, p.role.id) for p in st.permissions(target.id, node)}
            for node in (g.folder, g.inner, g.file)
        }
        if keep:
            assert shown == {
                g.folder: {(bob, "EDITOR")}, g.inner: {(carol, "READER")},
                g.file: {(bob, "DOWNLOADER")},
            }, n  # fmt: skip
            assert g.nodes <= granted_nodes(st, target.id)
            roles = st.as_user(bob).batch_query_roles(target.id, [g.folder, g.file])
            assert roles == {g.folder: ["EDITOR"], g.file: ["EDITOR"]}
        else:  # the nodes take the roles of their new place
            assert shown == {node: set() for node in shown}, n
            assert not g.nodes & granted_nodes(st, target.id)
            roles = st.as_user(bob).batch_query_roles(target.id, [g.folder, g.file])
            assert roles == {g.folder: ["READER"], g.file: ["READER"]}
            denied(lambda g=g: st.as_user(carol).get_dentry(target.id, g.inner))
        if across:  # none stays behind in the source space
            assert not g.nodes & granted_nodes(st, source.id), n
    assert untouched.nodes <= granted_nodes(st, source.id)


def test_a_merging_move_across_spaces_carries_the_grants_it_keeps(
    st: Storage, tenant: Tenant
) -> None:
    """OVERWRITE onto a folder of the same name in another space merges: the source folders
    it empties are removed, and no grant is left on them (the autouse check of
    tests/api/conftest.py fails on a grant of a purged dentry or of another space)."""
    source, target = st.new_space(), st.new_space()
    bob, carol = new_user(st, tenant, "bob"), new_user(st, tenant, "carol")
    g = granted(st, source, "same", bob, carol)
    st.upload(source.id, b"y", "g.txt", g.inner)
    into = st.add_folder(target.id, "same").id
    st.add_folder(target.id, "inner", into)
    option = {"conflictStrategy": "OVERWRITE", "presevePermissions": True}
    move_raw(st, source.id, g.folder, (target.id, "0"), option, many=False)
    assert [d.name for d in st.list_dentries(source.id)] == []
    assert int(g.file) in granted_nodes(st, target.id)  # the file moved with its grant
    assert not granted_nodes(st, source.id) & g.nodes


def test_deleting_for_good_takes_the_grants_along(st: Storage, tenant: Tenant) -> None:
    space = st.new_space()
    bob, carol = new_user(st, tenant, "bob"), new_user(st, tenant, "carol")
    nested = granted(st, space, "nested", bob, carol)
    binned = granted(st, space, "binned", bob, carol)
    empty = st.add_folder(space.id, "empty").id
    grant(st, space, empty, "READER", ("USER", carol))
    assert {int(empty)} | nested.nodes | binned.nodes == granted_nodes(st, space.id)

    st.delete(space.id, nested.file)
    assert int(nested.file) not in granted_nodes(st, space.id)
    st.delete(space.id, empty)
    st.delete(space.id, binned.folder, to_recycle_bin=True)  # the bin keeps them
    task = st.delete(space.id, nested.folder).task_id
    assert granted_nodes(st, space.id) == binned.nodes
    assert st.wait_task(task).status == "SUCCESS"


# --- temporary grants -------------------------------------------------------------------------


def test_a_temporary_grant_stops_counting_when_it_expires(st: Storage, tenant: Tenant) -> None:
    space = st.new_space(owner_type="APP")
    folder = st.add_folder(space.id, "f").id
    file = st.upload(space.id, b"x", "a.txt", folder).id
    bob = new_user(st, tenant, "bob")
    u = st.as_user(bob)
    st.add_permission(space.id, folder, "EDITOR", [("USER", bob)], duration=60)
    assert u.get_dentry(space.id, file).name == "a.txt"
    assert u.add_folder(space.id, "mine", folder).name == "mine"
    st.server.clock.advance(60.1)
    denied(lambda: u.get_space(space.id))
    denied(lambda: u.get_dentry(space.id, file))
    denied_and_unchanged(st, space.id, lambda: u.add_folder(space.id, "late", folder))
