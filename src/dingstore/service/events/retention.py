"""How long events are kept: every event, delivered or not, goes when it is older than the
retention (``DINGSTORE_EVENT_RETENTION_DAYS``, 7 days by default: DingTalk keeps its failed pushes
as long). Housekeeping calls ``purge_expired``."""

from __future__ import annotations

from dingstore.clock import Clock
from dingstore.store import base, events

DAY_MS = 86_400_000


class EventRetention:
    def __init__(self, db: base.BaseDatabase, *, retention_days: float, clock: Clock) -> None:
        self._db = db
        self._retention_ms = round(retention_days * DAY_MS)
        self._clock = clock

    async def purge_expired(self) -> int:
        """Delete the events, of every org, born longer ago than the retention; the number
        deleted. An event still undelivered then is given up with its row."""
        async with self._db.write(long=True) as conn:
            return await events.purge(conn, self._clock.now_ms() - self._retention_ms)
