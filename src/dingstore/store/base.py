"""The metadata-database seam.

A ``BaseDatabase`` hands out SQLAlchemy Core connections, each inside one transaction:

* ``read()``  — a consistent snapshot for queries; never writes.
* ``write()`` — a read-write transaction, committed when the block exits cleanly and rolled
  back on any exception. On SQLite it is the single writer (``BEGIN IMMEDIATE``, one at a time in
  this process); on PostgreSQL any number run at once.

Driver exceptions never leave the seam raw: a database that cannot be reached or stays locked
becomes ``errors.Unavailable`` (503), a violated uniqueness constraint becomes
``errors.Conflict``. Implementations: ``sqlite.py`` (embedded) and ``postgres.py`` (scale-out),
chosen by URL in ``open_database``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dingstore import errors

log = logging.getLogger(__name__)


class BaseDatabase:
    dialect: ClassVar[str]

    def __init__(self, url: str) -> None:
        self.url = url

    async def open(self) -> None:
        """Create the engines. Called once, before any ``read``/``write``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Dispose of every connection."""
        raise NotImplementedError

    @property
    def engine(self) -> AsyncEngine:
        """The engine that runs migrations (the writer's)."""
        raise NotImplementedError

    def read(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    def write(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.read() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except errors.DingstoreError:
            return False


@contextlib.asynccontextmanager
async def translate_driver_errors() -> AsyncIterator[None]:
    """Turn driver exceptions into dingstore errors at the seam."""
    try:
        yield
    except sa.exc.IntegrityError as exc:
        raise errors.Conflict(message="a concurrent change conflicted; retry") from exc
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
        log.warning("database unavailable: %s", exc)
        raise errors.Unavailable(message="the database is busy or unavailable; retry") from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise errors.Unavailable(message="the database connection was lost; retry") from exc
        raise
