"""Periodic upkeep of a store: expired tokens and finished tasks past their retention.

Every API process runs it; the deletes are idempotent, so several processes may overlap."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from dingstore import errors
from dingstore.service.tasks import TaskService
from dingstore.service.tokens import TokenService

log = logging.getLogger(__name__)


@dataclass
class Housekeeper:
    tokens: TokenService
    tasks: TaskService
    interval: float = 300.0

    async def sweep(self) -> dict[str, int]:
        """One pass; returns how many rows of each kind went."""
        return {
            "tokens": await self.tokens.purge_expired(),
            "tasks": await self.tasks.purge_expired(),
        }

    async def run_forever(self) -> None:
        while True:
            try:
                removed = await self.sweep()
                if any(removed.values()):
                    log.info("housekeeping removed %s", removed)
            except errors.DingstoreError as exc:
                log.warning("housekeeping skipped a pass: %s", exc)
            await asyncio.sleep(self.interval)
