"""HTTP push: the events of apps in push mode, POSTed to their callback URL the way DingTalk
does it (``shared/spec/events.md`` §3), until the receiver answers ``success`` or the retry
schedule (``retries.py``) runs out.

Every process that runs task workers runs a :class:`PushDispatcher`. It wakes when a change
commits events (``store/events.py`` ``CHANNEL``: in this process at once, from others through
``LISTEN/NOTIFY`` on PostgreSQL) and every ``poll_interval`` anyway (retries fall due, SQLite
tells no other process). Each app in push mode is then drained by a task of its own, so that a
slow receiver holds up no other app: it takes the app's due events with a ``claim`` (a lease
longer than a push's timeout: no two processes push one event at once, and a dentry's events go
out in commit order), POSTs them concurrently (at most ``concurrency`` in flight per app) and
settles them in one transaction: ``acknowledge`` the successes, ``retry_many`` the rest with
the reason. A receiver succeeds with a 2xx answer within ``TIMEOUT_S`` whose body is an
encrypted ``success`` (``crypto.CallbackCrypto.check_reply``).

The client is pyreqwest (Rust's reqwest; its HTTP work happens off the event loop): through
it this dispatcher delivered 1.35-2x as many events per second as through aiohttp on the busy
2-core machine (bench/push_clients.py --events), and both 10x what httpx manages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import RowMapping

from dingstore import clock as clocks
from dingstore.service.events import crypto, messages, retries
from dingstore.store import base, identity
from dingstore.store import events as event_rows

if TYPE_CHECKING:  # pyreqwest itself is imported by the first push: most servers never push
    from pyreqwest import exceptions as http_errors
    from pyreqwest.client import Client
    from pyreqwest.response import Response

log = logging.getLogger(__name__)

TIMEOUT_S = 1.5  # DingTalk's limit for a receiver's answer (events.md §3), for every push
MAX_REPLY = 64 * 1024  # a success reply is ~200 bytes
NONCE_LENGTH = 8
CHECK_URL = {"EventType": "check_url"}
RETRY_S = (0.2, 5.0)  # a look that failed (the database down) is tried again after these
PIPELINE = 2  # batches of one app in flight at once


@dataclass(frozen=True, slots=True)
class Callback:
    """Where and how one app's events are pushed."""

    corp_id: str
    app_id: str
    app_key: str  # the owner key closing every plaintext
    url: str
    token: str
    aes_key: str

    def cipher(self) -> crypto.CallbackCrypto:
        return crypto.CallbackCrypto(self.token, self.aes_key, self.app_key)


def message(row: Mapping[Any, Any]) -> str:
    """The flat JSON message of an event row (events.md §3): DingTalk's envelope fields, then
    the business fields every delivery carries (``messages.business_fields``)."""
    event_id = messages.event_id(int(row["id"]))
    flat = {
        "EventType": row["event_type"],
        "EventTime": int(row["born_at"]),
        "CorpId": row["corp_id"],
        "BizId": event_id,
        "eventId": event_id,
        **messages.business_fields(row),
    }
    return json.dumps(flat, ensure_ascii=False, separators=(",", ":"))


class Pusher:
    """POSTs encrypted messages and judges the answers, on one pool of keep-alive connections.
    Open it in the loop that uses it; close it when done."""

    def __init__(self, *, timeout_s: float = TIMEOUT_S, clock: clocks.Clock) -> None:
        self.timeout_s = timeout_s
        self.clock = clock
        self._client: Client | None = None
        self._ciphers: dict[Callback, crypto.CallbackCrypto] = {}

    async def open(self) -> None:
        """Make the connection pool (again: nothing changes)."""
        if self._client is not None:
            return
        from pyreqwest.client import ClientBuilder

        # No limit on connections: the dispatcher bounds the pushes in flight of each app.
        self._client = (
            ClientBuilder()
            .timeout(timedelta(seconds=self.timeout_s))  # the whole exchange, body included
            .error_for_status(False)
            .follow_redirects(False)  # a redirect is an answer, and not a success
            .no_proxy()  # receivers are reached directly, whatever the environment says
            .build()
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def push(self, callback: Callback, text: str) -> str | None:
        """POST ``text`` encrypted to the callback; None when the receiver answered
        ``success`` correctly in time, else why not, in a few words."""
        assert self._client is not None, "open the Pusher first"
        from pyreqwest import exceptions as http_errors

        cipher = self._ciphers.get(callback)
        if cipher is None:
            if len(self._ciphers) > 1000:  # callbacks that changed: forget them all
                self._ciphers.clear()
            cipher = self._ciphers[callback] = callback.cipher()
        stamp = str(self.clock.now_ms())
        query, body = cipher.seal(text, stamp, crypto.random_text(NONCE_LENGTH))
        try:
            request = (
                self._client.post(callback.url)
                .query(query)  # after the URL's own query, if it has one
                .header("Content-Type", "application/json")
                .body_bytes(body)
                .build_streamed()
            )
            async with request as answer:
                if not 200 <= answer.status < 300:
                    return f"HTTP {answer.status}"
                reply = await _read_capped(answer)
        except TimeoutError:  # pyreqwest's timeouts are TimeoutErrors
            return f"timeout after {round(self.timeout_s * 1000)} ms"
        except http_errors.PyreqwestError as exc:
            return _why(exc)
        if reply is None:
            return f"reply over {MAX_REPLY} bytes"
        try:
            cipher.check_reply(reply)
        except crypto.CryptoError as exc:
            return str(exc)
        return None

    async def check_url(self, callback: Callback) -> str | None:
        """The verification push DingTalk sends when a URL is saved: ``{"EventType":
        "check_url"}``; None when the receiver answered ``success``."""
        return await self.push(callback, json.dumps(CHECK_URL, separators=(",", ":")))


async def _read_capped(answer: Response) -> bytes | None:
    reader, chunks, size = answer.body_reader, [], 0
    while (chunk := await reader.read_chunk()) is not None:
        size += len(chunk)
        if size > MAX_REPLY:
            return None
        chunks.append(bytes(chunk))
    return b"".join(chunks)


def _why(exc: http_errors.PyreqwestError) -> str:
    """``connection error: Connection refused (os error 111)``: what went wrong and its first
    cause, short enough for the delivery log."""
    what = str(exc.args[0]) if exc.args else type(exc).__name__
    details = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    causes = [c.get("message", "") for c in details.get("causes") or () if isinstance(c, dict)]
    return f"{what}: {causes[-1]}"[:200] if causes else what[:200]


class PushDispatcher:
    """Pushes the due events of every app in push mode, in the background of a process that
    runs task workers (``start``/``stop``), or one pass at a time (``push_due``)."""

    def __init__(
        self,
        db: base.BaseDatabase,
        *,
        clock: clocks.Clock = clocks.SYSTEM,
        timeout_s: float = TIMEOUT_S,
        concurrency: int = 32,
        batch: int = 256,
        lease_ms: int = 60_000,
        poll_interval: float = 1.0,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.batch = batch
        self.lease_ms = lease_ms
        self.poll_interval = poll_interval
        self.rng = rng or random.Random()
        self.owner = f"push:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.concurrency = concurrency
        self.pusher = Pusher(timeout_s=timeout_s, clock=clock)
        # pushes in flight, per app: a receiver that is slow uses up only its own
        self._in_flight: dict[str, asyncio.Semaphore] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._draining: dict[str, asyncio.Task[None]] = {}  # app_id: its drain
        self._again: set[str] = set()  # apps woken while draining
        self._app_keys: dict[str, str] = {}

    # --- running in the background ---------------------------------------------------------

    def wake(self) -> None:
        """Events were committed: look now."""
        self._wake.set()

    def start(self) -> None:
        """Listen for new events and push them until ``stop``."""
        self._tasks = [
            asyncio.create_task(self._run(), name=self.owner),
            asyncio.create_task(
                self.db.listen(event_rows.CHANNEL, self.wake), name=f"{self.owner}:listener"
            ),
        ]

    async def stop(self) -> None:
        """Stop pushing: pushes in flight are abandoned (their events are pushed again, later
        or by another process), the leases given back."""
        tasks = [*self._tasks, *self._draining.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._draining.clear()
        try:
            apps = await self._callbacks()
            if apps:
                async with self.db.write() as conn:
                    corp_ids = sorted({a.corp_id for a in apps})
                    await event_rows.release(conn, corp_ids, self.owner, self.clock.now_ms())
        except Exception as exc:
            log.warning("push leases not given back (%r); they expire in time", exc)
        await self.close()

    async def close(self) -> None:
        """Close the connections to the receivers (``push_due`` opens them again)."""
        await self.pusher.close()

    async def _run(self) -> None:
        """Each app in push mode is drained by a task of its own, so that a receiver that
        answers slowly (or never: 1.5 s per push) holds up no other app's events."""
        pause = RETRY_S[0]
        while True:
            # Cleared before looking: events committed meanwhile wake the next look.
            self._wake.clear()
            try:
                apps = await self._callbacks()
                if apps:
                    await self.pusher.open()
            except Exception as exc:  # the database down, say: push on once it is back
                log.warning("looking for events to push failed (%r); again in %.1f s", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_S[1])
                continue
            pause = RETRY_S[0]
            for app in apps:
                draining = self._draining.get(app.app_id)
                if draining is None or draining.done():
                    self._draining[app.app_id] = asyncio.create_task(
                        self._drain(app), name=f"{self.owner}:{app.app_id}"
                    )
                else:  # it may have claimed before these events committed: look once more
                    self._again.add(app.app_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _drain(self, app: Callback) -> None:
        """Push the app's due events until none is left: claim a batch, and while its pushes
        are in flight claim the next (up to ``PIPELINE`` batches at once), so that the
        database's turns overlap the receiver's."""
        batches: set[asyncio.Task[None]] = set()
        try:
            while True:
                self._again.discard(app.app_id)
                claimed = await self._claim(app)
                if claimed:
                    batches.add(asyncio.create_task(self._push_batch(app, claimed)))
                if len(claimed) < self.batch:  # every due event is taken
                    await asyncio.gather(*batches)
                    batches.clear()
                    if app.app_id not in self._again:  # and none came since
                        return
                elif len(batches) >= PIPELINE:
                    _, batches = await asyncio.wait(batches, return_when=asyncio.FIRST_COMPLETED)
        except Exception as exc:  # the database down, say: the next look starts over
            log.warning("pushing the events of app %s failed (%r)", app.app_id, exc)
        finally:
            for batch in batches:  # cancelled (stop): leave them to their leases
                batch.cancel()
            await asyncio.gather(*batches, return_exceptions=True)

    # --- one pass --------------------------------------------------------------------------

    async def push_due(self) -> bool:
        """One pass: push the due events of every app in push mode, a batch each, and wait
        for them; True when some app had a full batch (more may be waiting)."""
        apps = await self._callbacks()
        if not apps:
            return False
        await self.pusher.open()
        full = await asyncio.gather(*(self._push_app(app) for app in apps))
        return any(full)

    async def _callbacks(self) -> list[Callback]:
        async with self.db.read() as conn:
            rows = await event_rows.callback_apps(conn)
            found = []
            for row in rows:
                app_key = self._app_keys.get(row["app_id"])
                if app_key is None:
                    app = await identity.get_app(conn, row["app_id"])
                    if app is None or not app["app_key"]:
                        continue
                    app_key = self._app_keys[row["app_id"]] = app["app_key"]
                found.append(
                    Callback(
                        corp_id=row["corp_id"],
                        app_id=row["app_id"],
                        app_key=app_key,
                        url=row["url"],
                        token=row["token"],
                        aes_key=row["aes_key"],
                    )
                )
        return found

    async def _push_app(self, app: Callback) -> bool:
        claimed = await self._claim(app)
        if claimed:
            await self._push_batch(app, claimed)
        return len(claimed) >= self.batch

    async def _claim(self, app: Callback) -> list[RowMapping]:
        async with self.db.write() as conn:
            return await event_rows.claim(
                conn,
                app.corp_id,
                app.app_id,
                owner=self.owner,
                now=self.clock.now_ms(),
                lease_ms=self.lease_ms,
                limit=self.batch,
            )

    async def _push_batch(self, app: Callback, claimed: list[RowMapping]) -> None:
        """Push the claimed events and settle them. A settle that fails leaves them to their
        leases: they go again once those expire."""
        outcomes = await asyncio.gather(*(self._push_one(app, row) for row in claimed))
        try:
            await self._settle(app, claimed, outcomes)
        except Exception as exc:
            log.warning("settling %d pushes of app %s failed (%r)", len(claimed), app.app_id, exc)

    async def _push_one(self, app: Callback, row: RowMapping) -> str | None:
        lane = self._in_flight.get(app.app_id)
        if lane is None:
            lane = self._in_flight[app.app_id] = asyncio.Semaphore(self.concurrency)
        async with lane:
            try:
                return await self.pusher.push(app, message(row))
            except Exception as exc:  # never lose the batch's other outcomes
                log.exception("pushing event %s failed unexpectedly", row["id"])
                return f"{type(exc).__name__}"

    async def _settle(
        self, app: Callback, rows: Sequence[RowMapping], outcomes: Sequence[str | None]
    ) -> None:
        now = self.clock.now_ms()
        delivered = [int(row["id"]) for row, error in zip(rows, outcomes, strict=True) if not error]
        async with self.db.write() as conn:
            await event_rows.acknowledge(conn, [app.corp_id], [app.app_id], delivered, now)
            again = []
            for row, error in zip(rows, outcomes, strict=True):
                if error is None:
                    continue
                attempt = int(row["attempts"])
                delay = retries.next_delay(attempt, self.rng)
                again.append(
                    event_rows.Retry(
                        int(row["id"]),
                        attempt,
                        due_at=now + round((delay or 0) * 1000),
                        error=error,
                        failed=delay is None,
                    )
                )
            await event_rows.retry_many(conn, app.corp_id, app.app_id, again)
        for row, error in zip(rows, outcomes, strict=True):
            if error is not None:
                log.info(
                    "push of event %s to app %s failed (attempt %s): %s",
                    row["id"],
                    app.app_id,
                    row["attempts"],
                    error,
                )
