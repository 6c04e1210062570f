"""The scale-out database: PostgreSQL through asyncpg.

Every connection of the pool may write; row locks (``FOR UPDATE SKIP LOCKED`` for task claiming)
and constraints keep concurrent processes apart. Reads run in autocommit (each statement sees
the latest commit, READ COMMITTED's view) and hot prepared statements (``base.prepared``) go to
a small asyncpg pool of their own, one round trip each, without SQLAlchemy's execution layer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dingstore import errors
from dingstore.store import base, prepared

_DRIVER_DOWN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)


def async_url(url: str) -> str:
    """``postgresql://…`` as given by users, with the asyncpg driver named."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class ReadConnection:
    """What ``read()`` yields: prepared statements on the asyncpg pool, anything else on a
    SQLAlchemy connection taken only when first needed."""

    def __init__(self, engine: AsyncEngine, pool: asyncpg.Pool, plans: prepared.Plans) -> None:
        self._engine = engine
        self._pool = pool
        self._plans = plans
        self._held: contextlib.AbstractAsyncContextManager[AsyncConnection] | None = None
        self._connection: AsyncConnection | None = None

    @property
    def dialect(self) -> Any:
        return self._engine.dialect

    async def _sqlalchemy(self) -> AsyncConnection:
        if self._connection is None:
            self._held = self._engine.connect()
            connection = await self._held.__aenter__()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if statement.get_execution_options().get(base.PREPARED):
            plan = self._plans.get(statement, self._engine.dialect)
            try:
                rows = await self._pool.fetch(plan.sql, *plan.arguments(parameters or {}))
            except _DRIVER_DOWN as exc:
                raise errors.Unavailable(message="the database is unavailable; retry") from exc
            return plan.result(rows)
        return await (await self._sqlalchemy()).execute(statement, parameters)

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await (await self._sqlalchemy()).run_sync(fn, *args, **kwargs)

    async def close(self) -> None:
        if self._held is not None:
            await self._held.__aexit__(None, None, None)


class PostgresDatabase(base.BaseDatabase):
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        super().__init__(async_url(url))
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._pool: asyncpg.Pool | None = None
        self._plans = prepared.Plans()

    async def open(self) -> None:
        self._engine = create_async_engine(
            self.url, pool_size=self._pool_size, max_overflow=0, pool_pre_ping=True
        )
        dsn = self.url.replace("postgresql+asyncpg://", "postgresql://", 1)
        try:
            self._pool = await asyncpg.create_pool(
                dsn, min_size=1, max_size=max(2, self._pool_size // 2)
            )
        except _DRIVER_DOWN as exc:
            raise errors.Unavailable(message="the database is unavailable") from exc

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        if self._engine is not None:
            await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "database not opened"
        return self._engine

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[base.Connection]:
        assert self._pool is not None, "database not opened"
        reader = ReadConnection(self.engine, self._pool, self._plans)
        try:
            async with base.translate_driver_errors():
                yield reader
        finally:
            await reader.close()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[base.Connection]:
        async with base.translate_driver_errors(), self.engine.begin() as conn:
            yield conn
