"""Permissions inside tasks and the recycle bin, through the official SDK (docs/permissions.md,
"In tasks"; docs/recycle-bin.md): a copy of a folder copies only the files its operator may
download; a move across spaces whose grant expires midway stops there, what it did not carry
staying in the source space; a non-admin EDITOR's trips through the bin keep quotas, blob
references and grants exact; the bin shows and lets act on only what the operator may."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.clock import ManualClock
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Handler, Step
from dingstore.service.bulk import moves
from dingstore.service.bulk import steps as bulk_steps
from dingstore.store import events, schema
from tests.api import test_recycle
from tests.api.test_recycle import blobs_of, fails, item_of, refcounts, settle, tree_of
from tests.conftest import Tenant
from tests.engine import trees
from tests.live import LiveServer, Sdk
from tests.storage import Storage

CHUNK = 3  # nodes a step settles: every task here takes several steps

Tree = dict[str, Any]  # name → bytes (a file) or a Tree (a folder)


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    return make_server(task_chunk=CHUNK)


bin_id = test_recycle.bin_id  # a fixture: the org's recycle bin


def user(server: LiveServer, tenant: Tenant, name: str) -> str:
    return server.run(server.services.identity.create_user(tenant.corp_id, name)).union_id


def build(st: Storage, space_id: str, tree: Tree, parent_id: str = "0", at: str = "") -> dict:
    """Make ``tree`` under the folder; returns path → dentry id."""
    made: dict[str, str] = {}
    for name, content in tree.items():
        path = f"{at}/{name}"
        if isinstance(content, dict):
            made[path] = st.add_folder(space_id, name, parent_id).id
            made.update(build(st, space_id, content, made[path], path))
        else:
            made[path] = st.upload(space_id, content, name, parent_id).id
    return made


def grants_on(server: LiveServer, *dentry_ids: str) -> int:
    """How many grants the dentries carry, whatever their space."""
    p = schema.permissions
    wanted = p.c.dentry_id.in_([int(i) for i in dentry_ids])
    return server.run(trees.count_where(server.services.db, p, wanted))


def grants_in(server: LiveServer, *dentry_ids: int) -> list[int]:
    """The space of each dentry's (one) grant."""
    db, p = server.services.db, schema.permissions

    async def read() -> dict[int, int]:
        async with db.read() as conn:
            stmt = sa.select(p.c.dentry_id, p.c.space_id).where(p.c.dentry_id.in_(dentry_ids))
            return {int(n): int(s) for n, s in (await conn.execute(stmt)).all()}

    found = server.run(read())
    return [found[i] for i in dentry_ids]


# --- copies: DOWNLOADER on each file ----------------------------------------------------------

SOURCE: Tree = {
    "top": {
        "a.txt": b"a",
        "sub1": {"b.txt": b"bb", "deep": {"c.txt": b"ccc"}},
        "sub2": {"d.txt": b"dddd", "e": {"f.txt": b"fffff"}},
        "g.txt": b"gggggg",
    }
}
COPIED = [  # what a READER of /top holding DOWNLOADER on /top/sub1 copies
    ("/top", "FOLDER", None), ("/top/sub1", "FOLDER", None), ("/top/sub1/b.txt", "FILE", 2),
    ("/top/sub1/deep", "FOLDER", None), ("/top/sub1/deep/c.txt", "FILE", 3),
    ("/top/sub2", "FOLDER", None), ("/top/sub2/e", "FOLDER", None),
]  # fmt: skip


def reader_of_top(st: Storage, server: LiveServer, tenant: Tenant) -> tuple[Any, Any, dict, str]:
    """A source space holding SOURCE, a target space, and bob: READER on /top, DOWNLOADER on
    /top/sub1, EDITOR on the target."""
    source, target = st.new_space(), st.new_space()
    made = build(st, source.id, SOURCE)
    bob = user(server, tenant, "bob")
    st.add_permission(source.id, made["/top"], "READER", [("USER", bob)])
    st.add_permission(source.id, made["/top/sub1"], "DOWNLOADER", [("USER", bob)])
    st.add_permission(target.id, "0", "EDITOR", [("USER", bob)])
    return source, target, made, bob


def test_a_copy_takes_only_the_files_its_operator_may_download(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    source, target, made, bob = reader_of_top(st, server, tenant)
    blobs = blobs_of(server, made["/top/sub1/b.txt"], made["/top/sub1/deep/c.txt"])
    others = blobs_of(server, *(made[f] for f in ("/top/a.txt", "/top/sub2/d.txt", "/top/g.txt")))

    copied = st.as_user(bob).copy(source.id, made["/top"], target.id)
    assert copied.async_ is True
    task = st.as_user(bob).wait_task(copied.task_id)
    # 11 nodes: the 5 folders and the 2 files under sub1 copied; a, d, f and g denied
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "FAIL", 11, 7, 4,
    )  # fmt: skip
    assert task.fail_message == "permissionDenied"
    assert tree_of(st, target.id) == COPIED
    assert st.used_quota(target.id) == 5 and st.used_quota(source.id) == 21
    assert refcounts(server, blobs) == [2, 2] and refcounts(server, others) == [1, 1, 1]
    assert grants_on(server, *(d.id for d in st.list_all(target.id))) == 0  # copies carry none
    settle(server)


def test_downloader_on_the_folder_copies_it_whole(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    source, target, made, bob = reader_of_top(st, server, tenant)
    st.add_permission(source.id, "0", "DOWNLOADER", [("USER", bob)])  # the space's, inherited
    task = st.wait_task(st.as_user(bob).copy(source.id, made["/top"], target.id).task_id)
    assert (task.status, task.success_count, task.fail_count) == ("SUCCESS", 11, 0)
    assert tree_of(st, target.id) == tree_of(st, source.id)
    settle(server)


def test_a_merging_copy_makes_no_version_of_a_file_it_may_not_download(
    server: LiveServer, st: Storage, tenant: Tenant
) -> None:
    source, target, made, bob = reader_of_top(st, server, tenant)
    there = build(st, target.id, {"top": {"a.txt": b"old", "sub1": {"b.txt": b"old"}}})
    copied = st.as_user(bob).copy(source.id, made["/top"], target.id, conflict_strategy="OVERWRITE")
    assert copied.dentry.id == there["/top"]  # merged into the folder there
    task = st.wait_task(copied.task_id)
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "FAIL", 11, 7, 4,
    )  # fmt: skip
    assert task.fail_message == "permissionDenied"
    assert [v.version for v in st.versions(target.id, there["/top/a.txt"])] == [1]
    assert st.download(target.id, there["/top/a.txt"]) == b"old"
    assert [v.version for v in st.versions(target.id, there["/top/sub1/b.txt"])] == [2, 1]
    assert st.download(target.id, there["/top/sub1/b.txt"]) == b"bb"
    assert tree_of(st, target.id) == [
        ("/top", "FOLDER", None), ("/top/a.txt", "FILE", 3), *COPIED[1:],
    ]  # fmt: skip
    settle(server)


# --- a move across spaces whose grant expires midway ------------------------------------------


class ExpiringAfter:
    """The engine's move handler, but its step number ``steps + 1`` first moves the clock past
    the operator's grant's expiry (the steps before it run while the grant holds); the step
    that takes the snapshot, which settles nothing, is not counted."""

    def __init__(self, inner: Handler, steps: int, clock: ManualClock, expires_at: int) -> None:
        self.inner, self.steps, self.clock, self.expires_at = inner, steps, clock, expires_at
        self.taken = 0

    async def start(self, conn: Any, task: Claimed) -> tuple[int, Step]:
        return await self.inner.start(conn, task)

    async def step(self, conn: Any, task: Claimed, limit: int) -> Step:
        if bulk_steps.walked(task):
            self.taken += 1
            if self.taken == self.steps + 1:
                self.clock.advance(max(0, self.expires_at - self.clock.now_ms()) / 1000 + 0.05)
        return await self.inner.step(conn, task, limit)


TOTAL, FANOUT, STEPS = 60, 4, 5  # the grant expires after 5 steps of 3 nodes: 1 + 15 carried
SHAPE = trees.shape(TOTAL, FANOUT)  # (parent index, is folder): 1-4 hold 5-16, 5-14 hold 17-59


def _paths() -> list[str]:
    found: list[str] = []
    for index, (parent, folder) in enumerate(SHAPE):
        name = "top" if parent < 0 else (f"d{index}" if folder else f"f{index}.txt")
        found.append(f"{found[parent] if parent >= 0 else ''}/{name}")
    return found


PATHS = _paths()  # of each node ``trees.seed_tree`` makes, in its (and the snapshot's) order


def under(nodes: set[int]) -> set[int]:
    """The nodes and every node under them."""
    found = set(nodes)
    for i, (parent, _) in enumerate(SHAPE):  # parents come first
        if parent in found:
            found.add(i)
    return found


def above(nodes: set[int]) -> set[int]:
    """The folders above the nodes."""
    found = set()
    for i in nodes:
        while (i := SHAPE[i][0]) >= 0:
            found.add(i)
    return found


def entries(nodes: set[int]) -> list[tuple[str, str, int | None]]:
    """The nodes as ``tree_of`` lists them."""
    return sorted(
        (PATHS[i], "FOLDER", None) if SHAPE[i][1] else (PATHS[i], "FILE", trees.FILE_SIZE)
        for i in nodes
    )


def expiring(
    server: LiveServer,
    st: Storage,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    before: Callable[[Any, Any, trees.Seeded], object] = lambda *_: None,
) -> tuple[Any, Any, trees.Seeded, Storage]:
    """A source space holding a seeded /top, an APP target space (both set up further by
    ``before``), and bob: EDITOR on the source, and on the target for ten seconds only;
    after STEPS steps, the engine's move handler moves the clock past that grant's expiry."""
    services = server.services
    source, target = st.new_space(), st.new_space(owner_type="APP")
    account = trees.Account(st.actor(), st.token)
    seeded = server.run(
        trees.seed_tree(services, account, int(source.id), "top", TOTAL, fanout=FANOUT)
    )
    before(source, target, seeded)
    bob = user(server, tenant, "bob")
    st.add_permission(source.id, "0", "EDITOR", [("USER", bob)])
    # Ten seconds: time for the first STEPS steps on a busy machine, and a jump shorter than a
    # task's lease (30 s), which step STEPS + 1 holds while it moves the clock.
    st.add_permission(target.id, "0", "EDITOR", [("USER", bob)], duration=10)
    p = schema.permissions

    async def expiry() -> int:
        async with services.db.read() as conn:
            stmt = sa.select(p.c.expires_at).where(p.c.space_id == int(target.id))
            return int((await conn.execute(stmt)).scalar_one())

    handler = ExpiringAfter(
        services.engine.handlers[moves.MovePayload.kind], STEPS, server.clock, server.run(expiry())
    )
    monkeypatch.setitem(services.engine.handlers, moves.MovePayload.kind, handler)  # type: ignore[arg-type]
    return source, target, seeded, st.as_user(bob)


@pytest.mark.parametrize(
    ("recycled", "followed"),
    [
        ((), set()),
        # Folders 2 and 8 were carried, but in the bin: what lies in them follows them, even
        # the nodes not carried yet (37-52, 33-36). File 57 stays, in the bin still.
        ((2, 8, 57), under({9, 10, 11, 12, 8}) - {8, 9, 10, 11, 12}),
    ],
    ids=["live", "with-recycled-entries"],
)
def test_a_move_across_spaces_stops_where_its_grant_expired(
    server: LiveServer,
    st: Storage,
    tenant: Tenant,
    bin_id: str,
    monkeypatch: pytest.MonkeyPatch,
    recycled: tuple[int, ...],
    followed: set[int],
) -> None:

    def recycle(source: Any, target: Any, seeded: trees.Seeded) -> None:
        for i in recycled:
            done = st.delete(source.id, str(seeded.node_ids[i]), to_recycle_bin=True)
            if done.async_:
                st.wait_task(done.task_id)

    source, target, seeded, as_bob = expiring(server, st, tenant, monkeypatch, recycle)
    carol = user(server, tenant, "carol")
    for i in (5, 59):  # one node carried, one left
        st.add_permission(source.id, str(seeded.node_ids[i]), "READER", [("USER", carol)])

    listen(server, tenant)
    moved = as_bob.move(source.id, str(seeded.root_id), target.id, preserve_permissions=True)
    assert moved.async_ is True and moved.dentry.space_id == target.id
    task = as_bob.wait_task(moved.task_id)
    carried = 1 + STEPS * CHUNK  # the folder (in the request), then 5 steps
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "FAIL", TOTAL, carried + len(followed), TOTAL - carried - len(followed),
    )  # fmt: skip
    assert task.fail_message == "permissionDenied"

    # What was carried is in the target; the rest stays in the source, under a new /top (where
    # the folder was) with the folders above it made again.
    hidden = under(set(recycled))
    left = set(range(carried, TOTAL)) - followed
    assert tree_of(st, target.id) == entries(set(range(carried)) - hidden)
    assert tree_of(st, source.id) == entries((left | above(left)) - hidden)
    last = st.get_dentry(source.id, str(seeded.node_ids[-1]))  # the nodes left keep their ids
    assert last.path == PATHS[-1]
    remade = st.get_dentry(source.id, last.parent_id)
    assert remade.creator_id == as_bob.union_id and int(remade.id) not in seeded.node_ids
    assert st.used_quota(source.id) + st.used_quota(target.id) == seeded.stored
    settle(server)  # each space's usedQuota is exactly its versions' bytes
    # Its events: the folder left the source and came into the target (the request's); then
    # the folder that takes back what stayed came into the source (a split).
    root = str(seeded.root_id)
    home = next(d["id"] for d in st.raw_children(source.id) if d["name"] == "top")
    assert home not in (root, remade.id)
    assert heard(server, tenant) == [
        ("storage_dentry_delete", "move", source.id, root, "top", as_bob.union_id),
        ("storage_dentry_create", "move", target.id, root, "top", as_bob.union_id),
        ("storage_dentry_create", "split", source.id, home, "top", as_bob.union_id),
    ]
    # The grants carried along: the carried node's in the target, the one left's back home.
    assert grants_in(server, seeded.node_ids[5], seeded.node_ids[59]) == [
        int(target.id), int(source.id),
    ]  # fmt: skip

    # The entries in the bin restore where they now are, their content whole.
    for i in recycled:
        st.restore_recycle_item(bin_id, item_of(st, bin_id, str(seeded.node_ids[i])).id)
    if recycled:
        assert tree_of(st, target.id) == entries(set(range(carried)) | followed | {2, 8})
        assert tree_of(st, source.id) == entries(left | above(left))
        settle(server)


def test_a_merging_move_stops_merging_where_its_grant_expired(
    server: LiveServer, st: Storage, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An OVERWRITE move onto a folder of the same name: what would still merge once the grant
    expired fails, with its subtree; the content of the folders already moved in whole goes on
    moving, and the merged folders left empty are removed."""
    source, target, seeded, as_bob = expiring(
        server, st, tenant, monkeypatch,
        lambda _, target, __: build(st, target.id, {"top": {f"d{i}": {} for i in range(1, 5)}}),
    )  # fmt: skip
    moved = as_bob.move(source.id, str(seeded.root_id), target.id, conflict_strategy="OVERWRITE")
    task = as_bob.wait_task(moved.task_id)
    # d1-d4 merged, 5-15 moved in 5 steps; then 16-20 (under the merged d3 and d4) would merge:
    # they fail; what lies in 5-14, moved already, follows.
    assert (task.status, task.total_count, task.success_count, task.fail_count) == (
        "FAIL", TOTAL, TOTAL - 5, 5,
    )  # fmt: skip
    assert task.fail_message == "permissionDenied"
    stayed = {16, 17, 18, 19, 20}
    assert tree_of(st, source.id) == entries(stayed | {0, 3, 4})
    assert tree_of(st, target.id) == entries(set(range(TOTAL)) - stayed)
    settle(server)


# --- the recycle bin ----------------------------------------------------------------------------


def test_a_non_admin_editor_round_trip_keeps_quota_blobs_and_grants_exact(
    server: LiveServer, st: Storage, tenant: Tenant, bin_id: str
) -> None:
    space = st.new_space()
    work = st.add_folder(space.id, "work")
    bob, carol = user(server, tenant, "bob"), user(server, tenant, "carol")
    st.add_permission(space.id, work.id, "EDITOR", [("USER", bob)])
    as_bob, as_carol = st.as_user(bob), st.as_user(carol)
    a = as_bob.upload(space.id, b"a" * 10, "a.txt", work.id)
    as_bob.upload(space.id, b"b" * 4, "a.txt", work.id, conflict_strategy="OVERWRITE")
    docs = as_bob.add_folder(space.id, "docs", work.id)
    c = as_bob.upload(space.id, b"c" * 7, "c.txt", docs.id)
    as_bob.copy(space.id, c.id, space.id, work.id)  # /work/c.txt shares c's blob
    st.add_permission(space.id, docs.id, "READER", [("USER", carol)])
    st.add_permission(space.id, c.id, "DOWNLOADER", [("USER", carol)])
    blobs = blobs_of(server, a.id, c.id)
    assert st.used_quota(space.id) == 28 and refcounts(server, blobs) == [1, 1, 2]

    assert as_bob.delete(space.id, a.id, to_recycle_bin=True).async_ is False
    assert as_bob.delete(space.id, docs.id, to_recycle_bin=True).async_ is True
    assert [i.dentry_id for i in as_bob.recycle_items(bin_id)] == [docs.id, a.id]
    assert [i.dentry_id for i in as_carol.recycle_items(bin_id)] == [docs.id]
    assert st.used_quota(space.id) == 28 and refcounts(server, blobs) == [1, 1, 2]
    assert grants_on(server, docs.id, c.id) == 2  # in the bin, an entry keeps its grants

    back = as_bob.restore_recycle_item(bin_id, item_of(as_bob, bin_id, docs.id).id)
    assert as_bob.wait_task(back.task_id).status == "SUCCESS"
    assert as_carol.download(space.id, c.id) == b"c" * 7  # and has them again when restored
    assert as_bob.delete_recycle_item(bin_id, item_of(as_bob, bin_id, a.id).id).success is True
    assert st.used_quota(space.id) == 14 and refcounts(server, blobs) == [0, 0, 2]

    as_bob.delete(space.id, docs.id, to_recycle_bin=True)
    as_bob.delete_recycle_items(bin_id, [item_of(as_bob, bin_id, docs.id).id])
    settle(server)
    assert st.used_quota(space.id) == 7 and refcounts(server, blobs) == [0, 0, 1]
    assert grants_on(server, docs.id, c.id) == 0  # purged for good: the grants went too
    assert grants_on(server, work.id) == 1
    assert tree_of(st, space.id) == [("/work", "FOLDER", None), ("/work/c.txt", "FILE", 7)]


def test_the_bin_shows_each_operator_what_they_may_read(
    server: LiveServer, st: Storage, tenant: Tenant, bin_id: str
) -> None:
    space, other = st.new_space(), st.new_space()
    shared = st.add_folder(space.id, "shared")
    bob, eve = user(server, tenant, "bob"), user(server, tenant, "eve")
    st.add_permission(space.id, shared.id, "READER", [("USER", bob)])
    seen = []
    for n in range(12):  # interleaved: what bob may read, and what he may not
        where = shared.id if n % 3 == 0 else "0"
        f = st.upload(space.id if n % 2 else other.id, b"x", f"{n}.txt")
        if n % 3 == 0:
            f = st.upload(space.id, b"x", f"{n}.txt", where)
            seen.append(f.id)
        st.delete(f.space_id, f.id, to_recycle_bin=True)
    st.delete(space.id, shared.id, to_recycle_bin=True)  # bob's READER lies on the entry itself
    seen = [shared.id, *reversed(seen)]
    as_bob, as_eve = st.as_user(bob), st.as_user(eve)
    for size in (1, 2, 5, None):  # every page full but the last
        assert [i.dentry_id for i in as_bob.recycle_items(bin_id, max_results=size)] == seen
    assert as_eve.recycle_items(bin_id) == []
    assert len(st.recycle_items(bin_id)) == 13  # the org's admin sees every item
    hidden = next(i for i in st.recycle_items(bin_id) if i.dentry_id not in seen)
    fails(lambda: as_bob.get_recycle_item(bin_id, hidden.id), 403, "permissionDenied")
    visible = item_of(st, bin_id, seen[1])
    assert as_bob.get_recycle_item(bin_id, visible.id).to_map() == visible.to_map()
    fails(lambda: as_bob.get_recycle_item(bin_id, "424242"), 404, "recycleItemNotExist")


def test_restoring_and_purging_need_editor(
    server: LiveServer, st: Storage, tenant: Tenant, bin_id: str
) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "f")
    made = {n: st.upload(space.id, n.encode(), n, folder.id) for n in ("r", "e", "x", "y")}
    bob = user(server, tenant, "bob")
    st.add_permission(space.id, folder.id, "READER", [("USER", bob)])
    for name in ("e", "x", "y"):
        st.add_permission(space.id, made[name].id, "EDITOR", [("USER", bob)])
    for f in made.values():
        st.delete(space.id, f.id, to_recycle_bin=True)
    items = {n: item_of(st, bin_id, f.id).id for n, f in made.items()}
    as_bob = st.as_user(bob)
    before = [i.to_map() for i in st.recycle_items(bin_id)]

    for call in (
        lambda: as_bob.restore_recycle_item(bin_id, items["r"]),
        lambda: as_bob.delete_recycle_item(bin_id, items["r"]),
        lambda: as_bob.delete_recycle_items(bin_id, [items["e"], items["r"]]),  # all or nothing
    ):
        fails(call, 403, "permissionDenied")
    assert [i.to_map() for i in st.recycle_items(bin_id)] == before

    results = as_bob.restore_recycle_items(bin_id, [items["r"], items["e"], "424242"])
    assert [(r.success, r.error_code) for r in results] == [
        (False, "permissionDenied"), (True, None), (False, "recycleItemNotExist"),
    ]  # fmt: skip
    assert st.get_dentry(space.id, made["e"].id).path == "/f/e"

    # OVERWRITE sends the entry holding the name to the bin: that needs EDITOR on it too.
    st.upload(space.id, b"there", "x", folder.id)
    fails(lambda: as_bob.restore_recycle_item(bin_id, items["x"], conflict_strategy="OVERWRITE"),
          403, "permissionDenied")  # fmt: skip
    # Its folder gone, an entry restores into the space's root: that needs EDITOR there.
    st.delete(space.id, folder.id, to_recycle_bin=True)
    fails(lambda: as_bob.restore_recycle_item(bin_id, items["y"]), 403, "permissionDenied")
    st.add_permission(space.id, "0", "EDITOR", [("USER", bob)])
    assert as_bob.restore_recycle_item(bin_id, items["y"]).dentry_id == made["y"].id
    assert st.get_dentry(space.id, made["y"].id).path == "/y"
    settle(server)


def test_clearing_the_bin_purges_what_the_operator_may_purge(
    server: LiveServer, st: Storage, tenant: Tenant, bin_id: str
) -> None:
    space = st.new_space()
    mine, theirs = st.add_folder(space.id, "mine"), st.add_folder(space.id, "theirs")
    bob = user(server, tenant, "bob")
    st.add_permission(space.id, mine.id, "EDITOR", [("USER", bob)])
    st.add_permission(space.id, theirs.id, "READER", [("USER", bob)])
    for folder in (mine, theirs):
        sub = st.add_folder(space.id, "sub", folder.id)
        st.upload(space.id, b"s" * 3, "s.txt", sub.id)
        loose = st.upload(space.id, b"l" * 5, "l.txt", folder.id)
        st.delete(space.id, sub.id, to_recycle_bin=True)
        st.delete(space.id, loose.id, to_recycle_bin=True)
    assert len(st.as_user(bob).recycle_items(bin_id)) == 4
    assert st.as_user(bob).clear_recycle_bin(bin_id).success is True
    settle(server)
    left = st.recycle_items(bin_id)
    assert sorted(i.original_path for i in left) == ["/theirs/l.txt", "/theirs/sub"]
    assert st.used_quota(space.id) == 8
    assert st.clear_recycle_bin(bin_id).success is True  # the admin's clears the rest
    settle(server)
    assert st.recycle_items(bin_id) == [] and st.used_quota(space.id) == 0


def listen(server: LiveServer, tenant: Tenant) -> None:
    """Subscribe the tenant's app to its org's change events (SubscribeEvent, the SDK)."""
    storage = Storage.of(server, Sdk(server.endpoint), tenant)
    assert storage.subscribe_event("ORG", tenant.corp_id).success is True


def heard(server: LiveServer, tenant: Tenant) -> list[tuple[str, str, str, str, str, str]]:
    """The app's events, oldest first: (type, action, space, dentry, name, operator)."""
    db, app_id = server.services.db, tenant.boot.credentials.app.app_id

    async def go() -> list[Any]:
        async with db.read() as conn:
            return await events.deliveries(conn, tenant.corp_id, app_id, limit=1000)

    rows = sorted(server.run(go()), key=lambda r: int(r["id"]))
    return [
        (
            r["event_type"],
            r["action"],
            str(r["space_id"]),
            str(r["dentry_id"]),
            r["name"],
            r["union_id"],
        )
        for r in rows
    ]
