"""Stream-mode delivery in one ``serve`` process: the connections its clients opened, the
events it sends on them, the acks it settles.

Each connection that subscribed to EVENT frames runs its own dispatch loop: it *claims* its
app's due events (``store/events.py`` ``claim``: a lease of ``ack_timeout`` in the connection's
own name, attempts + 1) up to its in-flight window, and sends each claimed event on itself
alone. Connections of one app, in this process or in others, claim from the same rows; a row
leased to one is skipped by every other claim until the lease ends, so an event is never on two
connections at once and never broadcast. A loop wakes on ``events.CHANNEL`` (this process's
commits, and other processes' through PostgreSQL's ``NOTIFY``), when acks free its window, when
a lease of its own runs out, and at the latest every ``poll_interval`` (SQLite tells other
processes nothing).

Acks are matched per app by ``messageId`` (``"{row}.{attempt}"``, ``frames.py``), not per
connection: one can arrive on the app's next connection, or in another process, and still
settles its row. They are gathered for a few ms and written together (one ``acknowledge``
UPDATE per client, one ``retry_many`` per app for the refusals, ``release`` for each connection that
closed), in one transaction: a connection at full speed costs a few writes per window, not one
per event. An event that is refused (not code 200, or ``LATER``) is due again after the
schedule's delay (``retries.next_delay``, HTTP push's); one that is never acked is claimable
again when its lease ends, on any connection; a connection that closes gives its leases back at
once. Every retry carries the same ``eventId``.

``drain`` is the graceful shutdown (api/server.py runs it before uvicorn closes anything): each
connection gets a SYSTEM ``disconnect`` and no new frames; acks are still taken while the
clients close (the SDK does at once, and reconnects elsewhere); what is still open after
``DRAIN_S`` is closed, and every lease given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service.events import frames, messages, retries
from dingstore.service.events.gateway import Client, Consumer, Gateway
from dingstore.store import base
from dingstore.store import events as event_rows

log = logging.getLogger(__name__)

DRAIN_S = 10.0  # a connection told to disconnect is closed at the latest this long after
ACK_GATHER_S = 0.002  # acks wait this long for others to share their write
_ID_CHUNK = 1000  # ids per acknowledge statement (SQLite's parameters are limited)


class LinkClosed(Exception):
    """Raised by ``Link.send`` once the connection is gone."""


class Link(Protocol):
    """A connection's transport, as the API layer gives it (a WebSocket)."""

    async def send(self, text: str) -> None:
        """Send one text message; ``LinkClosed`` once the connection is gone."""
        ...

    async def close(self, code: int) -> None:
        """Close the connection with ``code``."""
        ...


@dataclass(slots=True)
class _InFlight:
    """An event sent on a connection and not yet acked."""

    consumer: Consumer
    attempt: int
    lease_until: int


@dataclass(eq=False)
class Connection:
    """One Stream connection of this process: whose it is, what it has in flight."""

    client: Client
    link: Link
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    inflight: dict[int, _InFlight] = field(default_factory=dict)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False  # told to disconnect, or gone: no new frames
    turn: int = 0  # the consumer whose events the next claim takes first (suites have several)

    @property
    def owner(self) -> str:
        """The name its leases are held in (``events.lease_owner``)."""
        return f"stream:{self.id}"


@dataclass(frozen=True, slots=True)
class _Answer:
    client: Client
    ack: frames.Ack
    flight: _InFlight | None


class StreamHub:
    """This process's Stream connections and their delivery (the module's docstring)."""

    def __init__(
        self,
        db: base.BaseDatabase,
        gateway: Gateway,
        *,
        ack_timeout: float,
        window: int,
        ping_interval: float,
        poll_interval: float,
        clock: Clock,
        next_delay: Callable[[int, random.Random | None], float | None] = retries.next_delay,
    ) -> None:
        self._db = db
        self.gateway = gateway
        self._clock = clock
        self._lease_ms = round(ack_timeout * 1000)
        self._window = window
        self._ping_interval = ping_interval
        self._poll_interval = poll_interval
        self._next_delay = next_delay
        self._rng = random.Random()
        self._connections: set[Connection] = set()
        self._sent_on: dict[int, Connection] = {}  # row id → the local connection it is on
        self._answers: list[_Answer] = []
        self._releases: list[Connection] = []
        self._to_write = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False
        self.draining = False

    # --- the gateway --------------------------------------------------------------------------

    async def open(self, client_id: str, client_secret: str, *, events: bool) -> str:
        """``POST /v1.0/gateway/connections/open``: a ticket (``Gateway.open``); 503 while
        this process shuts down, so that the client opens its next connection elsewhere."""
        self._refuse_if_draining()
        return await self.gateway.open(client_id, client_secret, events=events)

    async def admit(self, ticket: str) -> Client:
        """The client a WebSocket handshake's ticket names (``Gateway.admit``)."""
        self._refuse_if_draining()
        return await self.gateway.admit(ticket)

    def _refuse_if_draining(self) -> None:
        if self.draining:
            raise errors.STORE_UNAVAILABLE.error("the server is shutting down; connect again")

    def connections(self, client_id: str | None = None) -> int:
        """How many connections this process holds (of ``client_id``'s)."""
        return sum(
            1
            for conn in self._connections
            if client_id is None or conn.client.client_id == client_id
        )

    # --- life -----------------------------------------------------------------------------------

    def start(self) -> None:
        """Start writing acks and listening for new events (the app's lifespan)."""
        self._tasks = [asyncio.create_task(self._write_answers(), name="stream-acks")]
        self._listening = False

    def _listen(self) -> None:
        """Listen for new events from the first EVENT connection on (on PostgreSQL on the
        process's one listening connection, which a process that listens to nothing holds not)."""
        if not self._listening and self._tasks:
            self._listening = True
            self._tasks.append(
                asyncio.create_task(
                    self._db.listen(event_rows.CHANNEL, self._notified), name="stream-listen"
                )
            )

    async def stop(self) -> None:
        """Close what is still open, write what acks and releases remain, stop."""
        if self._connections:
            await self.drain(0)
        try:
            await self._flush()
        except Exception:  # their leases run out instead; the acked events come once more
            log.exception("stream acks and releases not written at shutdown")
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def drain(self, timeout: float = DRAIN_S) -> None:
        """Graceful shutdown: tell every connection to ``disconnect``, send nothing new, keep
        taking acks until the clients have closed (``timeout`` at most), close the rest, and
        give their leases back."""
        self.draining = True
        now = self._clock.now_ms()
        for conn in list(self._connections):
            conn.closing = True
            conn.wake.set()
            with contextlib.suppress(Exception):
                await conn.link.send(
                    frames.disconnect(connection_id=conn.id, now=now, reason="server shutdown")
                )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._idle.wait()
        for conn in list(self._connections):
            with contextlib.suppress(Exception):
                await conn.link.close(1001)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await self._idle.wait()
        await self._flush()

    # --- one connection ------------------------------------------------------------------------

    async def serve(self, client: Client, link: Link, incoming: AsyncIterable[str | bytes]) -> None:
        """Run one connection of ``client`` over ``link`` until ``incoming`` (the client's
        messages) ends: events on it if it subscribed to them, a SYSTEM ``ping`` every
        ``ping_interval``, and every ack it brings settled."""
        conn = Connection(client, link)
        log.info("stream connection %s of %s opened", conn.id, client.client_id)
        self._connections.add(conn)
        self._idle.clear()
        tasks = [asyncio.create_task(self._ping(conn), name=f"stream-ping-{conn.id}")]
        if client.events:
            self._listen()
            tasks.append(asyncio.create_task(self._dispatch(conn), name=f"stream-{conn.id}"))
        for task in tasks:
            task.add_done_callback(functools.partial(self._ended, conn))
        if self.draining:  # admitted as the drain began: told at once, like the others
            conn.closing = True
            with contextlib.suppress(LinkClosed):
                await link.send(
                    frames.disconnect(
                        connection_id=conn.id, now=self._clock.now_ms(), reason="server shutdown"
                    )
                )
        try:
            async for text in incoming:
                self._answered(conn, text)
        finally:
            conn.closing = True
            conn.wake.set()
            tasks[0].cancel()  # the pings: nothing to finish
            await _finish(tasks)
            for row_id in conn.inflight:
                if self._sent_on.get(row_id) is conn:
                    del self._sent_on[row_id]
            if client.events:
                self._releases.append(conn)
                self._to_write.set()
            self._connections.discard(conn)
            log.info("stream connection %s of %s closed", conn.id, client.client_id)
            if not self._connections:
                self._idle.set()

    def _ended(self, conn: Connection, task: asyncio.Task[None]) -> None:
        """A connection's loop that stopped on its own: the connection is gone (a failed send),
        or something broke, and then the client is made to reconnect."""
        if task.cancelled() or conn.closing:
            return
        problem = task.exception()
        if problem is None or isinstance(problem, LinkClosed):
            return
        log.error("stream connection %s failed: %r", conn.id, problem, exc_info=problem)
        conn.closing = True
        asyncio.get_running_loop().create_task(_quietly(conn.link.close(1011)))

    async def _ping(self, conn: Connection) -> None:
        while not conn.closing:
            await asyncio.sleep(self._ping_interval)
            if conn.closing:
                return
            await conn.link.send(frames.ping(connection_id=conn.id, now=self._clock.now_ms()))

    async def _dispatch(self, conn: Connection) -> None:
        while not conn.closing:
            conn.wake.clear()
            now = self._clock.now_ms()
            self._expire(conn, now)
            room = self._window - len(conn.inflight)
            if room > 0:
                try:
                    rows = await self._claim(conn, room, now)
                except errors.Unavailable as exc:
                    log.warning("stream claim failed, retrying: %s", exc)
                    await asyncio.sleep(self._poll_interval)
                    continue
                for row in rows:
                    await self._send(conn, row)
                if len(rows) == room:
                    continue  # there may be more; the window is full now
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._sleep(conn)):
                    await conn.wake.wait()

    async def _claim(self, conn: Connection, room: int, now: int) -> list[RowMapping]:
        consumers = conn.client.consumers
        first = conn.turn % len(consumers)
        conn.turn += 1
        claimed: list[RowMapping] = []
        async with self._db.write() as tx:
            await tx.commit_lazily()  # a lease lost in a crash is no lease: the event goes again
            for consumer in consumers[first:] + consumers[:first]:
                if not await event_rows.streams(tx, consumer.corp_id, consumer.app_id):
                    continue  # disabled, or in push mode (docs/events.md): not streamed
                claimed += await event_rows.claim(
                    tx,
                    consumer.corp_id,
                    consumer.app_id,
                    owner=conn.owner,
                    now=now,
                    lease_ms=self._lease_ms,
                    limit=room - len(claimed),
                )
                if len(claimed) >= room:
                    break
        return claimed

    async def _send(self, conn: Connection, row: RowMapping) -> None:
        row_id, attempt = int(row["id"]), int(row["attempts"])
        consumer = Consumer(row["corp_id"], row["app_id"])
        headers = frames.EventHeaders(
            app_id=consumer.app_id,
            corp_id=consumer.corp_id,
            message_id=frames.message_id(row_id, attempt),
            event_id=messages.event_id(row_id),
            event_type=row["event_type"],
            born_at=int(row["born_at"]),
            seq=row_id,
        )
        frame = frames.event(
            headers,
            connection_id=conn.id,
            now=self._clock.now_ms(),
            data=messages.business_fields(cast(Mapping[str, Any], row)),
        )
        conn.inflight[row_id] = _InFlight(consumer, attempt, int(row["lease_until"]))
        self._sent_on[row_id] = conn
        await conn.link.send(frame)

    def _expire(self, conn: Connection, now: int) -> None:
        """Forget the events whose lease ran out unacked: claimable again, by anyone."""
        gone = [row_id for row_id, f in conn.inflight.items() if f.lease_until <= now]
        for row_id in gone:
            del conn.inflight[row_id]
            if self._sent_on.get(row_id) is conn:
                del self._sent_on[row_id]

    def _sleep(self, conn: Connection) -> float:
        """How long an idle loop waits unwoken: until its first lease ends, or a poll."""
        wait = self._poll_interval
        if conn.inflight:
            first = min(f.lease_until for f in conn.inflight.values())
            wait = min(wait, (first - self._clock.now_ms()) / 1000)
        return max(wait, 0.005)

    def _notified(self) -> None:
        for conn in self._connections:
            conn.wake.set()

    # --- acks -----------------------------------------------------------------------------------

    def _answered(self, conn: Connection, text: str | bytes) -> None:
        """A client's message: an ack of an EVENT frame is queued for the next write; anything
        else (SYSTEM acks, garbage) is ignored."""
        ack = frames.parse_ack(text)
        if ack is None:
            return
        flight = None
        holder = self._sent_on.get(ack.row_id)
        if holder is not None:
            found = holder.inflight.get(ack.row_id)
            if (
                found is not None
                and found.consumer in conn.client.consumers
                and (ack.delivered or found.attempt == ack.attempt)
            ):
                flight = found
                del holder.inflight[ack.row_id]
                del self._sent_on[ack.row_id]
                if len(holder.inflight) <= self._window // 2:
                    holder.wake.set()  # else the write of these acks wakes it (fewer claims)
        self._answers.append(_Answer(conn.client, ack, flight))
        self._to_write.set()

    async def _write_answers(self) -> None:
        while True:
            await self._to_write.wait()
            await asyncio.sleep(ACK_GATHER_S)
            try:
                await self._flush()
            except Exception:
                log.exception("stream acks not written; retrying")
                await asyncio.sleep(self._poll_interval)

    async def _flush(self) -> None:
        """Write the acks and releases gathered so far, in one transaction; on failure they
        are kept for the next try."""
        self._to_write.clear()
        answers, self._answers = self._answers, []
        releases, self._releases = self._releases, []
        if not answers and not releases:
            return
        try:
            await self._settle(answers, releases)
        except BaseException:
            self._answers[:0] = answers
            self._releases[:0] = releases
            self._to_write.set()
            raise
        for conn in self._connections:
            conn.wake.set()

    async def _settle(self, answers: list[_Answer], releases: list[Connection]) -> None:
        now = self._clock.now_ms()
        delivered: dict[Client, set[int]] = {}
        refused: list[_Answer] = []
        for answer in answers:
            if answer.ack.delivered:
                delivered.setdefault(answer.client, set()).add(answer.ack.row_id)
            else:
                refused.append(answer)
        async with self._db.write() as tx:
            await tx.commit_lazily()  # an ack lost in a crash: the event is sent once more
            for client, ids in delivered.items():
                ordered = sorted(ids)
                for i in range(0, len(ordered), _ID_CHUNK):
                    await event_rows.acknowledge(
                        tx, client.corp_ids, client.app_ids, ordered[i : i + _ID_CHUNK], now
                    )
            retries: dict[tuple[str, str], list[event_rows.Retry]] = {}
            for answer in refused:
                if (found := self._retry(answer, now)) is not None:
                    retries.setdefault(found[0], []).append(found[1])
            for (corp_id, app_id), batch in retries.items():
                await event_rows.retry_many(tx, corp_id, app_id, batch)
            for conn in releases:
                await event_rows.release(tx, conn.client.corp_ids, conn.owner, now)

    def _retry(self, answer: _Answer, now: int) -> tuple[tuple[str, str], event_rows.Retry] | None:
        """An event the client refused, by (corpId, app): due again after the schedule's delay,
        or FAILED. None when its consumer is not known here (a suite's event not sent from
        here): its lease runs out instead."""
        ack = answer.ack
        if answer.flight is not None:
            consumer = answer.flight.consumer
        elif len(answer.client.consumers) == 1:
            consumer = answer.client.consumers[0]
        else:
            return None
        delay = self._next_delay(ack.attempt, self._rng)
        code = "LATER" if ack.code == frames.OK else f"code {ack.code}"
        note = f"stream ack {code}: {ack.message}" if ack.message else f"stream ack {code}"
        retry = event_rows.Retry(
            ack.row_id,
            ack.attempt,
            due_at=now + round((delay or 0) * 1000),
            error=note,
            failed=delay is None,
        )
        return (consumer.corp_id, consumer.app_id), retry


async def _finish(tasks: list[asyncio.Task[None]]) -> None:
    """Let a connection's loops end on their own (a claim's transaction completes rather than
    being cut), cancelling what still runs after a second (a send stuck on a client that reads
    nothing)."""
    _, pending = await asyncio.wait(tasks, timeout=1.0)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _quietly(close: object) -> None:
    with contextlib.suppress(Exception):
        await close  # type: ignore[misc]
