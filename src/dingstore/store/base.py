"""The metadata-database seam.

A ``BaseDatabase`` hands out SQLAlchemy Core connections, each inside one transaction:

* ``read()``  — a connection for queries; never writes. Each statement sees the latest commit
  (PostgreSQL's READ COMMITTED, SQLite in autocommit); read what must agree in one statement.
* ``write()`` — a read-write transaction, committed when the block exits cleanly and rolled
  back on any exception; once the block has exited, the transaction is durable. On SQLite it is
  the single writer (``BEGIN IMMEDIATE``, one at a time in this process; writes that queue share
  one commit, each in a savepoint); on PostgreSQL any number run at once. Its connection, a
  ``Writer``, also does what only the backend knows how to do inside a transaction: ``lock`` a
  key until it ends, ``notify`` listeners once it commits, make a query ``skip_locked`` rows.
* ``write(long=True)`` — the same, for a transaction whose statements may take long (a task
  step, a migration, a batch of purges). SQLite runs a write's statements on the event loop,
  which suits a request's few indexed statements (microseconds each, like reads) but would
  stall every other request behind a big one: a ``long`` transaction's statements run on the
  writer's thread instead. PostgreSQL never blocks the loop and ignores it. A request's write
  must stay bounded like a read; work that grows with a tree belongs in a task.
* ``Writer.commit_lazily()`` — the commit need not wait for durability (PostgreSQL's
  ``synchronous_commit = off`` for the transaction; SQLite's writes share one commit anyway).
* ``Writer.plan_by_index()`` — the transaction's statements use indexes even where the
  table's statistics, stale after a burst of rows (an outbox that just filled), would have the
  planner scan (PostgreSQL's ``enable_seqscan = off`` for the transaction; SQLite has no
  statistics unless asked).
* ``Writer.notify(channel)`` / ``listen(channel, notified)`` — a write transaction announces on
  ``channel``; once (and only if) it commits, ``notified`` is called in every listener of this
  process, and on PostgreSQL (``NOTIFY`` in the transaction, ``LISTEN``) of every other process
  too. SQLite tells other processes nothing: their listeners fall back on polling.

Driver exceptions never leave the seam raw: a database that cannot be reached or stays locked,
or that rolled the transaction back to break a deadlock, becomes ``errors.Unavailable`` (503:
retry), a violated uniqueness constraint becomes ``errors.Conflict``. Implementations:
``sqlite.py`` (embedded) and ``postgres.py`` (scale-out), chosen by URL in ``open_database``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa

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


class Writer:
    """What ``write()`` yields: the transaction's connection, answering as ``Connection`` does,
    and the statements that differ between backends, each implemented by ``sqlite.py`` and
    ``postgres.py``."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.announced: set[str] = set()  # heard in this process once the transaction commits
        # The spaces this transaction locked (store/spaces.py ``lock``), each with whether an app
        # was subscribed to its changes or its org's then: a change with no one to tell writes
        # no events (service/events/changes.py), at no cost but that statement's index probe.
        self.subscribed: dict[int, bool] = {}

    @property
    def dialect(self) -> Any:
        return self.connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return await self.connection.execute(statement, parameters)

    async def run_sync(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.connection.run_sync(fn, *args, **kwargs)

    async def lock(self, key: int) -> None:
        """Hold the exclusive lock ``key`` until the transaction ends: writers that name the
        same key take turns, each seeing what the one before committed."""
        raise NotImplementedError

    async def notify(self, channel: str) -> None:
        """Announce on ``channel``: whoever listens on it (``BaseDatabase.listen``) is told
        once, and only if, the transaction commits."""
        if channel not in self.announced:
            self.announced.add(channel)
            await self.notify_others(channel)

    async def notify_others(self, channel: str) -> None:
        """Tell the listeners of other processes, when the transaction commits, that it
        announced on ``channel`` (where the backend can: theirs poll otherwise)."""
        raise NotImplementedError

    def skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """``query``, a SELECT of rows the transaction means to take, made to lock the rows it
        returns until the transaction ends and to pass over rows another transaction holds
        locked, so that concurrent takers never wait for, nor take, one row."""
        raise NotImplementedError

    async def commit_lazily(self) -> None:
        """Let the commit return before it is durable: a crash just after may lose the
        transaction, never half of it, and never what a later durable commit saw. Only for
        transactions whose loss costs a redo, not data (a delivery lease, an ack: the event is
        sent again)."""
        raise NotImplementedError

    async def plan_by_index(self) -> None:
        """Have the transaction's statements use indexes, whatever the statistics say: for a
        table whose rows come in bursts (the events outbox), where stale statistics make a
        scan look cheap and each claim then reads the whole table."""
        raise NotImplementedError


class BaseDatabase:
    dialect: ClassVar[str]

    def __init__(self, url: str) -> None:
        self.url = url
        self._listeners: dict[str, list[Callable[[], None]]] = {}

    async def open(self) -> None:
        """Create the engines. Called once, before any ``read``/``write``."""
        raise NotImplementedError

    async def close(self) -> None:
        """Dispose of every connection."""
        raise NotImplementedError

    def read(self) -> contextlib.AbstractAsyncContextManager[Connection]:
        raise NotImplementedError

    def begin(self, *, long: bool = False) -> contextlib.AbstractAsyncContextManager[Writer]:
        """The backend's read-write transaction (what ``write`` runs)."""
        raise NotImplementedError

    @contextlib.asynccontextmanager
    async def write(self, *, long: bool = False) -> AsyncIterator[Writer]:
        """A read-write transaction (``long``: see the module's docstring); once it committed,
        the listeners of this process hear what it announced (``Writer.notify``)."""
        async with self.begin(long=long) as conn:
            yield conn
        for channel in conn.announced:
            for notified in list(self._listeners.get(channel, ())):
                notified()

    async def listen(self, channel: str, notified: Callable[[], None]) -> None:
        """Call ``notified`` whenever a transaction that announced on ``channel`` commits, in
        this process (right after its commit) or, where the backend can tell, any other, until
        cancelled. ``notified`` is also called when listening (re)starts, for what was announced
        while it was not. However many listen, on however many channels, a backend holds at most
        one listening connection per process."""
        listeners = self._listeners.setdefault(channel, [])
        listeners.append(notified)
        try:
            await self.listen_to_others(channel, notified)
        finally:
            listeners.remove(notified)

    async def listen_to_others(self, channel: str, notified: Callable[[], None]) -> None:
        """Hear other processes' announcements on ``channel`` until cancelled, calling
        ``notified`` each time listening (re)starts; a lost connection is logged and
        re-established with backoff, never raised (every listener of every channel is then
        called). This base hears none: it says it listens
        (to this process), and waits to be cancelled."""
        notified()
        await asyncio.Event().wait()

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.read() as conn:
                await conn.execute(sa.text("SELECT 1"))
            return True
        except errors.DingstoreError:
            return False


@contextlib.asynccontextmanager
async def _cancel_wins() -> AsyncIterator[None]:
    """A cancel that lands in a statement of a transaction breaks the connection (asyncpg closes
    it), and leaving the transaction then raises "the underlying connection is closed" in the
    cancel's place. Raised on, that error would read as "retry" to a loop that is being stopped
    (housekeeping's went on forever and held a server's shutdown): it is the cancel."""
    try:
        yield
    except Exception as exc:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError from exc
        raise


@contextlib.asynccontextmanager
async def translate_driver_errors() -> AsyncIterator[None]:
    """Turn driver exceptions into dingstore errors at the seam. A task cancelled inside the
    driver is cancelled, whatever the driver raised instead."""
    try:
        async with _cancel_wins():
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
