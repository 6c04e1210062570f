"""The COUNT task: the request did all the work (a move within one space, a delete to the
recycle bin, a restore from it) and answers with a task that fixes its size — the folder and
every live descendant — and succeeds."""

from __future__ import annotations

from dataclasses import dataclass

from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Step
from dingstore.service import models, tasks
from dingstore.service.bulk import common, steps
from dingstore.store import dentries
from dingstore.store.base import Connection, Writer


@dataclass(frozen=True, slots=True)
class CountPayload(steps.Payload):
    """Version 0 (no ``version``) also held ``target_space``, ``from_parent``, ``from_name``
    when a move wrote it: never read."""

    kind = "count"

    root: int
    space: int


async def enqueue(
    conn: Writer, actor: models.Actor, task_id: int, space_id: int, root: int
) -> None:
    """The task counting folder ``root`` of ``space_id``, which holds nothing."""
    payload, now = CountPayload(root, space_id), actor.clock.now_ms()
    await tasks.enqueue(conn, task_id, payload, common.creator(actor), now=now)


class CountHandler:
    """The COUNT task: its size, then SUCCESS, in its first step."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        root = CountPayload.from_json(task.payload).root
        total = await dentries.descendants(conn, root) + 1
        return total, Step(cursor={}, succeeded=total, done=True)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        return Step(cursor=task.cursor or {}, done=True)
