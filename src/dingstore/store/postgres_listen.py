"""PostgreSQL's ``LISTEN`` side of the notify seam (``store/postgres.py`` ``listen``): ONE
connection per process for every channel anything in it listens on.

The task workers, the HTTP push dispatcher, the Stream hub and the pull feed's bell all listen,
some on one channel, some on another; each holding a connection of its own would cost the
server one backend per listener per process. Here the first listener opens the connection, each
new channel is ``LISTEN``ed on it as its first listener comes, and a notification is handed to
every listener of its channel (the database's own table of listeners, which also serves the
process's commits). A lost connection is opened again with backoff and ``LISTEN``s on every
channel again; then every listener is called, as ``listen`` promises, for what was announced
while nobody heard. When the last listener leaves, the connection is closed: a process that
listens to nothing holds none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

log = logging.getLogger(__name__)

_DRIVER_DOWN = (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, OSError)
# A listening connection that is lost is opened again after these pauses, doubling up to the
# last; a live one answers a trivial query every ``CHECK_S`` (a peer that vanished without
# closing the socket shows only when something is sent).
BACKOFF_S = (0.2, 30.0)
CHECK_S = 15.0
NAME = "dingstore-listener"  # its application_name, as pg_stat_activity shows it

Listeners = dict[str, list[Callable[[], None]]]


class Listener:
    """The process's listening connection to ``dsn``, for the channels of ``listeners``
    (channel → callbacks, kept by ``base.BaseDatabase.listen``)."""

    def __init__(self, dsn: str, listeners: Listeners) -> None:
        self._dsn = dsn
        self._listeners = listeners
        self._users = 0
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None  # the live connection, once it listens
        self._channels: set[str] = set()  # what it LISTENs on
        self._lock = asyncio.Lock()  # one operation at a time on the connection

    async def listen(self, channel: str, notified: Callable[[], None]) -> None:
        """Hear ``channel`` for ``notified`` (already in the listeners' table) until cancelled."""
        self._users += 1
        try:
            if self._task is None or self._task.done():
                self._task = asyncio.create_task(self._run(), name=NAME)
            else:
                await self._add(channel, notified)
            await asyncio.Event().wait()
        finally:
            self._users -= 1
            if self._users == 0:
                await self.close()

    async def close(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    def _wanted(self) -> list[str]:
        return sorted(channel for channel, called in self._listeners.items() if called)

    def _dispatch(self, _conn: Any, _pid: int, channel: str, _payload: str) -> None:
        for notified in list(self._listeners.get(channel, ())):
            notified()

    async def _add(self, channel: str, notified: Callable[[], None]) -> None:
        """A listener joins while the task runs: ``LISTEN`` on its channel if the connection
        does not yet, then tell it that listening began. While no connection is live there is
        nothing to do: the next one listens on every channel and calls every listener."""
        if self._conn is not None and channel in self._channels:
            notified()
            return
        async with self._lock:
            conn = self._conn
            if conn is None:
                return
            if channel not in self._channels:
                try:
                    await conn.add_listener(channel, self._dispatch)
                except (*_DRIVER_DOWN, asyncpg.PostgresError, TimeoutError) as exc:
                    # The next connection listens on it; make sure there is a next one.
                    log.warning("LISTEN %s failed (%s); listening again", channel, exc)
                    conn.terminate()
                    return
                self._channels.add(channel)
                log.info("listening on %s", channel)
        notified()

    async def _run(self) -> None:
        shortest, longest = BACKOFF_S
        pause = shortest
        while True:
            began = asyncio.get_running_loop().time()
            try:
                await self._listen_once()
                log.warning(
                    "listening on %s: connection lost; again in %.1f s", self._named(), pause
                )
            except (*_DRIVER_DOWN, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning(
                    "listening on %s failed (%s); again in %.1f s", self._named(), exc, pause
                )
            except Exception:  # never let the listener die: polling alone would be slow
                log.exception("listening on %s failed; again in %.1f s", self._named(), pause)
            await asyncio.sleep(pause)
            lasted = asyncio.get_running_loop().time() - began
            # A connection that listened a while starts the backoff over; one lost at once
            # (or never opened) doubles it.
            pause = shortest if lasted > CHECK_S + pause else min(pause * 2, longest)

    def _named(self) -> str:
        return ", ".join(self._wanted()) or "nothing"

    async def _listen_once(self) -> None:
        """Listen on one connection until it is lost (returns) or fails to open (raises)."""
        conn = await asyncpg.connect(
            self._dsn, timeout=10, server_settings={"application_name": NAME}
        )
        lost = asyncio.Event()
        try:
            conn.add_termination_listener(lambda _conn: lost.set())
            async with self._lock:
                for channel in self._wanted():
                    await conn.add_listener(channel, self._dispatch)
                    self._channels.add(channel)
                self._conn = conn
            log.info("listening on %s", self._named())
            # Whatever was announced before this connection listened: every listener, each once.
            for called in list(self._listeners.values()):
                for notified in list(called):
                    notified()
            while not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), CHECK_S)
                if not lost.is_set():
                    async with self._lock:
                        await conn.execute("SELECT 1", timeout=CHECK_S)
        except _DRIVER_DOWN:
            return  # lost while listening or checking
        finally:
            self._conn = None
            self._channels = set()
            conn.terminate()
