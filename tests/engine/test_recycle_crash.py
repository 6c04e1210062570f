"""Crash safety of the recycle bin: a ``dingstore serve`` process is SIGKILLed again and again
while it restores a batch of folders from one org's bin and purges another org's cleared bin,
and restarted on the same store each time. Nothing may be lost or done twice: the trees, quotas,
blob references and task counts must come out exact.

* ClearRecycleBin (two 20k-node folders holding nested items, and loose items): its purge
  tasks are killed as tests/engine/test_crash.py kills tasks: each round waits for the new
  process to hold their leases, and each task must take ``KILLS`` kills while it did.
* RestoreRecycleItems (30 folders, 20k nodes): each restore is one O(1) transaction and a
  counting task that ends in its first step, so these kills land inside the request: in the
  same rounds, the batch is asked for (after recycling again what the last round restored) and
  the server killed once a random number of its items are restored (or, sooner, once the purges
  settled ``PURGE_STRIDE`` nodes in the round, so that each purge takes its kills before it
  ends); a kill counts when it cut the batch short (some items restored, some not). Whatever a
  kill left half done would show at the end in the trees, kept sizes and quotas; each counting
  task must have counted exactly.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.settings import Settings
from dingstore.store.schema import recycle_items, tasks
from tests.engine import trees
from tests.engine.crashes import LEASE, RUNNABLE, Server, assert_purged, owned_by
from tests.engine.trees import Store, d
from tests.live import Sdk
from tests.storage import Storage

RESTORED = 30  # folders restored in one batch (the most RestoreRecycleItems takes)
RESTORED_SIZE = 667  # nodes each: 20k in all
PURGED_SIZE = 20_000  # nodes of each of the two folders ClearRecycleBin purges
KILLS = 5
# Nodes the two purges may settle in a round before its kill: however slowly the batch restore
# goes (it waits for the purges' write lock on SQLite), each purge is killed often enough.
PURGE_STRIDE = PURGED_SIZE // (2 * KILLS)


@pytest.mark.heavy(60)
def test_batch_restore_and_clear_survive_repeated_sigkills(
    tmp_path: Path, database_url: str
) -> None:
    store = Store(Settings(data_dir=tmp_path, database_url=database_url))
    server = Server(tmp_path, database_url)
    try:
        run(store, server)
    finally:
        server.stop()
        store.close()


def run(store: Store, server: Server) -> None:
    began = time.monotonic()
    services, db = store.services, store.db
    restorer, purger = (store.run(trees.new_account(services)) for _ in range(2))
    restore_in = store.run(trees.new_space(services, restorer, "r"))
    purge_in = store.run(trees.new_space(services, purger, "p"))

    def seed(acct: trees.Account, space: int, name: str, total: int, **kw: Any) -> trees.Seeded:
        return store.run(trees.seed_tree(services, acct, space, name, total, analyze=False, **kw))

    restored = [
        seed(restorer, restore_in, f"r{n}", RESTORED_SIZE, fanout=20) for n in range(RESTORED)
    ]
    purged = [seed(purger, purge_in, f"p{n}", PURGED_SIZE) for n in range(2)]
    kept = seed(purger, purge_in, "kept", 60, fanout=8)
    store.run(trees.analyze_tables(services))
    before = store.run(trees.tree(db, restore_in))
    bystander = [e for e in store.run(trees.tree(db, purge_in)) if e[0].startswith("/kept")]
    seeded = time.monotonic()

    server.start()
    sdk = Sdk(f"127.0.0.1:{server.port}")
    # SDK calls only: no in-process server behind these
    rs = Storage(None, sdk, restorer.token, restorer.union_id)  # type: ignore[arg-type]
    ps = Storage(None, sdk, purger.token, purger.union_id)  # type: ignore[arg-type]
    restore_bin = rs.get_recycle_bin(restorer.actor.corp_id).id
    purge_bin = ps.get_recycle_bin(purger.actor.corp_id).id

    for tree in restored:
        rs.delete(str(restore_in), str(tree.root_id), to_recycle_bin=True)
    restorer_tasks = set(store.run(trees.task_rows(db)))
    # The bin to clear: in each big folder two subfolders and a file of a third recycled first
    # (items inside the folder's item), then the folder; a loose file. Cleared last, so that the
    # first round finds its purges at their start.
    for tree in purged:
        folders, _ = _children(store, tree.root_id)
        _, files = _children(store, folders[2])
        for node in (*folders[:2], files[0]):
            ps.delete(str(purge_in), str(node), to_recycle_bin=True)
        ps.delete(str(purge_in), str(tree.root_id), to_recycle_bin=True)
    loose = ps.upload(str(purge_in), b"loose", "loose.txt")
    ps.delete(str(purge_in), loose.id, to_recycle_bin=True)
    assert len(ps.recycle_items(purge_bin)) == 2 * 4 + 1
    assert ps.clear_recycle_bin(purge_bin).success is True
    assert ps.recycle_items(purge_bin) == []
    rows = store.run(trees.task_rows(db))
    ids = [i for i, r in rows.items() if r.kind == "delete" and r.status in RUNNABLE]
    assert len(ids) == 2
    purger_tasks = set(rows) - restorer_tasks  # every later task is the restorer's

    rng_seed = random.randrange(1 << 30)
    rng = random.Random(rng_seed)
    kills = dict.fromkeys(ids, 0)
    restore_kills, rounds = 0, 0
    trail: list[list[int]] = []  # the purge tasks' progress at each kill
    waiting = recycle_items.c.corp_id == restorer.actor.corp_id
    deadline = time.monotonic() + 240  # a safety net: the loop ends when the kills are taken
    while True:
        rows = store.run(trees.task_rows(db))
        running = [i for i in ids if rows[i].status in RUNNABLE]
        if restore_kills >= KILLS and all(kills[i] >= KILLS for i in running):
            break
        assert time.monotonic() < deadline, (restore_kills, kills)
        rounds += 1
        # Put back in the bin what the last batch restored, and wait for this process's workers
        # to take the purges over (the dead one's leases must expire first).
        in_bin = {i.dentry_id for i in rs.recycle_items(restore_bin)}
        for tree in restored:
            if str(tree.root_id) not in in_bin:
                rs.delete(str(restore_in), str(tree.root_id), to_recycle_bin=True)
        until = time.monotonic() + LEASE + 5
        while time.monotonic() < until and not all(
            owned_by(rows[i], server.pid) or rows[i].status not in RUNNABLE for i in running
        ):
            time.sleep(0.01)
            rows = store.run(trees.task_rows(db))
        items = [i.id for i in rs.recycle_items(restore_bin)]
        assert len(items) == RESTORED
        settled = store.run(_settled(db, running)) + PURGE_STRIDE
        caller = threading.Thread(target=_restore, args=(rs, restore_bin, items))
        caller.start()
        # Kill once the batch is part way, at a random item: a fixed delay missed it on a loaded
        # machine, where the first item can wait seconds for the purges' write lock.
        _await_kill(store, waiting, rng.randrange(1, RESTORED), caller, running, settled)
        pid = server.pid
        server.kill()
        caller.join()
        left = store.run(trees.count_where(db, recycle_items, waiting))
        restore_kills += 0 < left < RESTORED
        rows = store.run(trees.task_rows(db))
        for i in ids:
            if rows[i].status in RUNNABLE and owned_by(rows[i], pid):
                kills[i] += 1
        trail.append([int(rows[i].success_count) for i in ids])
        server.start()
    killed = time.monotonic()

    items = [i.id for i in rs.recycle_items(restore_bin)]
    if items:
        assert all(r.async_ for r in rs.restore_recycle_items(restore_bin, items))
    counting = [
        i
        for i, r in store.run(trees.task_rows(db)).items()
        if r.kind == "count" and i not in purger_tasks
    ]
    done = [ps.wait_task(str(i), timeout=60) for i in ids]
    for i in counting:
        rs.wait_task(str(i), timeout=60)
    finished = time.monotonic()
    server.stop()
    print(
        f"\n{db.dialect} seed {rng_seed}: seeded in {seeded - began:.1f} s; {rounds} rounds in "
        f"{killed - seeded:.1f} s: {restore_kills} cut the batch restore short, purge tasks "
        f"killed mid-task {list(kills.values())} (progress at the kills {trail}); finished "
        f"{finished - killed:.1f} s later"
    )

    # Restore: every folder back where it was, exactly; each counting task (one per recycle,
    # one per restore) counted its folder exactly.
    assert store.run(trees.tree(db, restore_in)) == before
    assert store.run(trees.used_quota(db, restore_in)) == sum(t.stored for t in restored)
    rows = store.run(trees.task_rows(db))
    assert len(counting) >= 2 * RESTORED
    assert {(rows[i].status, rows[i].total_count, rows[i].success_count) for i in counting} == {
        ("SUCCESS", RESTORED_SIZE, RESTORED_SIZE)
    }

    # Clear: each purge covered its folder whole, nested items included; nothing of either
    # folder is left, its blobs are released, the quota is the bystander's.
    for task in done:
        assert (task.status, task.total_count, task.success_count, task.fail_count) == (
            "SUCCESS", PURGED_SIZE, PURGED_SIZE, 0,
        ), task.fail_message  # fmt: skip
    assert min(kills.values()) >= KILLS, kills

    for tree in purged:
        assert_purged(store, tree)
    assert store.run(trees.tree(db, purge_in)) == bystander
    assert store.run(trees.count_where(db, d, d.c.space_id == purge_in)) == kept.size
    assert store.run(trees.used_quota(db, purge_in)) == kept.stored

    # And the whole store keeps every invariant: blob references, quotas, no task leftovers.
    assert store.run(trees.problems(db)) == []


def _restore(st: Storage, bin_id: str, items: list[str]) -> None:
    """RestoreRecycleItems, in a thread the test kills the server under."""
    try:
        st.restore_recycle_items(bin_id, items)
    except Exception:  # the server died under it
        return


def _await_kill(
    store: Store,
    waiting: Any,
    count: int,
    caller: threading.Thread,
    purges: list[int],
    settled: int,
) -> None:
    """Until ``count`` of the batch's items left the bin, the call ended, the purges settled
    ``settled`` nodes in all, or 20 s went by."""
    until = time.monotonic() + 20
    while caller.is_alive() and time.monotonic() < until:
        left = store.run(trees.count_where(store.db, recycle_items, waiting))
        if left <= RESTORED - count or store.run(_settled(store.db, purges)) >= settled:
            return
        time.sleep(0.002)


async def _settled(db: Any, ids: list[int]) -> int:
    """The nodes the tasks ``ids`` have settled, in all."""
    async with db.read() as conn:
        stmt = sa.select(sa.func.coalesce(sa.func.sum(tasks.c.success_count), 0))
        return int((await conn.execute(stmt.where(tasks.c.id.in_(ids)))).scalar_one())


def _children(store: Store, folder_id: int) -> tuple[list[int], list[int]]:
    """The folder's child folders and child files."""

    async def read() -> list[Any]:
        async with store.db.read() as conn:
            stmt = sa.select(d.c.id, d.c.type).where(d.c.parent_id == folder_id).order_by(d.c.id)
            return list((await conn.execute(stmt)).all())

    rows = store.run(read())
    return (
        [int(i) for i, kind in rows if kind == "FOLDER"],
        [int(i) for i, kind in rows if kind == "FILE"],
    )
