"""Which operations emit which change events (docs/events.md, "Which operations emit what"):
each operation through the official SDK, then the outbox read on the server's database — the
events' types, actions, spaces, dentries, names, operators and scopes; nothing for another
org's changes, an unsubscribed space's or a change that was refused (rolled back)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from dingstore.store import events, spaces
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage

CREATE, UPDATE, DELETE = "create", "update", "delete"
_SHORT = {events.CREATE: CREATE, events.UPDATE: UPDATE, events.DELETE: DELETE}


class Outbox:
    """The events of one app, read from the server's database; ``take`` returns those written
    since it last did."""

    def __init__(self, server: LiveServer, tenant: Tenant) -> None:
        self.server = server
        self.tenant = tenant
        self.corp_id = tenant.corp_id
        self.app_id = tenant.boot.credentials.app.app_id
        self.seen = 0

    def subscribe(self, scope: str, scope_id: str) -> None:
        """SubscribeEvent through the official SDK, as the org's admin."""
        storage = Storage.of(self.server, Sdk(self.server.endpoint), self.tenant)
        assert storage.subscribe_event(scope, scope_id).success is True

    def subscribe_directly(self, scope: str, scope_id: str) -> None:
        """A subscription row written straight into the store, for what SubscribeEvent refuses
        to make (a space of another org)."""
        db = self.server.services.db

        async def go() -> None:
            async with db.write() as conn:
                await events.subscribe(conn, self.corp_id, self.app_id, scope, scope_id, now=1)

        self.server.run(go())

    def rows(self) -> list[Any]:
        db = self.server.services.db

        async def go() -> list[Any]:
            async with db.read() as conn:
                found = await events.deliveries(conn, self.corp_id, self.app_id, limit=100_000)
            return sorted(found, key=lambda r: int(r["id"]))

        return self.server.run(go())

    def take_rows(self) -> list[Any]:
        fresh = [r for r in self.rows() if int(r["id"]) > self.seen]
        if fresh:
            self.seen = int(fresh[-1]["id"])
        return fresh

    def take(self) -> list[tuple[str, str, str, str, str, str]]:
        """(type, action, spaceId, dentryId, dentry type, name) of the new events."""
        return [
            (
                _SHORT[r["event_type"]],
                r["action"],
                str(r["space_id"]),
                str(r["dentry_id"]),
                r["dentry_type"],
                r["name"],
            )
            for r in self.take_rows()
        ]


@pytest.fixture
def outbox(server: LiveServer, tenant: Tenant) -> Outbox:
    """The test's app, subscribed to its whole org."""
    box = Outbox(server, tenant)
    box.subscribe("ORG", tenant.corp_id)
    return box


def _revert(st: Storage, space_id: str, dentry_id: str, version: int) -> None:
    request = m.RevertDentryVersionRequest(union_id=st.union_id)
    st._api.revert_dentry_version_with_options(
        space_id, dentry_id, str(version), request, st._h(m.RevertDentryVersionHeaders), st._rt
    )


def _set_property(st: Storage, space_id: str, dentry_id: str, name: str, value: str) -> None:
    prop = m.UpdateDentryAppPropertiesRequestAppProperties(
        name=name, value=value, visibility="PUBLIC"
    )
    request = m.UpdateDentryAppPropertiesRequest(union_id=st.union_id, app_properties=[prop])
    st._api.update_dentry_app_properties_with_options(
        space_id, dentry_id, request, st._h(m.UpdateDentryAppPropertiesHeaders), st._rt
    )


def _drop_properties(st: Storage, space_id: str, dentry_id: str, names: list[str]) -> None:
    request = m.DeleteDentryAppPropertiesRequest(union_id=st.union_id, property_names=names)
    st._api.delete_dentry_app_properties_with_options(
        space_id, dentry_id, request, st._h(m.DeleteDentryAppPropertiesHeaders), st._rt
    )


def test_folders_files_versions_renames_and_properties(st: Storage, outbox: Outbox) -> None:
    space = st.new_space()
    assert outbox.take() == []  # a new space is no dentry's change
    docs = st.add_folder(space.id, "docs")
    doc = st.upload(space.id, b"v1", "a.txt", parent_id=docs.id)
    assert outbox.take() == [
        (CREATE, "add", space.id, docs.id, "FOLDER", "docs"),
        (CREATE, "upload", space.id, doc.id, "FILE", "a.txt"),
    ]
    st.upload(space.id, b"v2", "a.txt", parent_id=docs.id, conflict_strategy="OVERWRITE")
    again = st.upload(space.id, b"v3", "a.txt", parent_id=docs.id)  # AUTO_RENAME: a new file
    upload = st.upload_info(space.id)
    st.put(upload, b"v4")
    st.commit(space.id, upload.upload_key, "ignored", "0", overwrite_dentry_id=doc.id)
    assert outbox.take() == [
        (UPDATE, "version", space.id, doc.id, "FILE", "a.txt"),
        (CREATE, "upload", space.id, again.id, "FILE", "a(1).txt"),
        (UPDATE, "version", space.id, doc.id, "FILE", "a.txt"),
    ]
    st.rename(space.id, doc.id, "b.txt")
    st.rename(space.id, docs.id, "docs")  # its name already: nothing changes
    _revert(st, space.id, doc.id, 1)
    _set_property(st, space.id, doc.id, "k", "v")
    _drop_properties(st, space.id, doc.id, ["k"])
    _drop_properties(st, space.id, doc.id, ["k"])  # none left to drop: nothing changes
    assert outbox.take() == [
        (UPDATE, "rename", space.id, doc.id, "FILE", "b.txt"),
        (UPDATE, "revert", space.id, doc.id, "FILE", "b.txt"),
        (UPDATE, "properties", space.id, doc.id, "FILE", "b.txt"),
        (UPDATE, "properties", space.id, doc.id, "FILE", "b.txt"),
    ]
    rows = outbox.rows()
    assert {(r["union_id"], r["scope"], r["scope_id"], r["status"]) for r in rows} == {
        (st.union_id, "ORG", outbox.corp_id, "PENDING")
    }
    # dingstoreSeq (the row id) grows in commit order
    assert [int(r["id"]) for r in rows] == sorted(int(r["id"]) for r in rows)


def test_refused_or_idle_changes_emit_nothing(st: Storage, outbox: Outbox) -> None:
    space = st.new_space()
    docs = st.add_folder(space.id, "docs")
    other = st.add_folder(space.id, "other")
    doc = st.upload(space.id, b"x", "a.txt")
    outbox.take()
    err = sdk_error(
        lambda: st.add_folder(space.id, "docs", conflict_strategy="RETURN_ERROR_IF_EXISTS")
    )
    assert err.code == "dentryAlreadyExist"
    assert sdk_error(lambda: st.rename(space.id, docs.id, "other")).code == "dentryAlreadyExist"
    same = st.add_folder(space.id, "docs", conflict_strategy="RETURN_DENTRY_IF_EXISTS")
    assert same.id == docs.id
    st.add_folder(space.id, "docs", conflict_strategy="OVERWRITE")  # a folder: kept as it is
    st.upload(space.id, b"y", "a.txt", conflict_strategy="RETURN_DENTRY_IF_EXISTS")
    st.move(space.id, other.id, space.id, "0")  # already there
    err = sdk_error(lambda: st.move(space.id, docs.id, space.id, docs.id))
    assert err.code == "paramError.targetFolderId"
    assert outbox.take() == []
    assert st.get_dentry(space.id, doc.id).version == 1


def test_a_change_refused_after_its_event_was_written_leaves_none(
    st: Storage, outbox: Outbox
) -> None:
    # A file moved with OVERWRITE onto a file of another space: the file replaced goes (and its
    # event is written), then the moved bytes do not fit the target's quota. Everything rolls
    # back, the replaced file's event with it.
    a, b = st.new_space(), st.new_space(quota=10)
    big = st.upload(a.id, b"x" * 50, "x.txt")
    small = st.upload(b.id, b"y", "x.txt")
    outbox.take()
    err = sdk_error(lambda: st.move(a.id, big.id, b.id, "0", conflict_strategy="OVERWRITE"))
    assert err.code == "spaceQuotaInsufficient"
    assert st.get_dentry(b.id, small.id).size == 1
    assert outbox.take() == []
    # the same move where it fits does emit
    st.move(a.id, big.id, a.id, "0")
    assert st.move(a.id, big.id, a.id, "0") is not None
    st.upload(a.id, b"z", "x.txt", conflict_strategy="OVERWRITE")
    assert [e[:2] for e in outbox.take()] == [(UPDATE, "version")]


def test_moves_within_and_across_spaces(st: Storage, outbox: Outbox) -> None:
    a, b = st.new_space(), st.new_space()
    folder = st.add_folder(a.id, "f")
    inner = st.add_folder(a.id, "inner", folder.id)
    st.upload(a.id, b"1", "deep.txt", parent_id=inner.id)
    file = st.upload(a.id, b"2", "x.txt")
    target = st.upload(a.id, b"3", "x.txt", parent_id=folder.id)
    outbox.take()
    st.move(a.id, inner.id, a.id, "0")  # within a space, a folder with children
    st.move(a.id, file.id, a.id, folder.id, conflict_strategy="OVERWRITE")  # replaces x.txt
    assert outbox.take() == [
        (UPDATE, "move", a.id, inner.id, "FOLDER", "inner"),
        (DELETE, "overwrite", a.id, target.id, "FILE", "x.txt"),
        (UPDATE, "move", a.id, file.id, "FILE", "x.txt"),
    ]
    moved = st.move(a.id, inner.id, b.id, "0")  # across spaces: its descendant goes in a task
    assert moved.async_ and st.wait_task(moved.task_id).status == "SUCCESS"
    assert outbox.take() == [
        (DELETE, "move", a.id, inner.id, "FOLDER", "inner"),
        (CREATE, "move", b.id, inner.id, "FOLDER", "inner"),
    ]
    st.upload(b.id, b"4", "x.txt")
    outbox.take()
    st.move(a.id, file.id, b.id, "0")  # a name taken there: AUTO_RENAME
    assert outbox.take() == [
        (DELETE, "move", a.id, file.id, "FILE", "x.txt"),
        (CREATE, "move", b.id, file.id, "FILE", "x(1).txt"),
    ]
    st.move(b.id, inner.id, a.id, folder.id)
    assert outbox.take() == [
        (DELETE, "move", b.id, inner.id, "FOLDER", "inner"),
        (CREATE, "move", a.id, inner.id, "FOLDER", "inner"),
    ]


def test_batches_emit_per_item(st: Storage, outbox: Outbox) -> None:
    space, other = st.new_space(), st.new_space()
    into = st.add_folder(space.id, "into")
    ones = [st.upload(space.id, b"1", f"{n}.txt") for n in range(3)]
    ids = [o.id for o in ones] + ["999999999"]  # the unknown id fails alone
    outbox.take()
    moves = m.MoveDentriesRequest(
        union_id=st.union_id, dentry_ids=ids, target_space_id=space.id, target_folder_id=into.id
    )
    st._api.move_dentries_with_options(space.id, moves, st._h(m.MoveDentriesHeaders), st._rt)
    assert outbox.take() == [
        (UPDATE, "move", space.id, o.id, "FILE", f"{n}.txt") for n, o in enumerate(ones)
    ]
    copies = m.CopyDentriesRequest(
        union_id=st.union_id, dentry_ids=ids[:2], target_space_id=other.id, target_folder_id="0"
    )
    done = st._api.copy_dentries_with_options(
        space.id, copies, st._h(m.CopyDentriesHeaders), st._rt
    ).body.result_items
    assert outbox.take() == [
        (CREATE, "copy", other.id, r.target_dentry_id, "FILE", f"{n}.txt")
        for n, r in enumerate(done)
    ]
    deletes = m.DeleteDentriesRequest(
        union_id=st.union_id,
        dentry_ids=ids,
        option=m.DeleteDentriesRequestOption(to_recycle_bin=True),
    )
    st._api.delete_dentries_with_options(space.id, deletes, st._h(m.DeleteDentriesHeaders), st._rt)
    assert outbox.take() == [
        (DELETE, "recycle", space.id, o.id, "FILE", f"{n}.txt") for n, o in enumerate(ones)
    ]


def test_a_copy_creates_every_node_it_makes(st: Storage, outbox: Outbox) -> None:
    a, b = st.new_space(), st.new_space()
    top = st.add_folder(a.id, "top")
    made = 1
    for f in range(3):
        sub = st.add_folder(a.id, f"sub{f}", top.id)
        made += 1
        for n in range(4):
            st.upload(a.id, b"x" * n, f"{n}.txt", parent_id=sub.id)
            made += 1
    file = st.upload(a.id, b"single", "one.txt")
    outbox.take()
    copied = st.copy(a.id, top.id, b.id)
    assert copied.async_ and st.wait_task(copied.task_id).status == "SUCCESS"
    got = outbox.take()
    assert len(got) == made  # a folder of N descendants: N + 1 creates
    assert {(e[0], e[1], e[2]) for e in got} == {(CREATE, "copy", b.id)}
    listed = {(d.id, d.type, d.name) for d in st.list_all(b.id)}
    assert {(e[3], e[4], e[5]) for e in got} == listed
    assert got[0][3] == copied.dentry.id  # the request's top first, then the task's nodes
    single = st.copy(a.id, file.id, b.id)
    st.copy(a.id, file.id, b.id, conflict_strategy="OVERWRITE")  # a new version of the copy
    st.copy(a.id, file.id, b.id, conflict_strategy="RETURN_DENTRY_IF_EXISTS")  # nothing
    assert outbox.take() == [
        (CREATE, "copy", b.id, single.dentry.id, "FILE", "one.txt"),
        (UPDATE, "copy", b.id, single.dentry.id, "FILE", "one.txt"),
    ]


def _merge_source(st: Storage, space_id: str, parent_id: str = "0") -> dict[str, Any]:
    """``src`` holding a folder ``same`` (with ``s1.txt``), ``shared.txt``, ``only.txt`` and
    ``inner`` (with ``deep.txt``); by name."""
    src = st.add_folder(space_id, "src", parent_id)
    same = st.add_folder(space_id, "same", src.id)
    nodes = {
        "src": src,
        "same": same,
        "s1.txt": st.upload(space_id, b"s1", "s1.txt", parent_id=same.id),
        "shared.txt": st.upload(space_id, b"mine", "shared.txt", parent_id=src.id),
        "only.txt": st.upload(space_id, b"only", "only.txt", parent_id=src.id),
        "inner": st.add_folder(space_id, "inner", src.id),
    }
    nodes["deep.txt"] = st.upload(space_id, b"deep", "deep.txt", parent_id=nodes["inner"].id)
    return nodes


def _merge_target(st: Storage, space_id: str) -> dict[str, Any]:
    """``holder/src`` holding a folder ``same`` and a ``shared.txt``; by name."""
    holder = st.add_folder(space_id, "holder")
    src = st.add_folder(space_id, "src", holder.id)
    return {
        "holder": holder,
        "src": src,
        "same": st.add_folder(space_id, "same", src.id),
        "shared.txt": st.upload(space_id, b"theirs", "shared.txt", parent_id=src.id),
    }


def test_a_copy_merge_creates_new_nodes_and_versions_files(st: Storage, outbox: Outbox) -> None:
    space = st.new_space()
    source = _merge_source(st, space.id)
    target = _merge_target(st, space.id)
    outbox.take()
    merged = st.copy(
        space.id, source["src"].id, space.id, target["holder"].id, conflict_strategy="OVERWRITE"
    )
    assert st.wait_task(merged.task_id).status == "SUCCESS"
    got = outbox.take()
    # Folders meeting folders (the top among them) emit nothing; a file meeting a file gets a
    # version (update); every node made is created.
    assert sorted((e[0], e[1], e[4], e[5]) for e in got) == [
        (CREATE, "copy", "FILE", "deep.txt"),
        (CREATE, "copy", "FILE", "only.txt"),
        (CREATE, "copy", "FILE", "s1.txt"),
        (CREATE, "copy", "FOLDER", "inner"),
        (UPDATE, "copy", "FILE", "shared.txt"),
    ]
    assert [e[3] for e in got if e[0] == UPDATE] == [target["shared.txt"].id]
    listed = {(d.id, d.name) for d in st.list_all(space.id)}
    assert {(e[3], e[5]) for e in got} <= listed


@pytest.mark.parametrize("across", [False, True], ids=["same-space", "across-spaces"])
def test_a_move_merge_emits_each_moved_root(st: Storage, outbox: Outbox, across: bool) -> None:
    space = st.new_space()
    into = st.new_space() if across else space
    source = _merge_source(st, space.id)
    target = _merge_target(st, into.id)
    outbox.take()
    merged = st.move(
        space.id, source["src"].id, into.id, target["holder"].id, conflict_strategy="OVERWRITE"
    )
    assert st.wait_task(merged.task_id).status == "SUCCESS"
    got = outbox.take()
    # Moved roots: shared.txt, only.txt and inner at the first level, s1.txt under the merged
    # folder ``same``; deep.txt follows inner. The file shared.txt replaced goes for good; the
    # source folders the merge emptied (same, then src) go.
    roots = ["shared.txt", "only.txt", "inner", "s1.txt"]
    if across:
        moved = [(DELETE, "move", space.id, source[n].id) for n in roots] + [
            (CREATE, "move", into.id, source[n].id) for n in roots
        ]
    else:
        moved = [(UPDATE, "move", space.id, source[n].id) for n in roots]
    expected = [
        (DELETE, "overwrite", into.id, target["shared.txt"].id),
        *moved,
        (DELETE, "move", space.id, source["same"].id),
        (DELETE, "move", space.id, source["src"].id),
    ]
    assert sorted(e[:4] for e in got) == sorted(expected)
    # In commit order: the replaced file before the file replacing it, the emptied folders last.
    order = [e[3] for e in got]
    assert order.index(target["shared.txt"].id) < order.index(source["shared.txt"].id)
    assert order[-2:] == [source["same"].id, source["src"].id]


def test_deletes_restores_and_purges(st: Storage, outbox: Outbox, tenant: Tenant) -> None:
    space = st.new_space()
    bin_id = st.get_recycle_bin(tenant.corp_id).id
    folder = st.add_folder(space.id, "f")
    st.upload(space.id, b"in", "in.txt", parent_id=folder.id)
    file = st.upload(space.id, b"x", "x.txt")
    gone = st.upload(space.id, b"y", "gone.txt")
    tree = st.add_folder(space.id, "tree")
    st.add_folder(space.id, "leaf", tree.id)
    outbox.take()

    st.delete(space.id, folder.id, to_recycle_bin=True)  # a folder with children: one event
    st.delete(space.id, file.id, to_recycle_bin=True)
    st.delete(space.id, gone.id, to_recycle_bin=False)
    purged = st.delete(space.id, tree.id, to_recycle_bin=False)  # its content in a task
    assert st.wait_task(purged.task_id).status == "SUCCESS"
    assert outbox.take() == [
        (DELETE, "recycle", space.id, folder.id, "FOLDER", "f"),
        (DELETE, "recycle", space.id, file.id, "FILE", "x.txt"),
        (DELETE, "delete", space.id, gone.id, "FILE", "gone.txt"),
        (DELETE, "delete", space.id, tree.id, "FOLDER", "tree"),
    ]

    items = {i.original_name: i for i in st.recycle_items(bin_id)}
    st.restore_recycle_item(bin_id, items["f"].id)
    newer = st.upload(space.id, b"new", "x.txt")
    st.restore_recycle_item(bin_id, items["x.txt"].id, conflict_strategy="OVERWRITE")
    assert outbox.take() == [
        (CREATE, "restore", space.id, folder.id, "FOLDER", "f"),
        (CREATE, "upload", space.id, newer.id, "FILE", "x.txt"),
        (DELETE, "recycle", space.id, newer.id, "FILE", "x.txt"),  # displaced by the restore
        (CREATE, "restore", space.id, file.id, "FILE", "x.txt"),
    ]

    st.delete(space.id, folder.id, to_recycle_bin=True)
    st.delete(space.id, file.id, to_recycle_bin=True)
    items = {i.dentry_id: i for i in st.recycle_items(bin_id)}
    outbox.take()
    st.delete_recycle_item(bin_id, items[folder.id].id)
    st.delete_recycle_items(bin_id, [items[file.id].id])
    st.clear_recycle_bin(bin_id)  # what is left: the displaced x.txt
    assert outbox.take() == [
        (DELETE, "purge", space.id, folder.id, "FOLDER", "f"),
        (DELETE, "purge", space.id, file.id, "FILE", "x.txt"),
        (DELETE, "purge", space.id, newer.id, "FILE", "x.txt"),
    ]
    assert st.recycle_items(bin_id) == []


def test_the_retention_purge_names_the_deleter(
    server: LiveServer, st: Storage, outbox: Outbox
) -> None:
    space = st.new_space()
    file = st.upload(space.id, b"x", "old.txt")
    st.delete(space.id, file.id, to_recycle_bin=True)
    outbox.take()
    server.clock.advance(31 * 86_400)
    assert server.run(server.services.recycle.purge_expired()) >= 1
    rows = outbox.take_rows()
    got = [(r["event_type"], r["action"], str(r["dentry_id"]), r["union_id"]) for r in rows]
    assert got == [(events.DELETE, "purge", file.id, st.union_id)]


def test_scopes_spaces_and_orgs(server: LiveServer, st: Storage, tenant: Tenant) -> None:
    watched, unwatched = st.new_space(), st.new_space()
    spaces_only = Outbox(server, tenant)
    spaces_only.subscribe("SPACE", watched.id)
    seen = st.add_folder(watched.id, "seen")
    st.add_folder(unwatched.id, "unseen")
    assert spaces_only.take() == [(CREATE, "add", watched.id, seen.id, "FOLDER", "seen")]
    assert {r["scope"] for r in spaces_only.rows()} == {"SPACE"}

    # Subscribed to the org as well: one event per change, the space's scope winning.
    spaces_only.subscribe("ORG", tenant.corp_id)
    st.add_folder(watched.id, "both")
    st.add_folder(unwatched.id, "org-only")
    rows = spaces_only.take_rows()
    assert [(r["name"], r["scope"], r["scope_id"]) for r in rows] == [
        ("both", "SPACE", watched.id),
        ("org-only", "ORG", tenant.corp_id),
    ]

    # Another org's changes never reach this app, even to an ORG subscription of the same id.
    sdk = Sdk(server.endpoint)
    other_tenant = new_tenant(server, sdk)
    other = Storage.of(server, sdk, other_tenant)
    their_outbox = Outbox(server, other_tenant)
    their_outbox.subscribe("ORG", their_outbox.corp_id)
    theirs = other.new_space()
    made = other.add_folder(theirs.id, "theirs")
    assert spaces_only.take_rows() == []
    assert their_outbox.take() == [(CREATE, "add", theirs.id, made.id, "FOLDER", "theirs")]


def test_a_dentrys_events_follow_the_order_its_changes_committed(
    st: Storage, outbox: Outbox
) -> None:
    # Rounds of renames of one file racing from several threads at once. Each holds the
    # space's tree lock from its first statement to its commit and writes its event under it,
    # so after each round the event numbered last (dingstoreSeq) names the name the file was
    # left with: a consumer applying them in that order ends where the store is.
    space = st.new_space()
    doc = st.upload(space.id, b"x", "doc.txt")
    outbox.take()
    threads_n, rounds = 6, 8
    start = threading.Barrier(threads_n)

    def rename(name: str) -> None:
        start.wait(10)
        st.rename(space.id, doc.id, name)

    for r in range(rounds):
        names = [f"r{r}-{t}.txt" for t in range(threads_n)]
        threads = [threading.Thread(target=rename, args=(n,)) for n in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        got = outbox.take()
        assert sorted(e[5] for e in got) == names
        assert {e[:5] for e in got} == {(UPDATE, "rename", space.id, doc.id, "FILE")}
        assert got[-1][5] == st.get_dentry(space.id, doc.id).name, f"round {r}"


def test_the_tree_lock_tells_whether_anyone_listens(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    # The statement that takes a space's tree lock also finds whether an app is subscribed to
    # the space or its org; when none is, a change sends no event statement at all.
    db = server.services.db
    space, other = st.new_space(), st.new_space()

    def heard() -> dict[int, bool]:
        async def go() -> dict[int, bool]:
            async with db.write() as conn:
                await spaces.lock(conn, [int(space.id), int(other.id)])
                return dict(conn.subscribed)

        return server.run(go())

    assert heard() == {int(space.id): False, int(other.id): False}
    box = Outbox(server, tenant)
    box.subscribe("SPACE", space.id)
    assert heard() == {int(space.id): True, int(other.id): False}
    # Another org's subscriptions say nothing of this org's spaces, even one naming its id
    # (SubscribeEvent refuses to make that one: written into the store directly).
    theirs = new_tenant(server, Sdk(server.endpoint))
    Outbox(server, theirs).subscribe("ORG", theirs.corp_id)
    Outbox(server, theirs).subscribe_directly("SPACE", other.id)
    assert heard() == {int(space.id): True, int(other.id): False}
    box.subscribe("ORG", tenant.corp_id)
    assert heard() == {int(space.id): True, int(other.id): True}
