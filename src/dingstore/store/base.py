"""The metadata-database seam.

A ``BaseDatabase`` hands out SQLAlchemy Core connections, each inside one transaction:

* ``read()``  — a connection for queries; never writes. Each statement sees the latest commit
  (PostgreSQL's READ COMMITTED, SQLite in autocommit); read what must agree in one statement.
* ``write()`` — a read-write transaction, committed when the block exits cleanly and rolled
  back on any exception. On SQLite it is the single writer (``BEGIN IMMEDIATE``, one at a time in
  this process); on PostgreSQL any number run at once.
* ``listen(channel, notified)`` — calls ``notified`` each time a transaction that announced on
  ``channel`` commits, in any process (PostgreSQL's ``LISTEN``/``NOTIFY``). SQLite has no such
  thing: its ``listen`` returns at once, and callers fall back on polling.

Driver exceptions never leave the seam raw: a database that cannot be reached or stays locked,
or that rolled the transaction back to break a deadlock, becomes ``errors.Unavailable`` (503:
retry), a violated uniqueness constraint becomes ``errors.Conflict``. Implementations:
``sqlite.py`` (embedded) and ``postgres.py`` (scale-out), chosen by URL in ``open_database``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from dingstore import errors

log = logging.getLogger(__name__)


PREPARED = "dingstore_prepared"

# PostgreSQL's SQLSTATEs for a transaction it rolled back to let others go on (a deadlock's
# victim, a serialization failure): the same transaction again may well succeed.
_ROLLED_BACK = ("40P01", "40001")


def prepared(statement: Any) -> Any:
    """Mark a hot statement, built once with ``bindparam`` placeholders for its values, so that a
    backend may run it on a faster path (SQLite's reader runs it on the driver directly). Only
    columns and parameters that need no type conversion are allowed; SQLite checks at first use.
    """
    return statement.execution_options(**{PREPARED: True})


class Connection(Protocol):
    """What queries get: SQLAlchemy's ``AsyncConnection`` or anything that answers the same."""

    @property
    def dialect(self) -> Any: ...

    async def execute(self, statement: Any, parameters: Any = None) -> Any: ...

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any: ...


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

    def read(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    def write(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    async def listen(self, channel: str, notified: Callable[[], None]) -> None:
        """Call ``notified`` whenever a transaction that announced on ``channel`` (a
        ``NOTIFY`` in it) commits, in this process or any other, until cancelled. A lost
        connection is logged and re-established with backoff, never raised; ``notified`` is
        also called each time listening (re)starts, for what was announced while it was not.
        This base returns at once: a backend without notifications leaves callers to poll."""
        return

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
        raise errors.OPERATION_CONCURRENT_CONTROL.error(
            "a concurrent change conflicted; retry"
        ) from exc
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
        log.warning("database unavailable: %s", exc)
        raise errors.OPERATION_TIMEOUT.error("the database is busy or unavailable; retry") from exc
    except sa.exc.DBAPIError as exc:
        if exc.connection_invalidated:
            raise errors.OPERATION_TIMEOUT.error("the database connection was lost; retry") from exc
        if getattr(exc.orig, "sqlstate", None) in _ROLLED_BACK:
            log.warning("transaction rolled back by the database: %s", exc.orig)
            raise errors.OPERATION_TIMEOUT.error(
                "a concurrent change got in the way; retry"
            ) from exc
        raise
