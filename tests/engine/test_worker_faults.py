"""Faults the workers meet must never end a worker, hang its shutdown, or fail a user's task
that another worker could finish: a database that refuses every step while the pool stops, a
lease that cannot be given back, a commit whose answer was lost. Each time the task ends, once
resumed, with exact counts and an exact copy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from dingstore import errors
from dingstore.engine.worker import WorkerPool
from dingstore.settings import Settings
from dingstore.store import base
from tests import polling
from tests.engine import trees

TREE = 1_500  # nodes of the copied folder, itself included
CHUNK = 10  # a hundred and fifty steps
LEASE_MS = 2_000  # short: a lease that was not given back expires soon


class Flaky(base.BaseDatabase):
    """A database whose writes can be refused (``Unavailable``) while ``down``, for the next
    ``refusals`` of them, or committed and then refused (``lose_commit``: the connection lost
    before the commit's answer came back), or failing with an error of no known kind for the
    next ``broken`` of them. Reads always pass."""

    def __init__(self, inner: base.BaseDatabase) -> None:
        super().__init__(inner.url)
        self.inner = inner
        self.dialect = inner.dialect  # type: ignore[misc]
        self.down = False
        self.refusals = 0
        self.lose_commit = False
        self.broken = 0
        self.refused = 0

    def read(self) -> contextlib.AbstractAsyncContextManager[base.Connection]:
        return self.inner.read()

    @contextlib.asynccontextmanager
    async def write(self, *, long: bool = False) -> AsyncIterator[base.Writer]:
        if self.broken:
            self.broken -= 1
            raise RuntimeError("a fault nobody foresaw (test)")
        if self.down or self.refusals:
            self.refusals = max(0, self.refusals - 1)
            self.refused += 1
            raise errors.Unavailable(message="the database is down (test)")
        lose, self.lose_commit = self.lose_commit, False
        async with self.inner.write(long=long) as conn:
            yield conn
        if lose:
            self.refused += 1
            raise errors.Unavailable(message="the connection was lost while committing (test)")

    async def listen(self, channel: str, notified: Callable[[], None]) -> None:
        await self.inner.listen(channel, notified)


class Copy:
    """A copy of a ``TREE``-node folder into another space, run by a pool over ``Flaky``."""

    def __init__(self, store: trees.Store) -> None:
        self.store = store
        self.services = services = store.services
        self.account = store.run(trees.new_account(services))
        self.source = store.run(trees.new_space(services, self.account, "from"))
        self.target = store.run(trees.new_space(services, self.account, "to"))
        self.seeded = store.run(trees.seed_tree(services, self.account, self.source, "top", TREE))
        self.flaky = Flaky(services.db)
        self.pool = self.new_pool(self.flaky)

    def new_pool(self, db: base.BaseDatabase) -> WorkerPool:
        return WorkerPool(
            db,
            self.services.engine.handlers,
            concurrency=1,
            chunk=CHUNK,
            lease_ms=LEASE_MS,
            poll_interval=0.05,
        )

    async def start_mid_way(self) -> int:
        """Enqueue the copy and return its id once a third of it is done."""
        self.pool.start()
        copied = await self.services.dentries.copy(
            self.account.actor, str(self.source), str(self.seeded.root_id), str(self.target),
            "0", None,
        )  # fmt: skip
        assert copied.task_id is not None
        task_id = int(copied.task_id)

        async def a_third_done() -> bool:
            return int((await trees.task_rows(self.services.db))[task_id].success_count) > TREE // 3

        await polling.until_async(a_third_done, timeout=60, what="a third of the copy")
        return task_id

    async def row(self, task_id: int) -> Any:
        return (await trees.task_rows(self.services.db))[task_id]

    async def ended(self, task_id: int) -> Any:
        async def ended() -> Any:
            row = await self.row(task_id)
            return row if row.status in ("SUCCESS", "FAIL") else None

        return await polling.until_async(ended, timeout=60, what="the task's end")

    async def finish(self, task_id: int) -> Any:
        """Another pool, on the database as it is, takes the task over and ends it."""
        pool = self.new_pool(self.services.db)
        pool.start()
        try:
            return await self.ended(task_id)
        finally:
            await pool.stop()

    def check_exact(self, row: Any) -> None:
        assert (row.status, row.total_count, row.success_count, row.fail_count) == (
            "SUCCESS", TREE, TREE, 0,
        )  # fmt: skip
        source = self.store.run(trees.tree(self.services.db, self.source))
        assert self.store.run(trees.tree(self.services.db, self.target)) == source
        assert self.store.run(trees.problems(self.services.db)) == []

    def close(self) -> None:
        for worker in self.pool._workers:  # a pool that failed to stop must not outlive us
            worker.cancel()
        self.store.close()


@pytest.fixture
def copy(tmp_path: Path, database_url: str) -> Any:
    made = Copy(trees.Store(Settings(data_dir=tmp_path, database_url=database_url, workers=0)))
    try:
        yield made
    finally:
        made.close()


def test_a_pool_stops_promptly_while_the_database_refuses_its_steps(copy: Copy) -> None:
    async def scenario() -> Any:
        task_id = await copy.start_mid_way()
        copy.flaky.down = True
        await polling.until_async(
            lambda: asyncio.sleep(0, copy.flaky.refused > 0), timeout=10, what="a refused step"
        )
        await asyncio.wait_for(copy.pool.stop(), 3)  # not until the database is back
        row = await copy.row(task_id)
        assert (row.status, row.fail_message) == ("IN_PROGRESS", None)
        copy.flaky.down = False
        return await copy.finish(task_id)

    copy.check_exact(copy.store.run(scenario()))


@pytest.mark.heavy(10)
def test_a_lease_not_given_back_leaves_the_task_to_be_taken_over(copy: Copy) -> None:
    async def scenario() -> Any:
        task_id = await copy.start_mid_way()
        # Told to stop first, so that the one refusal meets the release, not a step that
        # happened to begin before the pool heard it (a step refused is only retried).
        stopping = asyncio.create_task(copy.pool.stop())
        await asyncio.sleep(0)  # stop() has run up to its first wait: no step begins now
        copy.flaky.refusals = 1  # the release on stopping
        await asyncio.wait_for(stopping, 10)
        assert copy.flaky.refused == 1
        row = await copy.row(task_id)
        # Still the stopped worker's until its lease expires; then anyone's.
        assert (row.status, row.fail_message, row.fail_count) == ("IN_PROGRESS", None, 0)
        assert row.lease_owner is not None
        return await copy.finish(task_id)

    copy.check_exact(copy.store.run(scenario()))


@pytest.mark.heavy(8)
def test_a_step_whose_commit_answer_was_lost_is_not_applied_twice(copy: Copy) -> None:
    async def scenario() -> Any:
        task_id = await copy.start_mid_way()
        for _ in range(3):
            copy.flaky.lose_commit = True
            await polling.until_async(
                lambda: asyncio.sleep(0, not copy.flaky.lose_commit), timeout=10, what="a step"
            )
        await polling.until_async(
            lambda: asyncio.sleep(0, copy.flaky.refused == 3), timeout=10, what="lost commits"
        )
        row = await copy.ended(task_id)
        await copy.pool.stop()
        return row

    copy.check_exact(copy.store.run(scenario()))


@pytest.mark.heavy(7)
def test_a_worker_whose_claims_fail_unexpectedly_lives_on(copy: Copy) -> None:
    async def scenario() -> Any:
        copy.flaky.broken = 3  # the first claims
        task_id = await copy.start_mid_way()
        row = await copy.ended(task_id)
        assert copy.flaky.broken == 0
        await asyncio.wait_for(copy.pool.stop(), 10)
        return row

    copy.check_exact(copy.store.run(scenario()))
