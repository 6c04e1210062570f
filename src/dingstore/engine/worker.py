"""Workers: claim a task, run its handler step by step until it ends, claim the next.

A handler (registered per task kind by the service layer) does the work; the worker gives it a
fenced transaction per step and keeps the books. ``WorkerPool`` runs N such workers as asyncio
tasks in one process; they sleep until woken or until the poll interval passes (a lease that
expired, a notification missed). A task enqueued in this process wakes them directly; on
PostgreSQL the pool also listens for the ``NOTIFY`` every enqueue sends, so a task enqueued by
any process wakes them as soon as it commits. On SQLite, tasks of other processes wait for
the poll.

Nothing a worker meets ends the worker: a claim that fails is logged and tried again after a
pause that doubles while it keeps failing. Nothing transient ends a user's task: a step the
database refuses (``Unavailable``) is retried, and once the pool is told to stop the worker gives
up retrying and leaves the task to be taken over; a lease it cannot give back simply expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from dingstore import clock as clocks
from dingstore import errors
from dingstore.engine import queue
from dingstore.store import base, task_rows

log = logging.getLogger(__name__)


@dataclass
class Step:
    """What one step did: the cursor to resume from, the nodes it settled, and whether the task
    is done. ``fail_message`` names the first failure's reason. ``total``: the task's size as
    the step found it, when the one ``start`` fixed was off (``start`` fixes it from what it can
    read at once; a later step may count exactly)."""

    cursor: dict[str, Any]
    succeeded: int = 0
    failed: int = 0
    fail_message: str | None = None
    done: bool = False
    total: int | None = None


class Handler(Protocol):
    """The work of one task kind. Both methods run inside the step's transaction, after its
    fence; they take whatever lock their work needs beside the task's lease (the engine knows
    nothing of what a task works on)."""

    async def start(self, conn: base.Writer, task: queue.Claimed) -> tuple[int, Step]:
        """Fix the task's size (every node it covers) and take its first step."""
        ...

    async def step(self, conn: base.Writer, task: queue.Claimed, limit: int) -> Step:
        """Apply the next chunk of at most ``limit`` nodes."""
        ...


class Cancelable(Handler, Protocol):
    """A handler whose task can be canceled (``POST /dingstore/v1/tasks/{id}/cancel``): at the
    first step boundary after the request, ``cancel`` runs instead of ``step``, in the step's
    transaction. It leaves the store consistent (what was settled stays settled) and returns
    the task's last step (``done``), or None when the task cannot stop at this boundary yet (a
    step that must come first, its snapshot, say): the next one then tries again. The task
    ends ``FAIL`` with failMessage ``canceled``, the nodes not settled counted failed."""

    async def cancel(self, conn: base.Writer, task: queue.Claimed) -> Step | None: ...


CANCELED = "canceled"  # the failMessage of a canceled task


class Preparing(Handler, Protocol):
    """A handler with slow work that must not run inside a transaction (SQLite has one writer):
    reading bytes from the blob store, decoding an image. ``prepare`` runs before each step's
    transaction, with no connection, and what it returns reaches ``start``/``step`` as
    ``task.prepared``. It may run again for the same step (a step the database refused, a lease
    lost): it must be repeatable. ``open`` and ``close`` start and stop what it runs on (helper
    processes), with the workers."""

    async def prepare(self, task: queue.Claimed) -> Any: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...


# A step or a claim the database refused is tried again after these pauses, doubling up to the
# last while it keeps failing.
RETRY_S = (0.2, 5.0)

# Steps sized by time (``chunk`` 0): the first settles FIRST_CHUNK nodes, each next one as many
# as the last one's pace settles in ``step_s``, at most GROWTH times the last size and within
# CHUNK_RANGE. Fewer, larger steps pay fewer commits and fixed per-step costs; a bounded time
# keeps the writer (SQLite's one) free often enough for the requests.
FIRST_CHUNK = 1000
CHUNK_RANGE = (100, 200_000)
GROWTH = 4.0


def next_chunk(limit: int, settled: int, seconds: float, step_s: float) -> int:
    """The size of the step after one that settled ``settled`` nodes (of ``limit`` asked) in
    ``seconds``, for steps of about ``step_s``."""
    if settled <= 0:  # a step that settled nothing (a snapshot, say) says nothing of the pace
        return limit
    wanted = settled * step_s / max(seconds, 1e-3)
    low, high = CHUNK_RANGE
    return int(max(low, min(high, limit * GROWTH, wanted)))


class SystemicFailure(Exception):
    """The task cannot go on at all (its source vanished, its target was deleted): it ends FAIL
    with ``code`` as failMessage, the nodes not reached counted failed."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class _Stopped(Exception):
    """The pool was told to stop while a step waited for the database: leave the task."""


@dataclass
class WorkerPool:
    db: base.BaseDatabase
    handlers: Mapping[str, Handler]
    concurrency: int = 2
    chunk: int = 0  # nodes a step settles; 0: as many as fit in about ``step_s``
    step_s: float = 0.25
    lease_ms: int = 30_000
    poll_interval: float = 1.0
    clock: clocks.Clock = clocks.SYSTEM
    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _workers: list[asyncio.Task[None]] = field(default_factory=list)
    _listener: asyncio.Task[None] | None = None
    _opened: list[asyncio.Task[None]] = field(default_factory=list)
    _stopping: bool = False
    # Test mode (service/testmode/): orgs whose tasks the workers leave alone (``_paused_all``:
    # every org), and tasks whose next step fails them, with the message.
    _paused_all: bool = False
    _paused: set[str] = field(default_factory=set)
    _fail_next: dict[int, str] = field(default_factory=dict)

    def pause(self, corp_id: str | None = None) -> None:
        """Claim no task of ``corp_id`` (None: none at all) until ``resume``; a worker running
        one stops after its current step and gives the lease back."""
        if corp_id is None:
            self._paused_all = True
        else:
            self._paused.add(corp_id)

    def resume(self, corp_id: str | None = None) -> None:
        """Undo ``pause(corp_id)``; None undoes every pause."""
        if corp_id is None:
            self._paused_all = False
            self._paused.clear()
        else:
            self._paused.discard(corp_id)
        self._wake.set()

    def paused(self, corp_id: str) -> bool:
        return self._paused_all or corp_id in self._paused

    def fail_next_step(self, task_id: int, message: str) -> None:
        """The task's next step, whoever runs it here, ends it FAIL with ``message``."""
        self._fail_next[task_id] = message

    async def step_now(self, steps: int, corp_id: str | None = None) -> int:
        """Run up to ``steps`` steps, one at a time, of the oldest runnable tasks (of
        ``corp_id`` only, when given), paused or not, giving each lease back after its step.
        Returns how many steps ran: fewer when no task was left to run."""
        owner = f"{self.name}:step:{uuid.uuid4().hex[:6]}"
        ran = 0
        while ran < steps:
            async with self.db.write() as conn:
                task = await queue.claim(
                    conn, owner, self.lease_ms, clock=self.clock, only_org=corp_id
                )
            if task is None:
                break
            ran += 1
            handler = self.handlers.get(task.kind)
            left = await self._guarded(handler, task, owner, self.chunk or FIRST_CHUNK)
            if left is not None:
                async with self.db.write() as conn:
                    await queue.release(conn, task.id, owner)
        return ran

    async def _guarded(
        self, handler: Handler | None, task: queue.Claimed, owner: str, limit: int
    ) -> queue.Claimed | None:
        """One step, failures settled as ``_drive`` settles them: the task as it stands after
        the step, or None when it has ended (or is no longer this owner's)."""
        try:
            if handler is None:
                raise SystemicFailure(errors.SYSTEM_ERROR.code)
            stepped, _ = await self._step(handler, task, owner, limit)
            return stepped
        except queue.LeaseLost:
            return None
        except SystemicFailure as failure:
            await self._end(task, owner, failure.code)
            return None
        except Exception:
            log.exception("task %s failed unexpectedly", task.id)
            await self._end(task, owner, errors.SYSTEM_ERROR.code)
            return None

    def wake(self) -> None:
        """A task was enqueued: let a sleeping worker look now."""
        self._wake.set()

    def start(self) -> None:
        """Start the workers and, when there are any, listen for tasks other processes
        enqueue."""
        if self.concurrency:
            for handler in self._preparing():
                self._opened.append(asyncio.create_task(handler.open()))
        for n in range(self.concurrency):
            owner = f"{self.name}:{n}:{uuid.uuid4().hex[:6]}"
            self._workers.append(asyncio.create_task(self._run(owner), name=owner))
        if self.concurrency:
            listening = self.db.listen(task_rows.CHANNEL, self.wake)
            self._listener = asyncio.create_task(listening, name=f"{self.name}:listener")

    async def stop(self) -> None:
        """Finish the current step of every worker, give its lease back, and stop."""
        self._stopping = True
        self._stop.set()
        self._wake.set()
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
            self._listener = None
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()
        await asyncio.gather(*self._opened, return_exceptions=True)
        if self._opened:
            for handler in self._preparing():
                await handler.close()
        self._opened.clear()

    def _preparing(self) -> list[Preparing]:
        found = [h for h in self.handlers.values() if hasattr(h, "prepare")]
        return cast(list[Preparing], found)

    async def _run(self, owner: str) -> None:
        pause = RETRY_S[0]
        while not self._stopping:
            # Cleared before the claim, not after it: a wake-up that arrives while the claim
            # runs (its task committed too late for the claim to see) must not be lost.
            self._wake.clear()
            try:
                if self._paused_all:
                    task = None
                else:
                    async with self.db.write() as conn:
                        task = await queue.claim(
                            conn, owner, self.lease_ms, clock=self.clock, skip_orgs=self._paused
                        )
            except Exception as exc:  # whatever it was, this worker must live on
                log.warning("claiming a task failed (%r); again in %.1f s", exc, pause)
                await self._pause(pause)
                pause = min(pause * 2, RETRY_S[1])
                continue
            pause = RETRY_S[0]
            if task is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
                continue
            await self._drive(task, owner)

    async def _pause(self, seconds: float) -> None:
        """Sleep, but no longer than until the pool is told to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _drive(self, task: queue.Claimed, owner: str) -> None:
        handler = self.handlers.get(task.kind)
        limit = self.chunk or FIRST_CHUNK
        try:
            if handler is None:
                raise SystemicFailure(errors.SYSTEM_ERROR.code)
            while not self._stopping and not self.paused(task.corp_id):
                started = time.perf_counter()
                stepped, result = await self._step(handler, task, owner, limit)
                if stepped is None:
                    return
                if not self.chunk and task.status != "INIT":  # a start says nothing of the pace
                    # The step's own duration (not the clock's time): what sizing is about.
                    settled, took = result.succeeded + result.failed, time.perf_counter() - started
                    limit = next_chunk(limit, settled, took, self.step_s)
                task = stepped
        except _Stopped:
            pass
        except queue.LeaseLost:
            log.warning("task %s: lease lost to another worker", task.id)
            return
        except SystemicFailure as failure:
            await self._end(task, owner, failure.code)
            return
        except Exception:
            log.exception("task %s failed unexpectedly", task.id)
            await self._end(task, owner, errors.SYSTEM_ERROR.code)
            return
        # Stopping, or paused (test mode): outside the ``try`` above, so that a lease not given
        # back (the database down, say) leaves the task to be taken over once it expires, never
        # fails it.
        try:
            async with self.db.write() as conn:
                await queue.release(conn, task.id, owner)
        except Exception as exc:
            log.warning("task %s: lease not given back (%r); it expires in time", task.id, exc)

    async def _step(
        self, handler: Handler, task: queue.Claimed, owner: str, limit: int
    ) -> tuple[queue.Claimed | None, Step]:
        """One fenced transaction. Returns the task as its row now stands (only this worker
        writes it while the lease is its own, so no need to read it back), or None when the
        task has ended, and what the step did. Raises ``_Stopped`` when told to stop while the
        database refuses it."""
        pause, retried = RETRY_S[0], False
        prepare = getattr(handler, "prepare", None)
        while True:
            try:
                if prepare is not None and task.prepared is None:
                    task = dataclasses.replace(task, prepared=await prepare(task))
                # long: a step settles a whole chunk; requests must not wait behind it.
                async with self.db.write(long=True) as conn:
                    canceled = await queue.fence(
                        conn, task.id, owner, self.lease_ms, clock=self.clock
                    )
                    if retried:
                        # The failure may have come after the last step committed (a connection
                        # lost while committing): go on from the row, never from memory.
                        task = await queue.reload(conn, task)
                    if self._fail_next and task.id in self._fail_next:
                        raise SystemicFailure(self._fail_next.pop(task.id))
                    now = task
                    stopped: Step | None = None
                    if task.status == "INIT":
                        total, result = await handler.start(conn, task)
                        await queue.begin(conn, task.id, total, clock=self.clock)
                        now = dataclasses.replace(task, status="IN_PROGRESS", total_count=total)
                    else:
                        cancel = getattr(handler, "cancel", None) if canceled else None
                        stopped = None if cancel is None else await cancel(conn, task)
                        result = stopped or await handler.step(conn, task, limit)
                    await queue.advance(
                        conn,
                        task.id,
                        cursor=result.cursor,
                        succeeded=result.succeeded,
                        failed=result.failed,
                        fail_message=result.fail_message,
                        total=result.total,
                    )
                    if result.done:
                        await queue.finish(
                            conn,
                            task.id,
                            clock=self.clock,
                            fail_message=CANCELED if stopped else None,
                            overriding=stopped is not None,
                        )
                # Committed.
                if result.done:
                    return None, result
                if result.total is not None:
                    now = dataclasses.replace(now, total_count=result.total)
                return dataclasses.replace(now, cursor=result.cursor, prepared=None), result
            except errors.Unavailable as exc:  # busy or briefly unreachable: the same step again
                if self._stopping:
                    raise _Stopped from exc
                log.warning("task %s: step deferred %.1f s: %s", task.id, pause, exc)
                await self._pause(pause)
                pause, retried = min(pause * 2, RETRY_S[1]), True

    async def _end(self, task: queue.Claimed, owner: str, code: str) -> None:
        try:
            async with self.db.write() as conn:
                await queue.fence(conn, task.id, owner, self.lease_ms, clock=self.clock)
                await queue.finish(conn, task.id, clock=self.clock, fail_message=code)
        except Exception as exc:  # the lease expires and whoever takes the task over ends it
            log.warning("task %s: could not record its failure: %r", task.id, exc)
