"""The task queue's contract (``engine/queue.py``) on every database: claims take the oldest
runnable task, two claimers never get one task, an expired lease is taken over, a stalled but
live worker is fenced out when it resumes and its step rolled back, and ``finish`` adds the
counts up. Leases expire by moving a ``ManualClock``, never by sleeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.clock import ManualClock
from dingstore.engine import queue
from dingstore.engine.worker import Step, WorkerPool
from dingstore.store import base, database, schema
from tests import polling

t = schema.tasks
CORP = "dingqueue"
LEASE_MS = 30_000  # long: a lease expires when the test moves the clock, never on its own

# What the test handler did, one row per unit it settled: a unit applied twice shows here.
_ledger_metadata = sa.MetaData()
ledger = sa.Table(
    "queue_test_ledger",
    _ledger_metadata,
    sa.Column("task_id", sa.BigInteger, nullable=False),
    sa.Column("unit", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(16), nullable=False),
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[base.BaseDatabase]:
    opened = await database.open_database(database_url)
    async with opened.write() as conn:
        await conn.execute(sa.insert(schema.orgs).values(corp_id=CORP, name="q", created_at=1))
        await conn.run_sync(_ledger_metadata.create_all)
    yield opened
    await opened.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


async def add_task(
    db: base.BaseDatabase, task_id: int, *, created_at: int = 1, **values: Any
) -> None:
    row: dict[str, Any] = {
        "id": task_id, "corp_id": CORP, "creator_id": "u", "app_id": None, "kind": "units",
        "status": "INIT", "success_count": 0, "fail_count": 0, "payload": {"units": 30},
        "created_at": created_at, "modified_at": created_at,
    }  # fmt: skip
    async with db.write() as conn:
        await conn.execute(sa.insert(t).values(**(row | values)))


async def claim(db: base.BaseDatabase, owner: str, clock: ManualClock) -> queue.Claimed | None:
    async with db.write() as conn:
        return await queue.claim(conn, owner, LEASE_MS, clock=clock)


async def row(db: base.BaseDatabase, task_id: int) -> Any:
    async with db.read() as conn:
        return (await conn.execute(sa.select(t).where(t.c.id == task_id))).one()


async def units(db: base.BaseDatabase) -> list[tuple[int, str]]:
    async with db.read() as conn:
        rows = await conn.execute(sa.select(ledger.c.unit, ledger.c.worker).order_by(ledger.c.unit))
        return [(int(u), w) for u, w in rows.all()]


# --- claiming -----------------------------------------------------------------------------------


async def test_claims_take_the_oldest_runnable_task_first(
    db: base.BaseDatabase, clock: ManualClock
) -> None:
    await add_task(db, 1, created_at=200)
    await add_task(db, 2, created_at=200)
    await add_task(db, 3, created_at=100, status="IN_PROGRESS", cursor={"next": 7})
    await add_task(db, 4, created_at=50, status="SUCCESS")  # ended: never claimed
    await add_task(db, 5, created_at=10, status="FAIL")
    # Held by a live lease: not claimable until it expires.
    await add_task(
        db, 6, created_at=20, status="IN_PROGRESS", lease_owner="other",
        lease_expires_at=clock.now_ms() + LEASE_MS,
    )  # fmt: skip

    before = clock.now_ms()
    first = await claim(db, "w", clock)
    assert first is not None
    assert (first.id, first.status, first.cursor, first.payload) == (
        3, "IN_PROGRESS", {"next": 7}, {"units": 30},
    )  # fmt: skip
    taken = await row(db, 3)
    assert taken.lease_owner == "w"
    assert before + LEASE_MS <= taken.lease_expires_at <= clock.now_ms() + LEASE_MS
    # Created at the same time: by id.
    assert [(await claim(db, "w", clock)).id for _ in range(2)] == [1, 2]  # type: ignore[union-attr]
    assert await claim(db, "w", clock) is None


async def test_concurrent_claimers_never_get_one_task(
    db: base.BaseDatabase, clock: ManualClock
) -> None:
    for n in range(1, 6):
        await add_task(db, n)
    got = await asyncio.gather(*(claim(db, f"w{n}", clock) for n in range(12)))
    claimed = {c.id: f"w{n}" for n, c in enumerate(got) if c is not None}
    assert sorted(claimed) == [1, 2, 3, 4, 5]  # each once: five claimers got one, seven none
    async with db.read() as conn:
        owners = {i: o for i, o in (await conn.execute(sa.select(t.c.id, t.c.lease_owner))).all()}
    assert owners == claimed


async def test_a_claim_passes_over_the_task_another_transaction_is_claiming(
    db: base.BaseDatabase, clock: ManualClock
) -> None:
    """A claim not yet committed holds its row: another claimer takes the next task, without
    waiting for it on PostgreSQL (``SKIP LOCKED``), after it on SQLite (one writer)."""
    await add_task(db, 1, created_at=1)
    await add_task(db, 2, created_at=2)

    async with db.write() as conn:
        first = await queue.claim(conn, "a", LEASE_MS, clock=clock)
        second = asyncio.create_task(claim(db, "b", clock))
        if db.dialect == "postgresql":
            other = await asyncio.wait_for(asyncio.shield(second), 5)  # while "a" is open
        else:
            await asyncio.sleep(0.2)
            assert not second.done()  # the single writer: it waits for "a"
    other = await second
    assert first is not None and other is not None
    assert (first.id, other.id) == (1, 2)
    assert ((await row(db, 1)).lease_owner, (await row(db, 2)).lease_owner) == ("a", "b")


# --- leases -----------------------------------------------------------------------------------


async def test_an_expired_lease_is_taken_over_and_its_old_owner_fenced_out(
    db: base.BaseDatabase, clock: ManualClock
) -> None:
    await add_task(db, 1)
    taken = await claim(db, "a", clock)
    assert taken is not None
    async with db.write() as conn:
        await queue.fence(conn, 1, "a", LEASE_MS, clock=clock)
        await queue.begin(conn, 1, 30, clock=clock)
        await queue.advance(conn, 1, cursor={"next": 10}, succeeded=10, failed=0, fail_message=None)
    clock.advance(LEASE_MS / 1000 - 1)
    assert await claim(db, "b", clock) is None  # still "a"'s

    clock.advance(2)
    again = await claim(db, "b", clock)
    assert again is not None
    # Where "a" left it, as its row stands.
    assert (again.id, again.status, again.cursor, again.total_count) == (
        1, "IN_PROGRESS", {"next": 10}, 30,
    )  # fmt: skip
    with pytest.raises(queue.LeaseLost):
        async with db.write() as conn:
            await queue.fence(conn, 1, "a", LEASE_MS, clock=clock)
    async with db.write() as conn:
        await queue.fence(conn, 1, "b", LEASE_MS, clock=clock)  # the new owner's passes

    # A lease given back is anyone's at once; given back by another, it stays.
    async with db.write() as conn:
        await queue.release(conn, 1, "a")
    assert await claim(db, "c", clock) is None
    async with db.write() as conn:
        await queue.release(conn, 1, "b")
    assert (await claim(db, "c", clock)).id == 1  # type: ignore[union-attr]


async def test_a_fence_closes_once_the_task_ended(
    db: base.BaseDatabase, clock: ManualClock
) -> None:
    await add_task(db, 1)
    assert await claim(db, "a", clock) is not None
    async with db.write() as conn:
        await queue.finish(conn, 1, clock=clock, fail_message="systemError")
    with pytest.raises(queue.LeaseLost):
        async with db.write() as conn:
            await queue.fence(conn, 1, "a", LEASE_MS, clock=clock)


class Units:
    """A task kind that settles ``payload["units"]`` numbered units, writing each to the ledger
    in the step's transaction. ``pause_at``: the step beginning at that unit stops mid-way
    (its units written, not committed) until ``resume`` is set."""

    def __init__(self, name: str, *, pause_at: int | None = None) -> None:
        self.name = name
        self.pause_at = pause_at
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()
        self.steps: list[int] = []

    async def start(self, conn: base.Writer, task: queue.Claimed) -> tuple[int, Step]:
        return int(task.payload["units"]), Step(cursor={"next": 0})

    async def step(self, conn: base.Writer, task: queue.Claimed, limit: int) -> Step:
        assert task.cursor is not None and task.total_count is not None
        begin = int(task.cursor["next"])
        end = min(begin + limit, task.total_count)
        self.steps.append(begin)
        await conn.execute(
            sa.insert(ledger),
            [{"task_id": task.id, "unit": u, "worker": self.name} for u in range(begin, end)],
        )
        if begin == self.pause_at:
            self.paused.set()
            await self.resume.wait()
        return Step(cursor={"next": end}, succeeded=end - begin, done=end == task.total_count)


class Gate(base.BaseDatabase):
    """``inner``, whose next write waits, once ``close`` is called, until ``open``: a worker
    stalled between two steps (waiting for a connection, its process descheduled). What
    leaves a write raising is kept in ``raised``."""

    def __init__(self, inner: base.BaseDatabase) -> None:
        super().__init__(inner.url)
        self.inner = inner
        self.dialect = inner.dialect  # type: ignore[misc]
        self._open = asyncio.Event()
        self._open.set()
        self.waiting = asyncio.Event()
        self.raised: list[BaseException] = []

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    def read(self) -> contextlib.AbstractAsyncContextManager[base.Connection]:
        return self.inner.read()

    @contextlib.asynccontextmanager
    async def write(self, *, long: bool = False) -> AsyncIterator[base.Writer]:
        if not self._open.is_set():
            self.waiting.set()
            await self._open.wait()
        try:
            async with self.inner.write(long=long) as conn:
                yield conn
        except BaseException as exc:
            self.raised.append(exc)
            raise

    async def listen(self, channel: str, notified: Callable[[], None]) -> None:
        await self.inner.listen(channel, notified)


def pool(db: base.BaseDatabase, handler: Units, clock: ManualClock) -> WorkerPool:
    return WorkerPool(
        db, {"units": handler}, concurrency=1, chunk=10, lease_ms=LEASE_MS, poll_interval=0.02,
        clock=clock, name=handler.name,
    )  # fmt: skip


async def test_a_stalled_worker_is_fenced_out_when_it_resumes_and_its_step_rolled_back(
    db: base.BaseDatabase, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """Worker "a" stalls in the middle of its second step, past its lease: nobody takes the
    task from a step under way. Its step commits; before its third, "a" stalls again, and "b"
    takes the task over. When "a" resumes, its fence is closed: its step rolls back, it drops
    the task and lives on. Every unit is applied once, and the counts are exact."""
    await add_task(db, 1, payload={"units": 40})
    gate = Gate(db)
    a, b = Units("a", pause_at=10), Units("b", pause_at=20)
    stalled = pool(gate, a, clock)
    stalled.start()
    taker = pool(db, b, clock)
    try:
        await asyncio.wait_for(a.paused.wait(), 10)
        clock.advance(2 * LEASE_MS / 1000)  # "a"'s lease expired mid-step
        if db.dialect == "postgresql":  # its step holds the row: passed over, not taken
            assert await claim(db, "c", clock) is None
        gate.close()
        a.resume.set()
        await asyncio.wait_for(gate.waiting.wait(), 10)  # step two committed; three waits
        now = await row(db, 1)
        assert (now.success_count, now.lease_owner.startswith("a:")) == (20, True)

        taker.start()
        await asyncio.wait_for(b.paused.wait(), 10)  # "b" took it over, mid-step three
        with caplog.at_level(logging.WARNING, logger="dingstore.engine.worker"):
            gate.open()  # "a" resumes: its step waits for "b"'s, then finds "b" holds the lease
            b.resume.set()
            await polling.until_async(
                lambda: asyncio.sleep(0, bool(gate.raised)), timeout=10, what="a's step"
            )
        assert isinstance(gate.raised[0], queue.LeaseLost)
        assert "lease lost" in caplog.text
        assert a.steps == [0, 10]  # never stepped again

        async def ended() -> Any:
            now = await row(db, 1)
            return now if now.status in ("SUCCESS", "FAIL") else None

        ended_row = await polling.until_async(ended, timeout=10, what="the task's end")
        assert not stalled._workers[0].done()  # "a" lives on, looking for work
    finally:
        await asyncio.wait_for(asyncio.gather(stalled.stop(), taker.stop()), 10)

    assert (
        ended_row.status, ended_row.total_count, ended_row.success_count, ended_row.fail_count,
        ended_row.lease_owner,
    ) == ("SUCCESS", 40, 40, 0, None)  # fmt: skip
    assert await units(db) == [(u, "a" if u < 20 else "b") for u in range(40)]


# --- finishing ----------------------------------------------------------------------------------

# (the row's counts before, ``finish``'s fail_message) → (status, total, success, fail, message)
FINISHES: dict[str, tuple[dict[str, Any], str | None, tuple[Any, ...]]] = {
    "every node settled: success": (
        {"total_count": 5, "success_count": 5}, None, ("SUCCESS", 5, 5, 0, None),
    ),
    "a node failed: failure, its message kept": (
        {"total_count": 5, "success_count": 3, "fail_count": 2, "fail_message": "permissionDenied"},
        None, ("FAIL", 5, 3, 2, "permissionDenied"),
    ),
    "failed as a whole: the nodes not reached count failed": (
        {"total_count": 10, "success_count": 4, "fail_count": 1}, "systemError",
        ("FAIL", 10, 4, 6, "systemError"),
    ),
    "failed as a whole after a node failed: the first failure is the message": (
        {"total_count": 10, "success_count": 4, "fail_count": 1, "fail_message": "quota"},
        "systemError", ("FAIL", 10, 4, 6, "quota"),
    ),
    "failed before it began: its folder failed": (
        {}, "dentryNotExist", ("FAIL", 1, 0, 1, "dentryNotExist"),
    ),
    "more counted than the total: the total grows": (
        {"total_count": 3, "success_count": 4}, None, ("SUCCESS", 4, 4, 0, None),
    ),
}  # fmt: skip


async def test_finish_adds_the_counts_up(db: base.BaseDatabase, clock: ManualClock) -> None:
    clock.advance(3600)
    for task_id, (before, failing, _) in enumerate(FINISHES.values(), 1):
        await add_task(
            db, task_id, status="IN_PROGRESS", lease_owner="w", lease_expires_at=1, **before
        )
        async with db.write() as conn:
            await conn.execute(
                sa.insert(schema.task_holds).values(
                    task_id=task_id, dentry_id=task_id, space_id=1, corp_id="c"
                )
            )
            await queue.finish(conn, task_id, clock=clock, fail_message=failing)
    ended = {}
    for task_id, case in enumerate(FINISHES, 1):
        got = await row(db, task_id)
        ended[case] = (
            got.status, got.total_count, got.success_count, got.fail_count, got.fail_message,
        )  # fmt: skip
        assert (got.lease_owner, got.lease_expires_at) == (None, None)
        assert clock.now_ms() - 10_000 < got.end_time <= clock.now_ms()  # the clock's time
        assert got.begin_time == got.end_time  # never begun: begun as it ended
    assert ended == {case: after for case, (_, _, after) in FINISHES.items()}
    async with db.read() as conn:
        assert (await conn.execute(sa.select(schema.task_holds))).all() == []  # released


async def test_advance_adds_to_the_counts_and_keeps_the_first_failure(
    db: base.BaseDatabase, clock: ManualClock
) -> None:
    await add_task(db, 1, status="IN_PROGRESS", lease_owner="w")
    async with db.write() as conn:
        await queue.begin(conn, 1, 10, clock=clock)
        for cursor, message in (({"n": 1}, None), ({"n": 2}, "quota"), ({"n": 3}, "denied")):
            await queue.advance(conn, 1, cursor=cursor, succeeded=2, failed=1, fail_message=message)
    now = await row(db, 1)
    assert (now.status, now.total_count, now.success_count, now.fail_count) == (
        "IN_PROGRESS", 10, 6, 3,
    )  # fmt: skip
    assert (now.cursor, now.fail_message) == ({"n": 3}, "quota")
    assert clock.now_ms() - 10_000 < now.begin_time <= clock.now_ms()
    async with db.write() as conn:
        await queue.finish(conn, 1, clock=clock)
    assert (await row(db, 1)).status == "FAIL"  # a node failed
