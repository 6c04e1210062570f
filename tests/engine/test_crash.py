"""Crash safety of the task engine: a ``dingstore serve`` process is SIGKILLed again and again
while it copies, moves across spaces and permanently deletes three 20k-node trees, and
restarted on the same store each time. Every task must still end SUCCESS with exact counts, and
the trees, quotas and blob references must be exactly right: nothing lost, nothing done twice.

A kill counts for a task when the killed process held the task's lease at that moment (it had
claimed it and was in, or between, its steps). Each round waits for the new process to take
the tasks over, lets it work 0.05-0.6 s, and kills it. Steps settle ``crashes.CHUNK`` = 100
nodes: with 500 a task of 20k nodes lasts under a second of work on SQLite, too short to be
killed ``KILLS`` times at such moments. The processes and checks are shared with the chaos bench
(``tests/engine/crashes.py``, ``bench/chaos.py``).
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.settings import Settings
from dingstore.store import base, events, schema
from tests.engine import trees
from tests.engine.crashes import LEASE, RUNNABLE, Server, assert_purged, owned_by
from tests.engine.trees import Store, d, v
from tests.live import Sdk
from tests.storage import Storage

TREE = 20_000  # nodes per tree, its top folder included
KILLS = 5  # SIGKILLs each task must take while the killed process works on it


@pytest.mark.heavy(55)
def test_tasks_finish_exactly_through_repeated_sigkills(tmp_path: Path, database_url: str) -> None:
    began = time.monotonic()
    store = Store(Settings(data_dir=tmp_path, database_url=database_url))
    server = Server(tmp_path, database_url)
    try:
        run(store, server, began)
    finally:
        server.stop()
        store.close()


def run(store: Store, server: Server, began: float) -> None:
    services, db = store.services, store.db
    acct = store.run(trees.new_account(services))
    names = ("copy-from", "copy-to", "move-from", "move-to", "purge-in")
    copy_from, copy_to, move_from, move_to, purge_in = (
        store.run(trees.new_space(services, acct, name)) for name in names
    )

    def seed(space: int, name: str, total: int, fanout: int = 100) -> trees.Seeded:
        return store.run(trees.seed_tree(services, acct, space, name, total, fanout=fanout))

    copied = seed(copy_from, "copied", TREE)
    moved = seed(move_from, "moved", TREE)
    purged = seed(purge_in, "purged", TREE)
    # Bystanders: what the tasks must leave alone.
    kept_by_move = seed(move_from, "kept", 60, fanout=8)
    already = seed(move_to, "already", 40, fanout=8)
    kept_by_purge = seed(purge_in, "kept", 60, fanout=8)
    before = {s: store.run(trees.tree(db, s)) for s in (copy_from, move_from, move_to, purge_in)}
    seeded = time.monotonic()

    server.start()
    sdk = Sdk(f"127.0.0.1:{server.port}")
    st = Storage(None, sdk, acct.token, acct.union_id)  # type: ignore[arg-type]  # SDK calls only
    # SubscribeEvent after the seeding: only the tasks' changes emit
    assert st.subscribe_event("ORG", acct.actor.corp_id).success is True
    started = {
        "copy": st.copy(str(copy_from), str(copied.root_id), str(copy_to)),
        "move": st.move(str(move_from), str(moved.root_id), str(move_to)),
        "delete": st.delete(str(purge_in), str(purged.root_id), to_recycle_bin=False),
    }
    for result in started.values():
        assert result.async_ is True and result.task_id
    ids = {op: int(result.task_id) for op, result in started.items()}

    # Kill the server at random moments while it works on the tasks, and start it again.
    rng_seed = random.randrange(1 << 30)
    rng = random.Random(rng_seed)
    kills = dict.fromkeys(ids, 0)
    trail: list[dict[str, int]] = []  # tasks' progress at each kill
    # The loop ends as soon as every task has taken its kills; the deadline is only a safety
    # net, wide enough for a loaded machine (a restart there takes seconds, not a fraction).
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        rows = store.run(trees.task_rows(db))
        running = [op for op, i in ids.items() if rows[i].status in RUNNABLE]
        if not running or all(kills[op] >= KILLS for op in running):
            break
        # Wait for this process's workers to take the tasks over (the dead one's leases must
        # expire first), then let them work a random while.
        until = time.monotonic() + LEASE + 5
        while time.monotonic() < until and not all(
            owned_by(rows[ids[op]], server.pid) or rows[ids[op]].status not in RUNNABLE
            for op in running
        ):
            time.sleep(0.01)
            rows = store.run(trees.task_rows(db))
        time.sleep(rng.uniform(0.05, 0.6))
        pid = server.pid
        server.kill()
        rows = store.run(trees.task_rows(db))
        for op, i in ids.items():
            if rows[i].status in RUNNABLE and owned_by(rows[i], pid):
                kills[op] += 1
        trail.append({op: int(rows[i].success_count) for op, i in ids.items()})
        server.start()
    killed = time.monotonic()

    done = {op: st.wait_task(str(i), timeout=60) for op, i in ids.items()}
    finished = time.monotonic()
    server.stop()
    print(
        f"\n{db.dialect} seed {rng_seed}: seeded in {seeded - began:.1f} s; "
        f"{server.starts - 1} restarts, kills mid-task {kills}, in {killed - seeded:.1f} s; "
        f"finished {finished - killed:.1f} s later; progress at the kills {trail}"
    )

    for op, task in done.items():
        assert (task.status, task.total_count, task.success_count, task.fail_count) == (
            "SUCCESS", TREE, TREE, 0,
        ), (op, task.fail_message)  # fmt: skip
        assert kills[op] >= KILLS, f"{op} ended after only {kills[op]} kills"

    def tree(space: int) -> list[trees.Entry]:
        return store.run(trees.tree(db, space))

    def quota(space: int) -> int:
        return store.run(trees.used_quota(db, space))

    def count(table: sa.Table, clause: Any) -> int:
        return store.run(trees.count_where(db, table, clause))

    # Copy: the target holds exactly the source's tree, once; each file with one version.
    assert tree(copy_from) == before[copy_from]
    assert tree(copy_to) == before[copy_from]
    assert count(d, d.c.space_id == copy_to) == TREE
    assert quota(copy_from) == copied.stored
    assert quota(copy_to) == copied.current
    assert store.run(trees.property_count(db, copy_to)) == copied.properties

    # Move: everything in the target, nothing left in the source, the quota moved with it.
    span = d.c.id.between(moved.node_ids[0], moved.node_ids[-1])
    assert tree(move_to) == sorted(
        before[move_to] + [e for e in before[move_from] if e[0].startswith("/moved")]
    )
    assert tree(move_from) == [e for e in before[move_from] if e[0].startswith("/kept")]
    assert count(d, span & (d.c.space_id == move_to)) == TREE
    versions = v.c.dentry_id.between(moved.node_ids[0], moved.node_ids[-1])
    assert count(v, versions & (v.c.space_id != move_to)) == 0
    assert (quota(move_from), quota(move_to)) == (
        kept_by_move.stored, already.stored + moved.stored,
    )  # fmt: skip

    # Permanent delete: nothing of the subtree left, its blobs released, the quota back.
    assert_purged(store, purged)
    assert tree(purge_in) == [e for e in before[purge_in] if e[0].startswith("/kept")]
    assert quota(purge_in) == kept_by_purge.stored

    # The outbox, written in the steps' transactions: exactly one create per copied node, none
    # twice whatever the kills; the move and the delete one event per root (their requests').
    found = store.run(outbox(db, acct))
    copies = [(t, a, n) for t, a, s, n in found if s == copy_to]
    assert len(copies) == TREE
    assert {(t, a) for t, a, _ in copies} == {(events.CREATE, "copy")}
    copied_ids = store.run(ids_in(db, copy_to))
    assert sorted(n for _, _, n in copies) == sorted(copied_ids)
    assert sorted((t, a, s, n) for t, a, s, n in found if s != copy_to) == sorted(
        [
            (events.DELETE, "move", move_from, moved.root_id),
            (events.CREATE, "move", move_to, moved.root_id),
            (events.DELETE, "delete", purge_in, purged.root_id),
        ]
    )

    # And the whole store keeps every invariant: blob references, quotas, no task leftovers.
    assert store.run(trees.problems(db)) == []


async def ids_in(db: base.BaseDatabase, space_id: int) -> list[int]:
    async with db.read() as conn:
        found = await conn.execute(sa.select(d.c.id).where(d.c.space_id == space_id))
    return [int(i) for i in found.scalars()]


async def outbox(db: base.BaseDatabase, acct: trees.Account) -> list[tuple[str, str, int, int]]:
    """(type, action, space, dentry) of every event the app's outbox holds."""
    e = schema.events.c
    query = sa.select(e.event_type, e.action, e.space_id, e.dentry_id).where(
        e.corp_id == acct.actor.corp_id, e.app_id == acct.actor.app_id
    )
    async with db.read() as conn:
        rows = (await conn.execute(query)).all()
    return [(str(t), str(a), int(s), int(n)) for t, a, s, n in rows]
