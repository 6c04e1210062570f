"""The store a benchmark runs on, in either shape: a fresh data dir (and, for PostgreSQL, a fresh
database), its ``dingstore`` processes started and ready, and one connection to its database with
the driver directly, for the checks and the floors.

``sqlite`` is the embedded shape: ``dingstore serve`` on SQLite, with its own task workers.
``postgres`` is the scale-out one: ``dingstore serve --no-workers`` answers the API and separate
``dingstore worker --concurrency 1`` processes run the tasks, woken by ``NOTIFY``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    READY_TIMEOUT_S,
    BenchError,
    Server,
    admin_url,
    dingstore_server,
    dingstore_worker,
    peak_rss_bytes,
    pg_database,
    running,
    wait_ready,
)

# --- the store and its processes ---------------------------------------------------------------


@contextlib.contextmanager
def fresh_store(
    args: argparse.Namespace, tmp: Path, name: str
) -> Iterator[tuple[Path, str | None]]:
    """A data dir, and for postgres (``args.backend``) a fresh database on ``args.pg_url``; both
    gone when the block ends."""
    data_dir = tmp / name
    try:
        if args.backend == "postgres":
            with pg_database(args.pg_url) as url:
                yield data_dir, url
        else:
            yield data_dir, None
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def processes(
    data_dir: Path,
    url: str | None,
    port: int,
    *,
    workers: int | None = None,
    chunk: int | None = None,
) -> list[Server]:
    """The API server first, then (postgres) the worker processes: ``workers`` task workers
    (sqlite: ``serve --workers``, default the server's; postgres: worker processes, default 1),
    steps of ``chunk`` nodes (default the server's)."""
    server = dingstore_server(data_dir, port, url, label="dingstore serve")
    if url is None:
        extra = [] if workers is None else ["--workers", str(workers)]
        shape = [dataclasses.replace(server, cmd=server.cmd + extra)]
    else:
        shape = [dataclasses.replace(server, cmd=[*server.cmd, "--no-workers"])]
        shape += [dingstore_worker(data_dir, url, f"worker {n}") for n in range(workers or 1)]
    if chunk is not None:
        shape = [dataclasses.replace(p, env={**p.env, "DINGSTORE_TASK_CHUNK": str(chunk)})
                 for p in shape]  # fmt: skip
    return shape


@dataclass
class Running:
    """A store's processes, started and ready, and a connection to its database."""

    server: Server
    procs: dict[str, subprocess.Popen[bytes]]  # by label, the API server's first
    db: Sql

    def peak_rss_bytes(self) -> int | None:
        """The highest peak RSS of the processes, which must all still run."""
        for label, p in self.procs.items():
            if p.poll() is not None:
                raise BenchError(f"{label} exited ({p.returncode}) during the run")
        peaks = [peak_rss_bytes(p.pid) for p in self.procs.values()]
        return max((b for b in peaks if b is not None), default=None)


@contextlib.contextmanager
def serving(
    shape: list[Server],
    logs: Path,
    name: str,
    data_dir: Path,
    url: str | None,
    headers: dict[str, str],
) -> Iterator[Running]:
    """The processes of ``shape`` (:func:`processes`) for the block, each logging to
    ``logs/<label>-<name>.log``: the API server answers (with ``headers``), every worker
    listens; all stopped when the block ends, however it ends."""
    server = shape[0]
    with contextlib.ExitStack() as started:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for p in shape:
            log = logs / f"{p.label.replace(' ', '-')}-{name}.log"
            procs[p.label] = started.enter_context(running(p, log))
        wait_ready(procs[server.label], server.base_url + server.ready_path, headers)
        db = open_sql(data_dir, url)
        started.callback(db.close)
        if url is not None:
            wait_listening(db, [p for label, p in procs.items() if label != server.label])
        yield Running(server, procs, db)


def wait_listening(db: Sql, workers: list[subprocess.Popen[bytes]]) -> None:
    """Every worker process holds its listening connection (it is up, migrated and waiting)."""
    from dingstore.store.postgres import LISTENER_NAME

    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = :name"
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while db.one(sql, name=LISTENER_NAME) < len(workers):
        if any(w.poll() is not None for w in workers):
            raise BenchError("a worker process exited while starting")
        if time.monotonic() > deadline:
            raise BenchError(f"the workers did not listen within {READY_TIMEOUT_S:g} s")
        time.sleep(0.05)


# --- SQL on the store, with the driver directly --------------------------------------------------


class Sql:
    """One connection to the store's database for the checks and the floors; statements name
    their parameters ``:name`` on both backends."""

    def one(self, sql: str, **params: Any) -> Any:
        """The first column of the first row."""
        raise NotImplementedError

    def column(self, sql: str, **params: Any) -> list[Any]:
        """The first column of every row."""
        raise NotImplementedError

    def execute(self, sql: str, **params: Any) -> None:
        """One statement in a transaction of its own."""
        raise NotImplementedError

    def timed(self, statements: list[tuple[str, dict[str, Any]]]) -> float:
        """Seconds for one write transaction of ``statements``, committed."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteSql(Sql):
    """The ``sqlite3`` module with the server's settings: WAL, ``synchronous = FULL``."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("busy_timeout = 10000", "journal_mode = WAL", "synchronous = FULL",
                       "foreign_keys = ON"):  # fmt: skip
            self.db.execute(f"PRAGMA {pragma}")

    def one(self, sql: str, **params: Any) -> Any:
        return self.db.execute(sql, params).fetchone()[0]

    def column(self, sql: str, **params: Any) -> list[Any]:
        return [row[0] for row in self.db.execute(sql, params)]

    def execute(self, sql: str, **params: Any) -> None:
        self.db.execute(sql, params)

    def timed(self, statements: list[tuple[str, dict[str, Any]]]) -> float:
        started = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self.db.execute(sql, params)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return time.perf_counter() - started

    def close(self) -> None:
        self.db.close()


class PostgresSql(Sql):
    """One asyncpg connection, driven from this thread on a loop of its own; ``:name``
    parameters become ``$n``."""

    _NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

    def __init__(self, url: str) -> None:
        import asyncpg

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(url))

    def _positional(self, sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        return self._NAMED.sub(number, sql), [params[n] for n in names]

    def one(self, sql: str, **params: Any) -> Any:
        query, args = self._positional(sql, params)
        return self.loop.run_until_complete(self.conn.fetchval(query, *args))

    def column(self, sql: str, **params: Any) -> list[Any]:
        query, args = self._positional(sql, params)
        return [row[0] for row in self.loop.run_until_complete(self.conn.fetch(query, *args))]

    def execute(self, sql: str, **params: Any) -> None:
        query, args = self._positional(sql, params)
        self.loop.run_until_complete(self.conn.execute(query, *args))

    def timed(self, statements: list[tuple[str, dict[str, Any]]]) -> float:
        prepared = [self._positional(sql, params) for sql, params in statements]

        async def run() -> float:
            started = time.perf_counter()
            async with self.conn.transaction():
                for query, args in prepared:
                    await self.conn.execute(query, *args)
            return time.perf_counter() - started

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def open_sql(data_dir: Path, database_url: str | None) -> Sql:
    return PostgresSql(database_url) if database_url else SqliteSql(data_dir / "dingstore.db")


def pg_version(pg_url: str) -> str:
    db = PostgresSql(admin_url(pg_url))
    try:
        return str(db.one("SHOW server_version"))
    finally:
        db.close()
