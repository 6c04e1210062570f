"""One wake-up for every waiter of a process: the pull feed's long-polls wait on a ``Bell`` that
one listener on ``store/events.py`` ``CHANNEL`` rings whenever a transaction that wrote events
commits (in this process, or on PostgreSQL in any). However many requests wait, the process
holds one listener, started at the first wait (on PostgreSQL it shares the process's one
``LISTEN`` connection with every other listener: ``store/postgres_listen.py``)."""

from __future__ import annotations

import asyncio
import contextlib

from dingstore.store import base, events


class Bell:
    def __init__(self, db: base.BaseDatabase) -> None:
        self._db = db
        self._next = asyncio.Event()
        self._listener: asyncio.Task[None] | None = None

    def ring(self) -> None:
        """Wake every waiter (the listener calls it after each commit that wrote events)."""
        rung, self._next = self._next, asyncio.Event()
        rung.set()

    def armed(self) -> asyncio.Event:
        """What the next ring sets. Take it *before* looking for events, then ``wait`` on it:
        a commit between the look and the wait is not missed."""
        self._listen()
        return self._next

    async def wait(self, armed: asyncio.Event, timeout: float) -> bool:
        """Wait until ``armed`` rings or ``timeout`` seconds pass; True if it rang."""
        if timeout <= 0:
            return armed.is_set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(armed.wait(), timeout)
        return armed.is_set()

    def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            listening = self._db.listen(events.CHANNEL, self.ring)
            self._listener = asyncio.create_task(listening, name="events-bell")

    async def close(self) -> None:
        """Stop listening (the process is ending); waiters time out as they would."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
