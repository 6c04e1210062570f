"""The COUNT task: the request did all the work (a move within one space, a delete to the
recycle bin, a restore from it) and answers with a task of its size — the folder and every
live descendant, read from the folder's kept size — written already SUCCESS in the request's
transaction. ``CountHandler`` runs those that earlier releases left to a worker (INIT)."""

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


async def record(conn: Writer, actor: models.Actor, task_id: int, space_id: int, root: int) -> None:
    """The task of folder ``root`` of ``space_id``, done: it holds nothing, no worker runs it."""
    payload, now = CountPayload(root, space_id), actor.clock.now_ms()
    total = await dentries.descendants(conn, root) + 1
    await tasks.record_done(conn, task_id, payload, common.creator(actor), total=total, now=now)


class CountHandler:
    """The COUNT task: its size, then SUCCESS, in its first step."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        root = CountPayload.from_json(task.payload).root
        total = await dentries.descendants(conn, root) + 1
        return total, Step(cursor={}, succeeded=total, done=True)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        return Step(cursor=task.cursor or {}, done=True)
