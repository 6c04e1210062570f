"""The embedded database: one SQLite file in WAL mode.

* **Writes** go through one connection (``BEGIN IMMEDIATE``) on aiosqlite's thread, so that a
  commit's fsync never stalls the event loop; a lock in this process makes writers take turns,
  SQLite's busy timeout covers other processes (the admin CLI).
* **Reads** run on the event loop itself, on plain ``sqlite3`` connections: in WAL mode a reader
  never waits for the writer, and an indexed read costs microseconds — far less than the two
  thread hops per statement that an async driver pays, which capped throughput at a few
  connections' worth of round trips (bench/get_task.py). Reads must stay bounded: indexed
  lookups and pages, never a scan of a whole table.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dingstore import errors
from dingstore.store import base, prepared

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


def _configure(engine: sa.Engine, *, begin: str | None) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves; pysqlite's implicit transactions are off.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    if begin is not None:

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql(begin)


def _create_private(path: str | None) -> None:
    """Create a new database file readable by its owner only (0600). SQLite gives its ``-wal``
    and ``-shm`` files the database file's mode; an existing file keeps the mode it has."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


class LoopConnection:
    """A synchronous connection behind the async ``Connection`` interface: each call completes
    without yielding to the event loop. Statements marked ``base.prepared`` skip SQLAlchemy's
    execution layer (about 20 µs a statement) and run on the driver's cursor."""

    def __init__(self, connection: sa.Connection) -> None:
        self.sync_connection = connection
        self._plans = prepared.Plans()

    @property
    def dialect(self) -> sa.Dialect:
        return self.sync_connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if statement.get_execution_options().get(base.PREPARED):
            return self._run_prepared(statement, parameters or {})
        return self.sync_connection.execute(statement, parameters)

    def _run_prepared(self, statement: Any, parameters: dict[str, Any]) -> prepared.PreparedResult:
        plan = self._plans.get(statement, self.sync_connection.dialect)
        dbapi = self.sync_connection.connection.dbapi_connection
        assert dbapi is not None
        try:
            cursor = dbapi.execute(plan.sql, plan.arguments(parameters))
        except sqlite3.OperationalError as exc:
            raise errors.OPERATION_TIMEOUT.error(
                "the database is busy or unavailable; retry"
            ) from exc
        return plan.result(cursor.fetchall())

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.sync_connection, *args, **kwargs)


class SQLiteDatabase(base.BaseDatabase):
    dialect = "sqlite"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._writer: AsyncEngine | None = None
        self._reader: sa.Engine | None = None
        self._read_connection: LoopConnection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        _create_private(sa.engine.make_url(self.url).database)
        self._writer = create_async_engine(self.url, pool_size=1, max_overflow=0, pool_timeout=60)
        _configure(self._writer.sync_engine, begin="BEGIN IMMEDIATE")
        self._reader = sa.create_engine(
            self.url.replace("+aiosqlite", "", 1),
            poolclass=sa.pool.StaticPool,
            connect_args={"check_same_thread": False},
        )
        # Readers run in autocommit: each statement sees the latest commit, as a statement does
        # under PostgreSQL's READ COMMITTED, and no BEGIN/COMMIT round is paid.
        _configure(self._reader, begin=None)
        # Reads never yield to the loop mid-statement, so one connection serves them all.
        self._read_connection = LoopConnection(self._reader.connect())

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.dispose()
        if self._read_connection is not None:
            self._read_connection.sync_connection.close()
        if self._reader is not None:
            self._reader.dispose()

    @property
    def engine(self) -> AsyncEngine:
        assert self._writer is not None, "database not opened"
        return self._writer

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[base.Connection]:
        connection = self._read_connection
        assert connection is not None, "database not opened"
        try:
            async with base.translate_driver_errors():
                yield connection
        except BaseException:
            # Autocommit holds no transaction, but SQLAlchemy keeps one in its own books; a
            # failed statement marks it invalid until rolled back.
            connection.sync_connection.rollback()
            raise

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[base.Connection]:
        assert self._writer is not None, "database not opened"
        async with self._write_lock, base.translate_driver_errors(), self._writer.begin() as conn:
            yield conn
