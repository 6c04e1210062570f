"""The THUMBNAIL task: asked for in the transaction that stores a file content, made by a
worker.

``request`` runs in the request's transaction (CommitFile's, or GetDentryThumbnails' for a file
that has none yet): it writes the PENDING row and enqueues the task, which wakes the workers once
it commits. The handler then, outside any transaction (``prepare``), reads the bytes and renders
them in the sandbox, and stores the thumbnail under ``thumbnails/<blobId>``; its one step records
the outcome on the row (READY or FAILED). It holds no subtree and takes no tree lock: it changes
no tree, only its own row.

The task is internal (``tasks.INTERNAL_KINDS``): nobody asked for it, GetTask does not show it,
and housekeeping removes it once ended.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from dingstore.blobs import base as blob_base
from dingstore.blobs.keys import blob_key, thumbnail_key
from dingstore.clock import Clock
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Step
from dingstore.service import models, tasks
from dingstore.service.bulk import steps
from dingstore.service.thumbnails import rendering, sandbox
from dingstore.store import base, ids
from dingstore.store import thumbnails as rows
from dingstore.store.base import Connection, Writer

log = logging.getLogger(__name__)

TOO_LARGE = "tooLarge"  # more bytes than the sandbox takes (Limits.max_bytes)


@dataclass(frozen=True, slots=True)
class ThumbnailPayload(steps.Payload):
    kind = "thumbnail"

    blob: int


async def request(
    conn: Writer, actor: models.Actor, blob_id: int, name: str, size: int, *, now: int, new: bool
) -> bool:
    """Ask, in the caller's transaction, for the thumbnail of file content ``blob_id`` of a file
    named ``name``, when its extension is one thumbnails are made for. ``new``: the blob was
    stored by this very transaction (CommitFile), so nothing asked for it yet, and its task takes
    its id (ids are unique across tables, and a blob is new once). Otherwise the blob's row is
    locked first, and nothing is asked when it is unreferenced or its thumbnail was asked for
    already. Returns whether a task was enqueued."""
    if size <= 0 or not rendering.supported(name):
        return False
    task_id = blob_id
    if not new:
        if not await rows.hold_blob(conn, blob_id):
            return False
        if await rows.get(conn, actor.corp_id, blob_id) is not None:
            return False
        task_id = await ids.reserve_in(conn, 1)
    await rows.insert_pending(conn, actor.corp_id, blob_id, now)
    creator = tasks.Creator(actor.corp_id, actor.union_id, actor.app_id)
    await tasks.enqueue(conn, task_id, ThumbnailPayload(blob_id), creator, now=now)
    return True


@dataclass(frozen=True, slots=True)
class Made:
    """What ``prepare`` found: nothing to do (``skip``), or the outcome to record."""

    skip: bool = False
    outcome: rendering.Outcome | None = None


async def _one(data: bytes) -> AsyncIterator[bytes]:
    yield data


class ThumbnailHandler:
    """The THUMBNAIL task's handler (an ``engine.worker.Preparing``)."""

    def __init__(
        self,
        db: base.BaseDatabase,
        store: blob_base.BaseBlobStore,
        box: sandbox.Sandbox,
        *,
        prestart: bool = True,
        clock: Clock,
    ) -> None:
        self._prestart = prestart
        self._db = db
        self._store = store
        self._sandbox = box
        self._clock = clock

    async def open(self) -> None:
        if self._prestart:
            await self._sandbox.start()

    async def close(self) -> None:
        await self._sandbox.close()

    async def prepare(self, task: Claimed) -> Made:
        blob = ThumbnailPayload.from_json(task.payload).blob
        async with self._db.read() as conn:
            row = await rows.get(conn, task.corp_id, blob)
            alive = await rows.referenced(conn, blob)
        if row is None or row.status != rows.PENDING or not alive:
            return Made(skip=True)
        size = await self._store.size(blob_key(blob))
        if size is None:
            return Made(skip=True)  # collected meanwhile
        if size > self._sandbox.limits.max_bytes:
            return Made(outcome=rendering.Outcome(reason=TOO_LARGE))
        try:
            data = b"".join([chunk async for chunk in self._store.read(blob_key(blob))])
        except blob_base.NotFound:
            return Made(skip=True)  # collected meanwhile
        outcome = await self._sandbox.render(data)
        del data
        if outcome.reason is None:
            await self._store.write(thumbnail_key(blob), _one(outcome.data))
        return Made(outcome=outcome)

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        return 1, await self.step(conn, task, 1)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        made = task.prepared
        assert isinstance(made, Made)
        if made.skip or made.outcome is None:
            return Step(cursor={}, succeeded=1, done=True)
        blob, outcome = ThumbnailPayload.from_json(task.payload).blob, made.outcome
        now = self._clock.now_ms()
        if outcome.reason is None:
            await rows.settle(
                conn,
                task.corp_id,
                blob,
                now=now,
                status=rows.READY,
                media_type=outcome.media_type,
                width=outcome.width,
                height=outcome.height,
                size=len(outcome.data),
            )
            return Step(cursor={}, succeeded=1, done=True)
        log.info("no thumbnail for blob %s: %s", blob, outcome.reason)
        reason = outcome.reason
        await rows.settle(conn, task.corp_id, blob, now=now, status=rows.FAILED, reason=reason)
        return Step(cursor={}, failed=1, fail_message=outcome.reason, done=True)
