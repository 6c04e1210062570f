"""The scale-out database: PostgreSQL through asyncpg.

Every connection of the pool may write; row locks (``FOR UPDATE SKIP LOCKED`` for task claiming)
and constraints keep concurrent processes apart. Reads run in autocommit (each statement sees
the latest commit, READ COMMITTED's view) and hot prepared statements (``base.prepared``) go to
a small asyncpg pool of their own, one round trip each, without SQLAlchemy's execution layer.
``listen`` holds one more connection, outside both pools, for ``LISTEN``: one per process, for
every channel (``postgres_listen.py``).

All three connect with asyncpg from the URL as the user gave it, so its libpq parameters
(``sslmode``, ``sslrootcert``, ``application_name``, ...) mean the same everywhere: SQLAlchemy's
own translation of the URL would hand them to ``asyncpg.connect`` as keywords it does not take.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from dingstore import errors
from dingstore.store import base, postgres_listen, postgres_pool, prepared

log = logging.getLogger(__name__)

_DRIVER_DOWN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)
LISTENER_NAME = postgres_listen.NAME  # the listening connection's application_name


def read_pool_size(pool_size: int) -> int:
    """How many connections the hot reads have, for ``DINGSTORE_DB_POOL_SIZE`` = ``pool_size``
    (the write engine has ``pool_size``)."""
    return max(2, pool_size // 2)


def async_url(url: str) -> str:
    """``postgresql://…`` as given by users, with the asyncpg driver named."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


class ReadConnection:
    """What ``read()`` yields: prepared statements on the read pool, anything else on a
    SQLAlchemy connection taken only when first needed."""

    def __init__(
        self, engine: AsyncEngine, pool: postgres_pool.ReadPool, plans: prepared.Plans
    ) -> None:
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
            self._connection = await self._held.__aenter__()  # the engine's autocommit
            await _driver_of(self._connection)
        return self._connection

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if statement.get_execution_options().get(base.PREPARED):
            plan = self._plans.get(statement, self._engine.dialect)
            try:
                rows = await self._pool.fetch(plan.sql, plan.arguments(parameters or {}))
            except _DRIVER_DOWN as exc:
                raise errors.OPERATION_TIMEOUT.error("the database is unavailable; retry") from exc
            return plan.result(rows)
        return await (await self._sqlalchemy()).execute(statement, parameters)

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await (await self._sqlalchemy()).run_sync(fn, *args, **kwargs)

    async def close(self) -> None:
        if self._held is not None:
            await self._held.__aexit__(None, None, None)


class Writer(base.Writer):
    """A write transaction on one connection: its ``BEGIN`` and ``COMMIT`` are the driver's,
    prepared statements (``base.prepared``) and the backend's own run on the driver directly,
    anything else through SQLAlchemy on the same connection (in autocommit mode, so that it
    sends no transaction statements of its own)."""

    def __init__(
        self, connection: AsyncConnection, driver: asyncpg.Connection, plans: prepared.Plans
    ) -> None:
        super().__init__(connection)
        self._driver = driver
        self._plans = plans

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        if statement.get_execution_options().get(base.PREPARED):
            plan = self._plans.get(statement, self.connection.dialect)
            rows = await self._driver.fetch(plan.sql, *plan.arguments(parameters or {}))
            return plan.result(rows)
        return await self.connection.execute(statement, parameters)

    async def lock(self, key: int) -> None:
        # A transaction-level advisory lock: released by the commit or rollback, never leaked.
        await self._driver.execute("SELECT pg_advisory_xact_lock($1)", key)

    async def notify_others(self, channel: str) -> None:
        """``NOTIFY`` in the transaction: delivered when (and only if) it commits."""
        await self._driver.execute("SELECT pg_notify($1, '')", channel)

    def skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query.with_for_update(skip_locked=True)

    async def commit_lazily(self) -> None:
        # Visible at once, durable within the WAL writer's next flush (a few hundred ms).
        await self._driver.execute("SET LOCAL synchronous_commit TO OFF")

    async def plan_by_index(self) -> None:
        await self._driver.execute("SET LOCAL enable_seqscan TO OFF")


async def _driver_of(conn: AsyncConnection) -> asyncpg.Connection:
    """The driver's connection under ``conn``, one the server has not closed. The pool checks
    none before handing it out (a query to check would be one more round trip for every
    transaction): one the server closed while it sat in the pool (a restart, an idle timeout)
    has seen its socket closed, and is replaced here. One that vanished silently fails its
    first statement, which answers "retry" (``base.translate_driver_errors``)."""
    while True:
        driver: asyncpg.Connection = (await conn.get_raw_connection()).driver_connection
        if not driver.is_closed():
            return driver
        await conn.invalidate()


@contextlib.asynccontextmanager
async def _translate_driver_errors() -> AsyncIterator[None]:
    """``base.translate_driver_errors`` for the driver's own exceptions (statements run on it
    directly), raised as the SQLAlchemy exceptions that wrap them elsewhere."""
    try:
        yield
    except asyncpg.IntegrityConstraintViolationError as exc:
        raise sa.exc.IntegrityError(None, None, exc) from exc
    except _DRIVER_DOWN as exc:
        raise sa.exc.OperationalError(None, None, exc) from exc
    except asyncpg.PostgresError as exc:
        raise sa.exc.DBAPIError(None, None, exc) from exc


class PostgresDatabase(base.BaseDatabase):
    dialect = "postgresql"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        super().__init__(async_url(url))
        self._pool_size = pool_size
        self._engine: AsyncEngine | None = None
        self._pool: postgres_pool.ReadPool | None = None
        self._plans = prepared.Plans()
        self._listener = postgres_listen.Listener(self._dsn, self._listeners)

    @property
    def _dsn(self) -> str:
        return self.url.replace("postgresql+asyncpg://", "postgresql://", 1)

    async def open(self) -> None:
        self._engine = create_async_engine(
            self.url,
            pool_size=self._pool_size,
            max_overflow=0,
            # Transactions are the driver's (``begin``), and a connection taken from the pool
            # is not checked with a query (``_driver_of``): each would cost a round trip more.
            isolation_level="AUTOCOMMIT",
            async_creator=self._connect,
        )
        self._pool = postgres_pool.ReadPool(self._dsn, read_pool_size(self._pool_size))
        try:
            await self._pool.open()
        except _DRIVER_DOWN as exc:
            raise errors.OPERATION_TIMEOUT.error("the database is unavailable") from exc

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self._dsn)

    async def close(self) -> None:
        await self._listener.close()
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
    async def begin(self, *, long: bool = False) -> AsyncIterator[base.Writer]:
        async with (
            base.translate_driver_errors(),
            _translate_driver_errors(),
            self.engine.connect() as conn,
        ):
            driver = await _driver_of(conn)
            try:
                async with driver.transaction():
                    yield Writer(conn, driver, self._plans)
            finally:
                if driver.is_closed() or driver.is_in_transaction():  # lost, or not rolled back
                    await conn.invalidate()

    async def listen_to_others(self, channel: str, notified: Callable[[], None]) -> None:
        await self._listener.listen(channel, notified)
