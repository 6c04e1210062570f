"""The pool of asyncpg connections that PostgreSQL's hot reads run on (``store/postgres.py``).

Every read is one statement in autocommit: a connection is taken, runs it and is given back, so
there is no session state to reset and nothing to check on the way back. What matters is who
gets a connection when all are busy: the one that has waited longest. asyncpg's own pool hands
its connections out through an ``asyncio.Queue``, where a request that arrives while a freed
connection sits in the queue takes it ahead of the waiter just woken for it, who queues again
at the back; under load most reads never wait and a few wait hundreds of milliseconds
(bench/get_task.py: a p99 of 100 to 300 ms behind a median of 15). Here a freed connection goes
straight to the first waiter, and nobody takes an idle one while others wait.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from collections.abc import Sequence
from typing import Any

import asyncpg


class ReadPool:
    """Up to ``size`` connections to ``dsn``, opened as they are first needed and handed out in
    the order they were asked for."""

    def __init__(self, dsn: str, size: int, **connect_args: Any) -> None:
        self._dsn = dsn
        self._size = size
        self._connect_args = connect_args
        self._idle: list[asyncpg.Connection] = []
        # Each waiter is given a connection, or None: "open one yourself" (one was closed).
        self._waiters: collections.deque[asyncio.Future[asyncpg.Connection | None]] = (
            collections.deque()
        )
        self._opened = 0  # connections open, being opened or promised to a waiter to open
        self._closed = False

    async def open(self) -> None:
        """Open the first connection: a database that cannot be reached fails here."""
        self._give(await self._take())

    async def fetch(self, sql: str, arguments: Sequence[Any]) -> list[asyncpg.Record]:
        """The rows of one statement (prepared once per connection by asyncpg's cache)."""
        conn = await self._take()
        try:
            rows: list[asyncpg.Record] = await conn.fetch(sql, *arguments)
        except (asyncpg.PostgresError, asyncio.CancelledError):
            # The server refused the statement, or the reader was cancelled: asyncpg has asked
            # the server to cancel the statement, and the connection's next statement waits
            # until it has (or finds the connection closed, if that failed: see ``_take``).
            self._give(conn)
            raise
        except BaseException:
            self._discard(conn)  # lost, or in no known state
            raise
        self._give(conn)
        return rows

    async def close(self) -> None:
        """Close the idle connections; those in use are closed as they come back."""
        self._closed = True
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(asyncpg.InterfaceError("the read pool is closed"))
        idle, self._idle = self._idle, []
        self._opened -= len(idle)
        await asyncio.gather(*(conn.close() for conn in idle), return_exceptions=True)

    async def _take(self) -> asyncpg.Connection:
        if self._closed:
            raise asyncpg.InterfaceError("the read pool is closed")
        while self._idle:
            conn = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._opened -= 1  # the server or the network closed it while it was idle
        if self._opened < self._size:
            self._opened += 1
            return await self._connect()
        waiter: asyncio.Future[asyncpg.Connection | None]
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            conn = await waiter
        except asyncio.CancelledError:
            if waiter.cancelled():
                with contextlib.suppress(ValueError):  # unless passed over already
                    self._waiters.remove(waiter)
            elif waiter.exception() is None:  # handed over just as the waiter was cancelled
                given = waiter.result()
                if given is None:
                    self._opened -= 1
                    self._wake_opener()
                else:
                    self._give(given)
            raise
        if conn is None or conn.is_closed():  # one was closed: open another in its place
            return await self._connect()
        return conn

    async def _connect(self) -> asyncpg.Connection:
        """A new connection, counted in ``_opened`` already; uncounted if it fails."""
        try:
            return await asyncpg.connect(self._dsn, **self._connect_args)
        except BaseException:
            self._opened -= 1
            self._wake_opener()
            raise

    def _give(self, conn: asyncpg.Connection) -> None:
        if self._closed:
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        conn.terminate()
        self._opened -= 1
        self._wake_opener()

    def _wake_opener(self) -> None:
        """A connection fewer than ``size``: the first waiter (if any) opens one."""
        if self._closed or self._opened >= self._size:
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self._opened += 1
                waiter.set_result(None)
                return
