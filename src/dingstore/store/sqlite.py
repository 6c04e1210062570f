"""The embedded database: one SQLite file in WAL mode.

One writer at a time (``BEGIN IMMEDIATE`` on a single connection, serialized by a lock in this
process and by SQLite's busy timeout across processes such as the admin CLI), readers on their
own pool so that they never wait for the writer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dingstore.store import base

BUSY_TIMEOUT_MS = 10_000


def _make_engine(url: str, *, begin: str, pool_size: int) -> AsyncEngine:
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves; pysqlite's implicit transactions are off.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql(begin)

    return engine


class SQLiteDatabase(base.BaseDatabase):
    dialect = "sqlite"

    def __init__(self, url: str, *, read_pool_size: int = 4) -> None:
        super().__init__(url)
        self._read_pool_size = read_pool_size
        self._writer: AsyncEngine | None = None
        self._reader: AsyncEngine | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        self._writer = _make_engine(self.url, begin="BEGIN IMMEDIATE", pool_size=1)
        self._reader = _make_engine(self.url, begin="BEGIN", pool_size=self._read_pool_size)

    async def close(self) -> None:
        for engine in (self._writer, self._reader):
            if engine is not None:
                await engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        assert self._writer is not None, "database not opened"
        return self._writer

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        assert self._reader is not None, "database not opened"
        async with base.translate_driver_errors(), self._reader.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        assert self._writer is not None, "database not opened"
        async with self._write_lock, base.translate_driver_errors(), self._writer.begin() as conn:
            yield conn
