"""The embedded database: one SQLite file in WAL mode.

* **Reads** run on the event loop itself, on a plain ``sqlite3`` connection: in WAL mode a reader
  never waits for the writer, and an indexed read costs microseconds — far less than the two
  thread hops per statement that an async driver pays, which capped throughput at a few
  connections' worth of round trips (bench/get_task.py). Reads must stay bounded: indexed
  lookups and pages, never a scan of a whole table.
* **Writes** go through one more connection, one transaction at a time (a lock in this process
  makes writers take turns, SQLite's busy timeout covers other processes such as the admin CLI).
  A small write's statements run on the event loop too, as reads do, in a savepoint of a
  ``Batch``: the writes that queued meanwhile share one ``COMMIT`` (group commit), which runs on
  the writer's own thread — the WAL's fsync, ``synchronous = FULL`` — while the loop serves
  others; each write's answer waits for it, and a write that fails undoes only its savepoint.
  So a small write costs no thread hop of its own: the hops, the thread's wake-ups and the GIL
  handed back and forth cost more CPU than its statements. ``BEGIN IMMEDIATE`` is tried on the
  loop without waiting; only when another process holds the write lock does it wait, on the
  thread. A ``long`` transaction (a task step, a migration) runs alone, every statement on that
  thread, so that however long it takes, requests' reads go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine.cursor import FullyBufferedCursorFetchStrategy

from dingstore.store import base, prepared

BUSY_TIMEOUT_MS = 10_000
T = TypeVar("T")


def _configure(engine: sa.Engine, durable: bool) -> None:
    # An ephemeral store (tmpfs, gone on exit) has nothing to keep across a crash: its commits
    # do not wait for the disk.
    synchronous = "FULL" if durable else "OFF"

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let us issue BEGIN ourselves; pysqlite's implicit transactions are off.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute(f"PRAGMA synchronous = {synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


def _create_private(path: str | None) -> None:
    """Create a new database file readable by its owner only (0600). SQLite gives its ``-wal``
    and ``-shm`` files the database file's mode; an existing file keeps the mode it has."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY


@contextlib.contextmanager
def _as_sqlalchemy(statement: str) -> Iterator[None]:
    """The driver's exceptions, for what runs without SQLAlchemy, as SQLAlchemy raises them:
    ``base.translate_driver_errors`` knows those."""
    try:
        yield
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(statement, None, exc, sqlite3.Error) from exc


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

    @property
    def dbapi(self) -> sqlite3.Connection:
        dbapi = self.sync_connection.connection.dbapi_connection
        assert dbapi is not None
        return dbapi  # type: ignore[return-value]

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return self.run(statement, parameters)

    def run(self, statement: Any, parameters: Any = None) -> Any:
        """``execute``, synchronously."""
        if statement.get_execution_options().get(base.PREPARED):
            return self._run_prepared(statement, parameters or {})
        return self.sync_connection.execute(statement, parameters)

    def _run_prepared(self, statement: Any, parameters: dict[str, Any]) -> prepared.PreparedResult:
        plan = self._plans.get(statement, self.sync_connection.dialect)
        with _as_sqlalchemy(plan.sql):
            return plan.result(self.dbapi.execute(plan.sql, plan.arguments(parameters)).fetchall())

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(self.sync_connection, *args, **kwargs)


class ThreadConnection:
    """The write connection as a ``long`` transaction sees it: each statement runs on the
    writer's thread, its rows fetched there, and the loop only waits for the answer."""

    def __init__(self, writes: WriteConnection) -> None:
        self._writes = writes

    @property
    def dialect(self) -> sa.Dialect:
        return self._writes.connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        return await self._writes.hop(self._run_buffered, statement, parameters)

    def _run_buffered(self, statement: Any, parameters: Any) -> Any:
        result = self._writes.connection.run(statement, parameters)
        if isinstance(result, sa.CursorResult) and result.returns_rows:
            # What SQLAlchemy does for a result read after its cursor: every row now.
            result.cursor_strategy = FullyBufferedCursorFetchStrategy(result.cursor)
        return result

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        sync_connection = self._writes.connection.sync_connection
        return await self._writes.hop(lambda: fn(sync_connection, *args, **kwargs))


class WriteConnection:
    """The one write connection and its thread. Whatever a caller gave up waiting for (a
    cancelled request) still finishes on the thread before the connection is used again."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = LoopConnection(connection)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dingstore-writer")
        self._last: Future[Any] | None = None
        # Set on the loop, where BEGIN must not wait; the thread waits when it must (``begin``).
        self.connection.dbapi.execute("PRAGMA busy_timeout = 0")

    def submit(self, fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``fn(*args)`` on the writer's thread, begun now: its outcome, to await."""
        self._last = self._thread.submit(fn, *args)
        return asyncio.wrap_future(self._last)

    async def hop(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the writer's thread."""
        return await self.submit(fn, *args)

    async def settle(self) -> None:
        """Wait for what the thread still runs for a caller that stopped waiting."""
        if self._last is not None and not self._last.done():
            await asyncio.wait([asyncio.wrap_future(self._last)])

    async def begin(self) -> None:
        """``BEGIN IMMEDIATE``: at once on the loop when no other process writes, else waiting
        on the thread, up to the busy timeout."""
        await self.settle()
        try:
            with _as_sqlalchemy("BEGIN IMMEDIATE"):
                self.connection.dbapi.execute("BEGIN IMMEDIATE")
        except sa.exc.OperationalError as exc:
            if not _busy(exc.orig):  # type: ignore[arg-type]
                raise
            try:
                await self.hop(self._begin_waiting)
            except BaseException:
                # Given up on (cancelled), it may still begin: the next caller settles this.
                self._last = self._thread.submit(self.end, False)
                raise
        self.connection.sync_connection.begin()  # SQLAlchemy's books

    def _begin_waiting(self) -> None:
        dbapi = self.connection.dbapi
        with _as_sqlalchemy("BEGIN IMMEDIATE"):
            dbapi.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            try:
                dbapi.execute("BEGIN IMMEDIATE")
            finally:
                dbapi.execute("PRAGMA busy_timeout = 0")

    def savepoint(self, *statements: str) -> None:
        """Run the savepoint statements (``SAVEPOINT w``, ``RELEASE w``, …) on the loop."""
        for statement in statements:
            with _as_sqlalchemy(statement):
                self.connection.dbapi.execute(statement)

    async def commit(self) -> None:
        await self.hop(self.end, True)

    async def rollback(self) -> None:
        await self.hop(self.end, False)

    def end(self, commit: bool) -> None:
        """COMMIT (``commit``) or ROLLBACK, where it is called; SQLite's transaction is over
        either way."""
        try:
            if commit:
                self.connection.sync_connection.commit()
            else:
                self.connection.sync_connection.rollback()
        finally:
            # A COMMIT that failed may leave SQLite's transaction open; SQLAlchemy's has ended.
            if self.connection.dbapi.in_transaction:
                with _as_sqlalchemy("ROLLBACK"):
                    self.connection.dbapi.rollback()

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.connection.sync_connection.close()


class Batch:
    """Small write transactions committed together (group commit). Each runs, on the loop, in a
    savepoint of one SQLite transaction, so that its failure undoes its own changes only; then
    it waits, the write lock released for the next, until one ``COMMIT`` makes the whole batch
    durable. A batch ends when its flusher, queued on the write lock behind the writers waiting
    as the batch began, takes the lock: however many write at once, each waits for one commit
    at most before its own begins."""

    SAVEPOINT = "w"

    def __init__(self) -> None:
        self.committed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def end(self, outcome: asyncio.Future[None] | BaseException) -> None:
        """Tell the batch's writers how its COMMIT went (a failure: nothing of theirs is kept)."""
        if self.committed.done():
            return
        failure = outcome if isinstance(outcome, BaseException) else outcome.exception()
        if failure is None:
            self.committed.set_result(None)
        else:
            self.committed.set_exception(failure)
            self.committed.exception()  # theirs to raise; none left waiting is no error


class Writer(base.Writer):
    """The single writer: writers already take turns, one transaction at a time, so each of
    these is nothing here."""

    async def lock(self, key: int) -> None:
        pass

    async def notify_others(self, channel: str) -> None:
        # No notifications between processes: theirs poll.
        pass

    def skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query

    async def commit_lazily(self) -> None:
        # Every write shares its batch's one commit (synchronous = FULL): nothing to gain.
        pass

    async def plan_by_index(self) -> None:
        # SQLite plans without statistics (no ANALYZE is run): it prefers an index already.
        pass


def _engine(url: str, durable: bool = True) -> sa.Engine:
    """An engine of the stdlib driver (a URL naming aiosqlite, as older settings did, too)."""
    engine = sa.create_engine(
        url.replace("+aiosqlite", "", 1),
        poolclass=sa.pool.StaticPool,
        connect_args={"check_same_thread": False},
    )
    _configure(engine, durable)
    return engine


class SQLiteDatabase(base.BaseDatabase):
    dialect = "sqlite"

    def __init__(self, url: str, *, durable: bool = True) -> None:
        super().__init__(url)
        self.durable = durable
        self._engines: list[sa.Engine] = []
        self._read_connection: LoopConnection | None = None
        self._writes: WriteConnection | None = None
        self._write_lock = asyncio.Lock()
        self._batch: Batch | None = None
        self._flushers: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        _create_private(sa.engine.make_url(self.url).database)
        reader, writer = _engine(self.url, self.durable), _engine(self.url, self.durable)
        self._engines = [reader, writer]
        # Reads never yield to the loop mid-statement, so one connection serves them all. They
        # run in autocommit: each statement sees the latest commit, as a statement does under
        # PostgreSQL's READ COMMITTED, and no BEGIN/COMMIT round is paid.
        self._read_connection = LoopConnection(reader.connect())
        self._writes = WriteConnection(writer.connect())

    async def close(self) -> None:
        await asyncio.gather(*self._flushers, return_exceptions=True)
        if self._writes is not None:
            self._writes.close()  # once its thread is done
        if self._read_connection is not None:
            self._read_connection.sync_connection.close()
        for engine in self._engines:
            engine.dispose()

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
    async def begin(self, *, long: bool = False) -> AsyncIterator[base.Writer]:
        writes = self._writes
        assert writes is not None, "database not opened"
        async with base.translate_driver_errors():
            if long:  # alone, in a transaction of its own: it would hold up a batch's answers
                async with self._write_lock:
                    await self._commit(self._batch)
                    await writes.begin()
                    try:
                        yield Writer(ThreadConnection(writes))
                    except BaseException:
                        await writes.rollback()
                        raise
                    await writes.commit()
                return
            async with self._write_lock:
                batch = await self._join(writes)
                try:
                    yield Writer(writes.connection)
                except BaseException:
                    self._leave(writes, batch, f"ROLLBACK TO {Batch.SAVEPOINT}")
                    raise
                self._leave(writes, batch)
            await asyncio.shield(batch.committed)

    async def _join(self, writes: WriteConnection) -> Batch:
        """The open batch, or a new one, and a savepoint in it for the caller."""
        batch = self._batch
        if batch is None:
            await writes.begin()
            batch = self._batch = Batch()
            flusher = asyncio.create_task(self._flush(batch), name="dingstore-group-commit")
            self._flushers.add(flusher)
            flusher.add_done_callback(self._flushers.discard)
        try:
            writes.savepoint(f"SAVEPOINT {Batch.SAVEPOINT}")
        except sa.exc.DBAPIError as exc:
            self._fail(writes, batch, exc)
            raise
        return batch

    def _leave(self, writes: WriteConnection, batch: Batch, *undo: str) -> None:
        """End the caller's savepoint: kept (``RELEASE``), or undone first."""
        try:
            writes.savepoint(*undo, f"RELEASE {Batch.SAVEPOINT}")
        except sa.exc.DBAPIError as exc:  # SQLite ended the transaction itself (disk full, …)
            self._fail(writes, batch, exc)
            if not undo:
                raise

    def _fail(self, writes: WriteConnection, batch: Batch, exc: BaseException) -> None:
        """The batch is lost: its writers, waiting or still to come, hear of it."""
        self._batch = None
        batch.end(exc)
        writes.end(commit=False)

    async def _flush(self, batch: Batch) -> None:
        async with self._write_lock:
            await self._commit(batch)

    async def _commit(self, batch: Batch | None) -> None:
        """Commit ``batch`` if it is still the open one (holding the write lock)."""
        writes = self._writes
        if batch is None or batch is not self._batch or writes is None:
            return
        self._batch = None
        committing = writes.submit(writes.end, True)
        committing.add_done_callback(batch.end)
        # Shielded: a flusher cancelled (shutdown) leaves the commit and the writers' answers
        # to the thread; the next transaction waits for it (``WriteConnection.settle``).
        await asyncio.wait([committing])
