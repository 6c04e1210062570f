"""store/events.py on every backend: the outbox written with the change, claims that never
overlap and keep a dentry's order, acknowledgements, retries, the pull feed's cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from dingstore.store import base, database, events, schema, xact
from tests.polling import until_async

CORP = "corp-e"
SPACE = 42


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[base.BaseDatabase]:
    opened = await database.open_database(database_url)
    yield opened
    await opened.close()


def _change(dentry_id: int, event_type: str = events.CREATE) -> events.Change:
    return events.Change(event_type, "add", dentry_id, "FILE", f"n{dentry_id}.pdf")


async def _emit(db: base.BaseDatabase, *changes: events.Change, space_id: int = SPACE) -> int:
    async with db.write() as conn:
        return await events.emit(
            conn, corp_id=CORP, space_id=space_id, union_id="u1", now=1000, changes=changes
        )


async def _subscribe(db: base.BaseDatabase, app_id: str, scope: str, scope_id: str) -> None:
    async with db.write() as conn:
        await events.subscribe(conn, CORP, app_id, scope, scope_id, now=1)


async def _claim(db: base.BaseDatabase, app_id: str, now: int = 2000, limit: int = 10) -> list:
    async with db.write() as conn:
        rows = await events.claim(conn, CORP, app_id, owner="w", now=now, lease_ms=100, limit=limit)
    return [(r["dentry_id"], r["attempts"]) for r in rows]


async def test_no_subscriber_no_rows_and_no_announcement(db: base.BaseDatabase) -> None:
    heard: list[int] = []
    db._listeners.setdefault(events.CHANNEL, []).append(lambda: heard.append(1))
    assert await _emit(db, _change(1)) == 0
    assert heard == []
    await _subscribe(db, "app", "SPACE", str(SPACE + 1))  # another space
    await _subscribe(db, "app", "ORG", "other-corp")  # not this org's id
    assert await _emit(db, _change(1)) == 0
    await _subscribe(db, "app", "ORG", CORP)
    assert await _emit(db, _change(1)) == 1
    assert heard == [1]


async def test_one_row_per_app_the_space_scope_winning(db: base.BaseDatabase) -> None:
    await _subscribe(db, "a", "ORG", CORP)
    await _subscribe(db, "a", "SPACE", str(SPACE))
    await _subscribe(db, "a", "SPACE", str(SPACE))  # idempotent
    await _subscribe(db, "b", "ORG", CORP)
    assert await _emit(db, _change(7)) == 2
    async with db.read() as conn:
        rows = await conn.execute(sa.select(schema.events).order_by(schema.events.c.app_id))
        got = [(r.app_id, r.scope, r.scope_id, r.status, r.name) for r in rows]
    assert got == [
        ("a", "SPACE", str(SPACE), "PENDING", "n7.pdf"),
        ("b", "ORG", CORP, "PENDING", "n7.pdf"),
    ]
    async with db.write() as conn:
        await events.unsubscribe(conn, CORP, "a", "SPACE", str(SPACE))
    assert await _emit(db, _change(8)) == 2  # a still hears the org


async def _outbox(db: base.BaseDatabase) -> list[tuple]:
    """Every event row as the outbox holds it, but its id and transaction, in id order: (app,
    scope, scope id, dentry id, then the rest)."""
    e = schema.events.c
    first = [e.app_id, e.scope, e.scope_id, e.dentry_id]
    rest = [c for c in e if c.name not in ("id", "tx", *(c.name for c in first))]
    async with db.read() as conn:
        return [tuple(r) for r in await conn.execute(sa.select(*first, *rest).order_by(e.id))]


async def test_a_batch_writes_what_one_change_at_a_time_writes(db: base.BaseDatabase) -> None:
    """The one-change statement and the batch's rows are built apart: they must agree, for an
    org subscriber, a space subscriber and one subscribed to both, across the batch's chunks."""
    await _subscribe(db, "a", "ORG", CORP)
    await _subscribe(db, "b", "SPACE", str(SPACE))
    await _subscribe(db, "c", "ORG", CORP)
    await _subscribe(db, "c", "SPACE", str(SPACE))
    changes = [_change(i, events.CREATE if i % 2 else events.UPDATE) for i in range(1, 402)]
    for change in changes:
        assert await _emit(db, change) == 3
    one_by_one = await _outbox(db)
    async with db.write() as conn:
        await conn.execute(sa.delete(schema.events))
    assert await _emit(db, *changes) == 3 * len(changes)  # 1,203 rows: two INSERTs
    batched = await _outbox(db)
    assert len(batched) == 3 * len(changes)
    # in the order of the changes, each change's apps together
    assert [r[3] for r in batched[::3]] == [c.dentry_id for c in changes]
    assert sorted(batched) == sorted(one_by_one)
    scopes = {r[:3] for r in batched}
    assert scopes == {("a", "ORG", CORP), ("b", "SPACE", str(SPACE)), ("c", "SPACE", str(SPACE))}


async def test_a_rolled_back_change_leaves_no_event(db: base.BaseDatabase) -> None:
    await _subscribe(db, "a", "ORG", CORP)
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await events.emit(
                conn, corp_id=CORP, space_id=SPACE, union_id="u", now=1, changes=[_change(1)]
            )
            raise RuntimeError("the change fails")
    assert await _claim(db, "a") == []


async def test_claims_keep_each_dentry_in_order_and_never_overlap(
    db: base.BaseDatabase,
) -> None:
    await _subscribe(db, "a", "ORG", CORP)
    await _emit(db, _change(1), _change(2), _change(1, events.UPDATE), _change(3))
    first = await _claim(db, "a")
    assert first == [(1, 1), (2, 1), (3, 1)]  # the update of 1 waits for its create
    assert await _claim(db, "a") == []  # all leased or waiting
    async with db.read() as conn:
        rows = await events.deliveries(conn, CORP, "a")
    by_dentry = {(r["dentry_id"], r["event_type"]): r["id"] for r in rows}
    async with db.write() as conn:
        acked = await events.acknowledge(
            conn, [CORP], ["a"], [by_dentry[(1, events.CREATE)], by_dentry[(2, events.CREATE)]], 5
        )
    assert acked == 2
    assert await _claim(db, "a") == [(1, 1)]  # now the update of 1
    assert await _claim(db, "a", now=2101) == [(1, 2), (3, 2)]  # leases ran out: again, by id


async def test_expired_leases_are_claimed_again_and_retries_wait(db: base.BaseDatabase) -> None:
    await _subscribe(db, "a", "ORG", CORP)
    await _emit(db, _change(1))
    assert await _claim(db, "a", now=2000) == [(1, 1)]
    assert await _claim(db, "a", now=2099) == []
    assert await _claim(db, "a", now=2101) == [(1, 2)]  # the lease ran out: same row again
    row = (await _rows(db))[0]
    async with db.write() as conn:
        stale = events.Retry(row["id"], 1, due_at=5000, error="stale attempt")
        await events.retry_many(conn, CORP, "a", [stale])  # attempt 2 has begun: left alone
    assert (await _rows(db))[0]["last_error"] is None
    async with db.write() as conn:
        await events.retry_many(conn, CORP, "a", [events.Retry(row["id"], 2, 5000, "500")])
    assert (await _rows(db))[0]["last_error"] == "500"
    assert await _claim(db, "a", now=4999) == []
    assert await _claim(db, "a", now=5000) == [(1, 3)]
    async with db.write() as conn:
        given_up = events.Retry(row["id"], 3, due_at=0, error="x", failed=True)
        await events.retry_many(conn, CORP, "a", [given_up])
    assert await _claim(db, "a", now=9999) == []
    assert (await _rows(db))[0]["status"] == "FAILED"
    async with db.write() as conn:
        assert await events.redeliver(conn, CORP, "a", now=10_000, failed=True) == 1
    assert await _claim(db, "a", now=10_000) == [(1, 1)]


async def test_concurrent_claimers_never_take_one_event(db: base.BaseDatabase) -> None:
    await _subscribe(db, "a", "ORG", CORP)
    await _emit(db, *[_change(i) for i in range(1, 41)])

    async def claimer(owner: str) -> list[int]:
        taken: list[int] = []
        for _ in range(10):
            async with db.write() as conn:
                rows = await events.claim(
                    conn, CORP, "a", owner=owner, now=2000, lease_ms=10_000, limit=3
                )
            taken += [r["id"] for r in rows]
            await asyncio.sleep(0)
        return taken

    got = await asyncio.gather(*(claimer(f"w{i}") for i in range(4)))
    every = [i for ids in got for i in ids]
    assert len(every) == len(set(every)) == 40


async def test_the_feed_pages_in_commit_order(db: base.BaseDatabase) -> None:
    await _subscribe(db, "a", "ORG", CORP)
    async with db.read() as conn:
        assert await events.latest(conn, CORP, "a", await events.horizon(conn)) == events.Cursor()
    await _emit(db, _change(1), _change(2), _change(3))
    await _settled(db)
    async with db.read() as conn:
        at = await events.horizon(conn)
        page = await events.feed(conn, CORP, "a", events.Cursor(), 2, at)
        assert [r["dentry_id"] for r in page] == [1, 2]
        after = events.Cursor(int(page[-1]["tx"]), int(page[-1]["id"]))
        assert [r["dentry_id"] for r in await events.feed(conn, CORP, "a", after, 5, at)] == [3]
        end = await events.latest(conn, CORP, "a", at)
        assert await events.feed(conn, CORP, "a", end, 5, at) == []
    assert events.Cursor.parse(str(end)) == end
    with pytest.raises(ValueError):
        events.Cursor.parse("12")


async def _settled(db: base.BaseDatabase) -> None:
    """Until no transaction of the database older than the app's events runs (store/xact.py)."""

    async def shown() -> bool:
        async with db.read() as conn:
            return not await events.held_back(
                conn, CORP, "a", events.Cursor(), await events.horizon(conn)
            )

    await until_async(shown, timeout=30, what="the events settled")


async def test_held_back_events_are_told_apart(db: base.BaseDatabase) -> None:
    """``held_back``: committed events ``feed`` does not show yet because an older transaction
    runs (PostgreSQL); never on SQLite, whose one writer commits in id order. The statements of
    one look agree on the line, and "committed before the read" is the read's first snapshot."""
    await _subscribe(db, "a", "ORG", CORP)
    async with db.read() as conn:
        assert not await events.held_back(
            conn, CORP, "a", events.Cursor(), await events.horizon(conn)
        )
    if db.dialect != "postgresql":
        await _emit(db, _change(1))
        async with db.read() as conn:
            at = await events.horizon(conn)
            assert at.line == xact.NO_LINE and at.began is None
            assert not await events.held_back(conn, CORP, "a", events.Cursor(), at)
        return
    older_began, release = asyncio.Event(), asyncio.Event()

    async def older() -> None:
        async with db.write() as conn:
            await conn.execute(sa.text("SELECT pg_current_xact_id()"))
            older_began.set()
            await release.wait()

    running = asyncio.create_task(older())
    await older_began.wait()
    async with db.read() as conn:
        before = await events.horizon(conn)  # a read that began before the event committed
    await _emit(db, _change(1))
    async with db.read() as conn:
        at = await events.horizon(conn)
        assert await events.feed(conn, CORP, "a", events.Cursor(), 5, at) == []
        assert await events.held_back(conn, CORP, "a", events.Cursor(), at)
        # a read that began before it committed need not wait for it once its wait is over
        later = await events.horizon(conn, before.began)
        assert await events.held_back(conn, CORP, "a", events.Cursor(), later)
        assert not await events.held_back(conn, CORP, "a", events.Cursor(), later, before_read=True)
        assert await events.held_back(conn, CORP, "a", events.Cursor(), at, before_read=True)
    release.set()
    await running
    async with db.read() as conn:
        # the older transaction has ended, but a look keeps its own line: what its feed held
        # back, its held_back still counts (a new line in between would have lost the event)
        assert await events.held_back(conn, CORP, "a", events.Cursor(), at)
        for _ in range(500):  # a new look: once no older transaction of the database runs
            now = await events.horizon(conn)
            if not await events.held_back(conn, CORP, "a", events.Cursor(), now):
                break
            await asyncio.sleep(0.02)
        shown = await events.feed(conn, CORP, "a", events.Cursor(), 5, now)
        assert [r["dentry_id"] for r in shown] == [1]


async def _rows(db: base.BaseDatabase) -> list:
    async with db.read() as conn:
        return await events.deliveries(conn, CORP, "a")
