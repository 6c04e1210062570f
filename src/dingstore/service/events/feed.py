"""The pull feed (a dingstore extension, docs/events.md#the-pull-feed): an app reads its own
events after a cursor, in the order their changes committed, waiting for new ones if asked.

The feed only reads. It does not acknowledge, lease or otherwise touch the delivery state that
Stream mode and HTTP push keep on the same rows: an app may read the feed and be pushed to at
once, and a page read twice reads the same events.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from dingstore import errors
from dingstore.service import models
from dingstore.service.events import messages
from dingstore.service.events.wakeups import Bell
from dingstore.store import base, events

LATEST = "latest"  # the cursor that starts after the app's newest event: "from now on"
DEFAULT_RESULTS, MAX_RESULTS = 100, 1000
MAX_WAIT_S = 30
# A long-poll ends this long before the request's deadline (DINGSTORE_REQUEST_TIMEOUT), so that
# it answers with an empty page instead of 503 operationTimeout.
DEADLINE_MARGIN_S = 1.0
# While it waits, a long-poll also looks again this often: on SQLite another process's commits
# are not announced at all. And on PostgreSQL an event can become readable without a new
# announcement, when an older transaction of the database that held it back ends
# (store/xact.py): a read whose events are held back looks again sooner, after HELD_BACK_S,
# doubling up to HELD_BACK_MAX_S.
RECHECK_S = 1.0
HELD_BACK_S = 0.02
HELD_BACK_MAX_S = 1.0
# A read, waiting or not, answers once the events committed before it are readable, so that a
# change made and then looked for in the feed is there; it waits at most this long for an older
# transaction to end, then answers what is readable.
SETTLE_S = 2.0

_CURSOR = re.compile(r"-?[0-9]{1,19}\.[0-9]{1,19}")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Events in commit order (each a dict of the wire's fields), the cursor to ask after them
    next, and whether more were already there past this page."""

    events: list[dict[str, Any]]
    cursor: str
    has_more: bool


def render(row: Any) -> dict[str, Any]:
    """One event as the feed shows it: the envelope of the Stream frame's headers (``eventId``,
    ``eventType``, ``eventBornTime``, ``corpId``) and the business fields every delivery
    carries (``messages.business_fields``)."""
    return {
        "eventId": messages.event_id(int(row["id"])),
        "eventType": row["event_type"],
        "eventBornTime": int(row["born_at"]),
        "corpId": row["corp_id"],
        **messages.business_fields(row),
    }


def parse_cursor(text: str) -> events.Cursor:
    """A cursor the feed gave, or ``paramError.cursor``."""
    if _CURSOR.fullmatch(text):
        tx, _, row = text.partition(".")
        if int(tx) <= _INT64_MAX and int(row) <= _INT64_MAX:
            try:
                return events.Cursor.parse(text)
            except ValueError:
                pass
    raise errors.param_error("cursor", f"cursor {text!r} is not one the feed gave")


class FeedService:
    def __init__(self, db: base.BaseDatabase, bell: Bell, *, request_timeout: float) -> None:
        self._db = db
        self._bell = bell
        self._max_wait = max(0.0, min(float(MAX_WAIT_S), request_timeout - DEADLINE_MARGIN_S))
        self._draining = False

    async def read(
        self,
        principal: models.Principal,
        *,
        cursor: str | None = None,
        max_results: int | None = None,
        wait_seconds: int | None = None,
    ) -> FeedPage:
        """The calling app's events after ``cursor`` (None: from the oldest kept; ``"latest"``:
        after the newest, i.e. only what comes next), at most ``max_results`` (1 to 1000,
        default 100). When there are none yet and ``wait_seconds`` (0 to 30) is given, wait up
        to that long, less when the request's deadline is nearer, for the first to commit.
        Either way the page waits, up to ``SETTLE_S``, for events already committed that an
        older transaction holds back (store/xact.py), so that it shows every event committed
        before the read. An empty page gives back the cursor it was asked with (``"latest"``
        resolved), so reading on from a page's cursor never skips an event nor repeats one."""
        limit = _bounded("maxResults", max_results, 1, MAX_RESULTS, DEFAULT_RESULTS)
        wait = min(float(_bounded("waitSeconds", wait_seconds, 0, MAX_WAIT_S, 0)), self._max_wait)
        after = None if cursor == LATEST else parse_cursor(cursor) if cursor else events.Cursor()
        corp_id, app_id = principal.corp_id, principal.app_id
        loop = asyncio.get_running_loop()  # a wait measures elapsed time, as asyncio's timers do
        began = loop.time()
        until, settle_until = began + wait, began + min(SETTLE_S, self._max_wait)
        pause = HELD_BACK_S
        first: str | None = None  # the read's first snapshot
        while True:
            armed = self._bell.armed() if wait else None
            # waiting, any event held back is worth a sooner look; past the wait, only those
            # committed before the read began are waited for
            settling = loop.time() >= until
            async with self._db.read() as conn:
                # one line for this look's statements; "before the read" is its first snapshot
                at = await events.horizon(conn, first)
                first = at.began
                if after is None:
                    after = await events.latest(conn, corp_id, app_id, at)
                rows = await events.feed(conn, corp_id, app_id, after, limit + 1, at)
                last = _cursor_of(rows[-1]) if rows else after
                held = len(rows) <= limit and await events.held_back(
                    conn, corp_id, app_id, last, at, before_read=settling
                )
            now = loop.time()
            if self._draining:
                break
            if held and now < max(until, settle_until):
                # committed events wait for an older transaction: no commit announces its end
                nap = min(pause, max(until, settle_until) - now)
                if armed is None:
                    await asyncio.sleep(nap)
                else:
                    await self._bell.wait(armed, nap)
                pause = min(pause * 2, HELD_BACK_MAX_S)
                continue
            if rows or armed is None or now >= until:
                break
            await self._bell.wait(armed, min(until - now, RECHECK_S))
            pause = HELD_BACK_S
        page = rows[:limit]
        if page:
            after = _cursor_of(page[-1])
        return FeedPage([render(row) for row in page], str(after), len(rows) > limit)

    def drain(self) -> None:
        """The server is shutting down: every waiting long-poll answers now (an empty page and
        its cursor, which the client asks again with, of another process), and none waits from
        now on, so that the shutdown need not wait for them."""
        self._draining = True
        self._bell.ring()

    async def close(self) -> None:
        """Stop the process's listener: waiting long-polls end at their timeout."""
        await self._bell.close()


def _cursor_of(row: Any) -> events.Cursor:
    return events.Cursor(int(row["tx"]), int(row["id"]))


def _bounded(field: str, value: int | None, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    if not low <= value <= high:
        raise errors.param_error(field, f"{field} must be between {low} and {high}")
    return value
