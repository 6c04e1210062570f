"""Periodic upkeep of a store: expired tokens, grants, preview sessions, WOPI locks and
refresh tokens, finished tasks past their retention, idempotency keys past their 24 hours,
recycle-bin items and change events past theirs, expired uploads and the bytes of blobs nothing
references any more.

Every API process runs it; the deletes are idempotent, so several processes may overlap. A pass
that fails, for whatever reason, is logged and tried again after a pause that doubles from
``RETRY_S`` up to the interval: nothing ends housekeeping but ``stop`` (a pass under way
finishes first: a cancel in the middle of a statement would cost its connection) or a cancel."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from dingstore import errors
from dingstore.service.console import ConsoleService
from dingstore.service.events.retention import EventRetention
from dingstore.service.files import FileService
from dingstore.service.idempotency import IdempotencyService
from dingstore.service.permissions import PermissionService
from dingstore.service.previews import PreviewService
from dingstore.service.recycle import RecycleService
from dingstore.service.tasks import TaskService
from dingstore.service.tokens import TokenService
from dingstore.service.weboffice.sessions import SessionService

log = logging.getLogger(__name__)

RETRY_S = 1.0  # the first pause after a failed pass
STOP_GRACE_S = 10.0  # how long ``stop`` lets a pass under way finish before cancelling it


@dataclass
class Housekeeper:
    tokens: TokenService
    tasks: TaskService
    files: FileService
    recycle: RecycleService
    permissions: PermissionService
    events: EventRetention
    interval: float = 300.0
    previews: PreviewService | None = None
    weboffice: SessionService | None = None
    console: ConsoleService | None = None
    idempotency: IdempotencyService | None = None
    # (made by each run_forever, in the loop it runs in)
    _stopping: asyncio.Event = field(default_factory=asyncio.Event, init=False, repr=False)

    async def sweep(self) -> dict[str, int]:
        """One pass; returns how many rows of each kind went."""
        return {
            "tokens": await self.tokens.purge_expired(),
            "wopi": await self.weboffice.purge_expired() if self.weboffice else 0,
            "tasks": await self.tasks.purge_expired(),
            "console_sessions": await self.console.purge_expired() if self.console else 0,
            "idempotency_keys": (
                0 if self.idempotency is None else await self.idempotency.purge_expired()
            ),
            "permissions": await self.permissions.purge_expired(),
            "open_infos": 0 if self.previews is None else await self.previews.purge_expired(),
            # before collecting blobs: bytes the purge releases may go in the same pass
            "recycle_items": await self.recycle.purge_expired(),
            "events": await self.events.purge_expired(),
            **await self.files.collect(),
        }

    async def run_forever(self) -> None:
        """Sweep every ``interval`` seconds until stopped or cancelled. A failed pass is logged
        and tried again after ``RETRY_S``, then after twice as long each time, up to
        ``interval``."""
        retry = min(RETRY_S, self.interval)
        self._stopping = asyncio.Event()
        while not self._stopping.is_set():
            try:
                removed = await self.sweep()
            except errors.DingstoreError as exc:  # the database busy or down: expected, brief
                log.warning("housekeeping failed a pass (%s); again in %.1f s", exc, retry)
            except Exception:
                log.exception("housekeeping failed a pass; again in %.1f s", retry)
            else:
                if any(removed.values()):
                    log.info("housekeeping removed %s", removed)
                retry = min(RETRY_S, self.interval)
                await self._pause(self.interval)
                continue
            await self._pause(retry)
            retry = min(retry * 2, self.interval)

    async def stop(self, running: asyncio.Task[None]) -> None:
        """End ``running`` (this keeper's ``run_forever``): at once if it is pausing, once the
        pass under way is done if not, and cancelled if that takes over ``STOP_GRACE_S``."""
        self._stopping.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running, STOP_GRACE_S)  # (which cancels it, when time is up)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)
