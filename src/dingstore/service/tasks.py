"""Tasks as users see them: GetTask, and the creation of task rows inside a request's
transaction (the task engine runs them)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import models, tree
from dingstore.store import base, dentries, task_rows
from dingstore.store.base import Connection, Writer

log = logging.getLogger(__name__)


async def check_free(conn: Connection, corp_id: str, node_id: int, *, adding: bool = False) -> None:
    """Refuse to touch a node of the org ``corp_id`` inside a subtree a running task holds, or
    above one (moving, renaming or deleting it would carry the held subtree along). ``adding`` a
    child into a node is refused only inside a held subtree: a new sibling beside one leaves it
    alone. The root, above everything, is never refused. The caller holds the tree lock of the
    node's space (``tree.space(..., write=True)``): every hold that bears on the node's space is
    written under that lock (service/tree.py), so the holds it reads stay as they are until it
    commits."""
    blocked = await held(conn, corp_id, [node_id], adding=adding)
    if blocked:
        raise _busy(next(iter(blocked.values())))


async def check_free_many(conn: Connection, corp_id: str, node_ids: Sequence[int]) -> None:
    """``check_free`` for many nodes at once (two queries, whatever their number): refused as
    soon as one of them is held."""
    blocked = await held(conn, corp_id, node_ids)
    if blocked:
        raise _busy(blocked[min(blocked)])


async def held(
    conn: Connection, corp_id: str, node_ids: Sequence[int], *, adding: bool = False
) -> dict[int, int]:
    """The nodes among ``node_ids`` that a running task holds (see ``check_free``), each with
    that task's id: the org's holds (one indexed read, most often finding none), then, if
    there are any, one walk up from the nodes and the held folders."""
    wanted = [n for n in node_ids if n]
    holds = await task_rows.holds_of(conn, corp_id) if wanted else []
    if not holds:
        return {}
    roots = {int(h.dentry_id): int(h.task_id) for h in holds}
    chains = await dentries.ancestries(conn, [*wanted, *roots])
    blocked: dict[int, int] = {}
    for node in wanted:
        inside = [roots[r] for r in chains.get(node, ()) if r in roots]
        above = [] if adding else [t for r, t in roots.items() if node in chains.get(r, ())]
        if inside or above:
            blocked[node] = (inside or above)[0]
    return blocked


def _busy(task_id: int) -> errors.Conflict:
    return errors.OPERATION_CONCURRENT_CONTROL.error(
        f"task {task_id} is working on this part of the tree; retry later"
    )


# Kinds of tasks dingstore runs for itself, that no user asked for (service/thumbnails/): GetTask
# answers taskNotExist for them, and housekeeping removes them as soon as they end.
INTERNAL_KINDS = frozenset({"thumbnail"})


class Payload(Protocol):
    """What a request leaves the handler of its task (service/bulk/): its ``kind`` names the
    handler, ``to_json`` is what the task row stores (versioned: a worker may run newer code)."""

    kind: ClassVar[str]

    def to_json(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Creator:
    """Who a task acts for: the org, the user (whose rights its steps check again), the app."""

    corp_id: str
    union_id: str
    app_id: str | None


async def enqueue(
    conn: Writer,
    task_id: int,
    payload: Payload,
    creator: Creator,
    *,
    holds: Sequence[tuple[int, int]] = (),
    now: int,
    retry_of: int | None = None,
) -> None:
    """Write the task row (INIT) and its holds (``(space, dentry)`` subtrees no one else may
    touch while it runs) in the request's write transaction, and wake the workers: the task
    exists exactly when the request's own change commits, and only then are workers told of it,
    in this process and (PostgreSQL) every other. The task is created ``now``."""
    await _insert(
        conn, task_id, payload, creator, now, status="INIT", success_count=0, retry_of=retry_of
    )
    for space_id, dentry_id in holds:
        await task_rows.hold(conn, task_id, creator.corp_id, space_id, dentry_id)
    await task_rows.announce(conn)


async def record_done(
    conn: Writer, task_id: int, payload: Payload, creator: Creator, *, total: int, now: int
) -> None:
    """Write the row of a task whose work the request did whole, in its transaction: already
    SUCCESS, ``total`` nodes settled, begun and ended ``now``. No worker takes it, so the
    client's first GetTask sees it done."""
    await _insert(
        conn,
        task_id,
        payload,
        creator,
        now,
        status="SUCCESS",
        total_count=total,
        success_count=total,
        begin_time=now,
        end_time=now,
    )


async def _insert(
    conn: Writer, task_id: int, payload: Payload, creator: Creator, now: int, **state: Any
) -> None:
    """The task's row, created ``now`` with no node failed, its status and counts ``state``."""
    await task_rows.insert(
        conn,
        id=task_id,
        corp_id=creator.corp_id,
        creator_id=creator.union_id,
        app_id=creator.app_id,
        kind=payload.kind,
        fail_count=0,
        payload=payload.to_json(),
        space_id=getattr(payload, "space", None),
        created_at=now,
        modified_at=now,
        **state,
    )


FINISHED = ("SUCCESS", "FAIL")
STATUSES = ("INIT", "IN_PROGRESS", *FINISHED)
MAX_WAIT_S = 60  # GetTask's ``waitSeconds``, at most
LIST_DEFAULT, LIST_MAX = 50, 100
CANCELABLE = frozenset({"copy", "move"})  # a delete's folder is gone already: it runs to its end


class Watch:
    """The ends of tasks, for GetTask's long-polls: one listener per process on
    ``task_rows.DONE_CHANNEL`` (told after every commit that ended a task: in this process, or
    on PostgreSQL in any), started at the first wait. Each time it is told, one query finds
    which of the tasks waited for have ended and hands their waiters the rows it read; no
    waiter polls, nor reads its task again."""

    def __init__(self, db: base.BaseDatabase) -> None:
        self._db = db
        self._waiters: dict[int, list[asyncio.Future[Any]]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._checking: asyncio.Task[None] | None = None
        self._again = False

    @contextlib.contextmanager
    def waiting(self, task_id: int) -> Iterator[asyncio.Future[Any]]:
        """Register a waiter for ``task_id`` *before* reading the task, so that an end between
        the read and the wait is not missed; the future is set to the task's row (as
        ``task_rows.get_public`` reads it) once the task has ended."""
        ended: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(task_id, []).append(ended)
        self._listen()
        try:
            yield ended
        finally:
            waiters = self._waiters.get(task_id, [])
            if ended in waiters:
                waiters.remove(ended)
            if not waiters:
                self._waiters.pop(task_id, None)

    def _listen(self) -> None:
        if self._listener is None or self._listener.done():
            listening = self._db.listen(task_rows.DONE_CHANNEL, self._told)
            self._listener = asyncio.create_task(listening, name="task-watch")

    def _told(self) -> None:
        if not self._waiters:
            return
        if self._checking is not None and not self._checking.done():
            self._again = True  # a check is running: look once more when it ends
            return
        self._checking = asyncio.create_task(self._check(), name="task-watch-check")

    async def _check(self) -> None:
        self._again = True
        while self._again and self._waiters:
            self._again = False
            wanted = list(self._waiters)
            try:
                async with self._db.read() as conn:
                    ended = await task_rows.ended_among(conn, wanted)
            except Exception:  # the waiters time out and read the task then
                log.warning("checking the tasks waited for failed", exc_info=True)
                return
            for row in ended:
                for future in self._waiters.get(int(row.id), []):
                    if not future.done():
                        future.set_result(row)

    async def close(self) -> None:
        for running in (self._listener, self._checking):
            if running is not None:
                running.cancel()
                await asyncio.gather(running, return_exceptions=True)
        self._listener = self._checking = None


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """A task as the task list shows it: GetTask's fields and what the list filters on."""

    task: models.Task
    kind: str
    space_id: int | None
    creator_id: str
    created_at: int
    canceled: bool
    retry_of: int | None


def visible(row: Any, actor: models.Actor, task_id: str) -> Any:
    """``row`` (a task's, or None), if the actor may see it: tasks of other orgs and internal
    ones do not exist for them (404, never 403); within the org a task is visible to its
    creator and to org admins."""
    if row is None or row.corp_id != actor.corp_id or row.kind in INTERNAL_KINDS:
        raise errors.TASK_NOT_EXIST.error(f"task {task_id} does not exist")
    if row.creator_id != actor.union_id and not actor.operator.is_admin:
        raise errors.PERMISSION_DENIED.error("only the task's creator or an org admin may read it")
    return row


class TaskService:
    """GetTask (and its long-poll), the task list, cancels, and the removal of finished tasks
    past their retention."""

    def __init__(self, db: base.BaseDatabase, *, retention_days: float, clock: Clock) -> None:
        self._db = db
        self._retention_ms = int(retention_days * 86_400_000)
        self._clock = clock
        self.watch = Watch(db)

    async def get(
        self,
        principal: models.Principal,
        operator: models.User,
        task_id: str,
        *,
        wait_seconds: float | None = None,
    ) -> models.Task:
        """GetTask. Tasks of other orgs do not exist for the caller (404, never 403); within the
        org a task is visible to its creator and to org admins. ``wait_seconds`` (0 to 60, a
        dingstore extension): answer once the task has ended, or when they have passed."""
        number = tree.parse_id(task_id, "taskId")
        if wait_seconds is not None and not 0 <= wait_seconds <= MAX_WAIT_S:
            raise errors.param_error(
                "waitSeconds", f"waitSeconds must be between 0 and {MAX_WAIT_S}"
            )
        if not wait_seconds:
            return models.Task.from_row(await self._read(principal, operator, task_id, number))
        with self.watch.waiting(number) as ended:
            row = await self._read(principal, operator, task_id, number)
            if row.status in FINISHED:
                return models.Task.from_row(row)
            try:  # the row the watch read: the caller may see it (read above)
                return models.Task.from_row(await asyncio.wait_for(ended, wait_seconds))
            except TimeoutError:
                pass
        return models.Task.from_row(await self._read(principal, operator, task_id, number))

    async def _read(
        self, principal: models.Principal, operator: models.User, task_id: str, number: int
    ) -> Any:
        async with self._db.read() as conn:
            row = await task_rows.get_public(conn, number)
        if row is None or row.corp_id != principal.corp_id or row.kind in INTERNAL_KINDS:
            raise errors.TASK_NOT_EXIST.error(f"task {task_id} does not exist")
        if row.creator_id != operator.union_id and not operator.is_admin:
            raise errors.PERMISSION_DENIED.error(
                "only the task's creator or an org admin may read it"
            )
        return row

    async def list(
        self,
        actor: models.Actor,
        *,
        space_id: str | None = None,
        status: str | None = None,
        kind: str | None = None,
        created_after: int | None = None,
        created_before: int | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> models.Page:
        """The task list (``GET /dingstore/v1/tasks``): the caller's tasks, an org admin's the
        org's, newest first, filtered; a page of ``TaskInfo``."""
        space = None if space_id is None else tree.parse_id(space_id, "spaceId")
        if status is not None and status not in STATUSES:
            raise errors.param_error("status", f"status must be one of {', '.join(STATUSES)}")
        if kind is not None and (kind not in KINDS):
            raise errors.param_error("kind", f"kind must be one of {', '.join(sorted(KINDS))}")
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        after = tree.decode_token(next_token, 2)
        async with self._db.read() as conn:
            rows = await task_rows.listed(
                conn,
                actor.corp_id,
                creator_id=None if actor.operator.is_admin else actor.union_id,
                space_id=space,
                status=status,
                kind=kind,
                created_after=created_after,
                created_before=created_before,
                hidden=INTERNAL_KINDS,
                after=None if after is None else (int(after[0]), int(after[1])),
                limit=limit + 1,
            )
        items = [
            TaskInfo(
                task=models.Task.from_row(r),
                kind=r.kind,
                space_id=None if r.space_id is None else int(r.space_id),
                creator_id=r.creator_id,
                created_at=int(r.created_at),
                canceled=r.canceled_by is not None,
                retry_of=None if r.retry_of is None else int(r.retry_of),
            )
            for r in rows[:limit]
        ]
        token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            token = tree.encode_token([int(last.created_at), int(last.id)])
        return models.Page(items, token)

    async def cancel(self, actor: models.Actor, task_id: str) -> models.Task:
        """Ask a running copy or move to stop at its next step boundary (its worker ends it
        ``FAIL``, failMessage ``canceled``); answers the task as it stands. An ended task is
        answered as it is, unchanged. Only its creator or an org admin may."""
        number = tree.parse_id(task_id, "taskId")
        async with self._db.write() as conn:
            row = visible(await task_rows.get_public(conn, number), actor, task_id)
            if row.status in FINISHED:
                return models.Task.from_row(row)
            if row.kind not in CANCELABLE:
                raise errors.TASK_NOT_CANCELABLE.error(
                    f"a {row.kind} task cannot be canceled: it runs to its end"
                )
            await task_rows.request_cancel(conn, number, actor.union_id)
        return models.Task.from_row(row)

    async def purge_expired(self) -> int:
        """Remove finished tasks older than the retention period, and internal ones that
        ended; with them what their snapshots kept for a retry."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            internal = await task_rows.purge_finished(conn, now, kinds=INTERNAL_KINDS)
            return internal + await task_rows.purge_finished(conn, now - self._retention_ms)

    async def close(self) -> None:
        await self.watch.close()


# The kinds of tasks users see (service/bulk/), for the task list's filter.
KINDS = frozenset({"copy", "move", "delete", "count"})
