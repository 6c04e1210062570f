"""How idle workers learn of a new task without waiting for their poll (set to a minute here):
a task enqueued in the workers' own process wakes them directly (every backend); on PostgreSQL a
task enqueued by any other process wakes them through ``LISTEN``/``NOTIFY``, also after their
listening connection was lost and re-established.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa

from dingstore.settings import Settings
from dingstore.store import postgres
from tests import backends, polling
from tests.engine import trees

POLL = 60.0  # seconds: a task picked up sooner was announced, not polled for
PICKED_UP_WITHIN = 1.5  # seconds from the enqueue's commit to SUCCESS, for a 30-node copy
LISTENERS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    f"AND application_name = '{postgres.LISTENER_NAME}'"
)


class Copies:
    """Copies of a small folder, enqueued through services of the test process, timed from the
    enqueue to the task's end."""

    def __init__(self, store: trees.Store) -> None:
        self.store = store
        self.account = store.run(trees.new_account(store.services))
        self.space = store.run(trees.new_space(store.services, self.account, "from"))
        self.target = store.run(trees.new_space(store.services, self.account, "to"))
        self.tree = store.run(
            trees.seed_tree(store.services, self.account, self.space, "top", 30, fanout=8)
        )

    def run_one(self, timeout: float = 10.0) -> tuple[float, trees.Any]:
        """Enqueue a copy; wait for its task to end. Returns (seconds, the task row)."""
        moved = self.store.run(
            self.store.services.dentries.copy(
                self.account.actor, str(self.space), str(self.tree.root_id),
                str(self.target), "0", "AUTO_RENAME",
            )
        )  # fmt: skip
        assert moved.task_id is not None
        started = time.monotonic()
        row = self.store.run(wait_ended(self.store, moved.task_id, timeout))
        return time.monotonic() - started, row


async def wait_ended(store: trees.Store, task_id: int, timeout: float) -> trees.Any:
    async def ended() -> trees.Any:
        row = (await trees.task_rows(store.db))[task_id]
        return row if row.status in ("SUCCESS", "FAIL") else None

    return await polling.until_async(
        ended, timeout=timeout, interval=0.01, what=f"task {task_id}'s end"
    )


async def started(store: trees.Store) -> None:
    store.services.engine.start()
    await asyncio.sleep(0.3)  # the worker's first claim found nothing: it sleeps


def listeners(store: trees.Store) -> list[int]:
    async def query() -> list[int]:
        async with store.db.read() as conn:
            return list((await conn.execute(sa.text(LISTENERS))).scalars())

    return store.run(query())


def wait_listening(store: trees.Store, worker: subprocess.Popen[bytes], log: Path) -> int:
    """The worker's listening connection, once it has it: ONE for every channel (its task
    workers' and its HTTP push dispatcher's)."""

    def listening() -> list[int] | None:
        assert worker.poll() is None, log.read_text()
        found = listeners(store)
        return found or None

    found = polling.until(listening, timeout=30, what=f"the worker's LISTEN\n{log.read_text()}")
    time.sleep(0.3)  # a second one would have come by now
    assert listeners(store) == found and len(found) == 1, log.read_text()
    return found[0]


def test_a_task_enqueued_in_the_process_wakes_its_workers(
    tmp_path: Path, database_url: str
) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, workers=1, task_poll_interval=POLL
    )
    store = trees.Store(settings)
    try:
        copies = Copies(store)
        store.run(started(store))
        for _ in range(2):
            took, row = copies.run_one()
            assert (row.status, row.success_count) == ("SUCCESS", 30)
            assert took < PICKED_UP_WITHIN, f"picked up after {took:.2f} s"
    finally:
        store.run(store.services.engine.stop())
        store.close()


@pytest.mark.shapes(backends.SCALE_OUT)  # on SQLite the workers of other processes poll
def test_a_task_enqueued_by_another_process_wakes_a_worker_through_notify(
    tmp_path: Path, database_url: str
) -> None:
    store = trees.Store(Settings(data_dir=tmp_path, database_url=database_url))
    log = tmp_path / "worker.log"
    out: IO[bytes] = log.open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "dingstore", "worker", "--data-dir", str(tmp_path),
         "--database-url", database_url, "--concurrency", "2"],
        env={**os.environ, "DINGSTORE_TASK_POLL_INTERVAL": str(POLL),
             "DINGSTORE_LOG_LEVEL": "INFO", "DINGSTORE_LOG_JSON": "false"},
        stdout=out, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        copies = Copies(store)
        first = wait_listening(store, worker, log)
        time.sleep(0.5)  # its workers' first claims found nothing: they sleep for a minute
        timings = []
        for _ in range(2):  # the second after the first ended: nothing but a NOTIFY wakes it
            took, row = copies.run_one()
            assert (row.status, row.success_count) == ("SUCCESS", 30), log.read_text()
            timings.append(took)

        # The listening connection dies; the worker listens again on a new one.
        store.run(terminate(store, first))
        polling.until(
            lambda: (len(again := listeners(store)) == 1 and again != [first]) or None,
            timeout=10,
            what="a new LISTEN",
        )
        time.sleep(0.3)
        assert len(listeners(store)) == 1, log.read_text()
        time.sleep(0.5)
        took, row = copies.run_one()
        assert (row.status, row.success_count) == ("SUCCESS", 30), log.read_text()
        timings.append(took)
        print(f"\nenqueue → SUCCESS in another process: {[round(t, 3) for t in timings]} s")
        assert max(timings) < PICKED_UP_WITHIN, timings
        assert worker.poll() is None, log.read_text()
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
            out.close()
            store.close()
    assert worker.returncode == 0, log.read_text()
    assert "listening on dingstore_events, dingstore_tasks: connection lost" in log.read_text()


async def terminate(store: trees.Store, pid: int) -> None:
    async with store.db.write() as conn:
        await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
