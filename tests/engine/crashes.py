"""What the crash tests and the chaos bench (bench/chaos.py) share: dingstore processes on one
store, SIGKILLed and restarted at will, and how to tell whose lease a task holds."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests.engine import trees
from tests.engine.trees import Store, d, props, v
from tests.live import DingstoreProcess, free_port

LEASE = 2.0  # seconds: a killed worker's tasks are free again this long after its last step
CHUNK = 100  # nodes a step settles
RUNNABLE = ("INIT", "IN_PROGRESS")


def _env(database_url: str, blob_url: str | None, chunk: int, lease: float) -> dict[str, str]:
    env = {
        "DINGSTORE_DATABASE_URL": database_url,
        "DINGSTORE_TASK_CHUNK": str(chunk),
        "DINGSTORE_TASK_LEASE": str(lease),
        "DINGSTORE_TASK_POLL_INTERVAL": "0.1",
        "DINGSTORE_LOG_LEVEL": "WARNING",
    }
    if blob_url is not None:
        env["DINGSTORE_BLOB_URL"] = blob_url
    return env


class Server(DingstoreProcess):
    """``dingstore serve`` as a process on a fixed port, killed and restarted at will; with
    ``workers`` task workers of its own (0: ``--no-workers``, the scale-out shape's API)."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        *,
        blob_url: str | None = None,
        workers: int = 3,  # one per task of the crash test: all three run at once
        chunk: int = CHUNK,
        lease: float = LEASE,
    ) -> None:
        port = free_port()
        env = {**_env(database_url, blob_url, chunk, lease), "DINGSTORE_WORKERS": str(workers)}
        args = ["serve", "--data-dir", str(data_dir), "--port", str(port)]
        super().__init__("serve", args, env, data_dir, port=port)

    def start(self) -> Server:
        """Start it and wait until it answers."""
        super().start()
        self.wait_ready(timeout=30, interval=0.02)
        return self

    def stop(self) -> int | None:
        """SIGTERM; a process that was running must stop cleanly."""
        running = self.running
        code = super().stop()
        assert not running or code in (0, -signal.SIGTERM), self.log()
        return code


class Worker(DingstoreProcess):
    """``dingstore worker --concurrency 1``, killed and restarted at will."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        n: int,
        *,
        blob_url: str | None = None,
        chunk: int = CHUNK,
        lease: float = LEASE,
    ) -> None:
        args = ["worker", "--data-dir", str(data_dir), "--concurrency", "1"]
        super().__init__(f"worker{n}", args, _env(database_url, blob_url, chunk, lease), data_dir)


def owned_by(row: Any, pid: int) -> bool:
    """The task's lease is held by a worker of process ``pid`` (owners are host:pid:n:tag)."""
    owner = row.lease_owner or ""
    return owner.count(":") >= 3 and owner.split(":")[-3] == str(pid)


def purge_leftovers(store: Store, seeded: trees.Seeded) -> list[str]:
    """What is left of a seeded tree that was purged — rows, versions, app properties, blob
    references — as problems (none when it went whole)."""
    lo, hi = seeded.node_ids[0], seeded.node_ids[-1]
    found = []
    for table, column in ((d, d.c.id), (v, v.c.dentry_id), (props, props.c.dentry_id)):
        left = store.run(trees.count_where(store.db, table, column.between(lo, hi)))
        if left:
            found.append(f"{left} {table.name} rows of purged tree {seeded.root_id} left")
    released = store.run(trees.blob_refcounts(store.db, seeded.blob_ids))
    if len(released) != len(seeded.blob_ids) or set(released.values()) != {0}:
        found.append(f"blobs of purged tree {seeded.root_id} still referenced")
    return found


def assert_purged(store: Store, seeded: trees.Seeded) -> None:
    """Nothing of a seeded tree is left — no rows, versions or app properties — and every blob
    it referenced is released."""
    assert purge_leftovers(store, seeded) == []
