"""The scale-out database: PostgreSQL through asyncpg.

Every connection of the pool may write; row locks (``FOR UPDATE SKIP LOCKED`` for task claiming)
and constraints keep concurrent processes apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dingstore.store import base


def async_url(url: str) -> str:
    """``postgresql://…`` as given by users, with the asyncpg driver named."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class PostgresDatabase(base.BaseDatabase):
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        super().__init__(async_url(url))
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None

    async def open(self) -> None:
        self._engine = create_async_engine(
            self.url, pool_size=self._pool_size, max_overflow=0, pool_pre_ping=True
        )

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()

    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "database not opened"
        return self._engine

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[base.Connection]:
        async with base.translate_driver_errors(), self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[base.Connection]:
        async with base.translate_driver_errors(), self.engine.begin() as conn:
            yield conn
