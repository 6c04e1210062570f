"""Tasks as users see them: GetTask, and the creation of task rows inside a request's
transaction (the task engine runs them)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import models
from dingstore.store import base, ids, subtree
from dingstore.store import tasks as task_rows
from dingstore.store.base import Connection

MAX_ID = 2**63 - 1
STATUSES = ("INIT", "IN_PROGRESS", "SUCCESS", "FAIL")


def parse_task_id(text: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 19 or not 0 < int(text) <= MAX_ID:
        raise errors.param_error("taskId", f"taskId must be a decimal id, got {text!r}")
    return int(text)


async def insert_task(
    conn: Connection,
    task_id: int,
    *,
    corp_id: str,
    creator_id: str,
    app_id: str | None,
    kind: str,
    payload: dict[str, Any],
) -> None:
    """Write a task row (INIT) inside the caller's transaction: the task exists exactly when the
    request's own change commits, and only then are listening workers told of it."""
    now = now_ms()
    await task_rows.insert(
        conn,
        id=task_id,
        corp_id=corp_id,
        creator_id=creator_id,
        app_id=app_id,
        kind=kind,
        status="INIT",
        success_count=0,
        fail_count=0,
        payload=payload,
        created_at=now,
        modified_at=now,
    )
    await task_rows.announce(conn)


async def check_free(conn: Connection, node_id: int, *, adding: bool = False) -> None:
    """Refuse to touch a node inside a subtree a running task holds, or above one (moving,
    renaming or deleting it would carry the held subtree along). ``adding`` a child into a
    node is refused only inside a held subtree: a new sibling beside one leaves it alone. The
    root, above everything, is never refused. The caller holds the org's tree lock
    (``tree.space(..., write=True)``), so the holds it reads stay as they are until it
    commits."""
    blocked = await held(conn, [node_id], adding=adding)
    if blocked:
        raise _busy(next(iter(blocked.values())))


async def check_free_many(conn: Connection, node_ids: Sequence[int]) -> None:
    """``check_free`` for many nodes at once (two queries, whatever their number): refused as
    soon as one of them is held."""
    blocked = await held(conn, node_ids)
    if blocked:
        raise _busy(blocked[min(blocked)])


async def held(
    conn: Connection, node_ids: Sequence[int], *, adding: bool = False
) -> dict[int, int]:
    """The nodes among ``node_ids`` that a running task holds (see ``check_free``), each with
    that task's id: the holds, then one walk up from the nodes and the held folders."""
    wanted = [n for n in node_ids if n]
    holds = await task_rows.all_holds(conn) if wanted else []
    if not holds:
        return {}
    roots = {int(h.dentry_id): int(h.task_id) for h in holds}
    chains = await subtree.ancestries(conn, [*wanted, *roots])
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


async def enqueue(
    conn: Connection,
    task_id: int,
    *,
    corp_id: str,
    creator_id: str,
    app_id: str,
    kind: str,
    payload: dict[str, Any],
    holds: list[tuple[int, int]] = (),  # type: ignore[assignment]
) -> None:
    """Write the task row (INIT) and its holds in the request's transaction."""
    await insert_task(
        conn,
        task_id,
        corp_id=corp_id,
        creator_id=creator_id,
        app_id=app_id,
        kind=kind,
        payload=payload,
    )
    for space_id, dentry_id in holds:
        await task_rows.hold(conn, task_id, space_id, dentry_id)


class TaskService:
    def __init__(
        self, db: base.BaseDatabase, id_allocator: ids.IdAllocator, *, retention_days: float
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._retention_ms = int(retention_days * 86_400_000)

    async def new_id(self) -> int:
        """An id for a task about to be created; take it before opening the write transaction."""
        return await self._ids.next()

    async def create(self, conn: Connection, task_id: int, **fields: Any) -> None:
        """Write a task row (INIT) inside the caller's transaction (see ``insert_task``)."""
        await insert_task(conn, task_id, **fields)

    async def get(
        self, principal: models.Principal, operator: models.User, task_id: str
    ) -> models.Task:
        """GetTask. Tasks of other orgs do not exist for the caller (404, never 403); within the
        org a task is visible to its creator and to org admins."""
        number = parse_task_id(task_id)
        async with self._db.read() as conn:
            row = await task_rows.get_public(conn, number)
        if row is None or row.corp_id != principal.corp_id:
            raise errors.TASK_NOT_EXIST.error(f"task {task_id} does not exist")
        if row.creator_id != operator.union_id and not operator.is_admin:
            raise errors.PERMISSION_DENIED.error(
                "only the task's creator or an org admin may read it"
            )
        return models.Task(
            id=int(row.id),
            status=row.status,
            total_count=row.total_count,
            success_count=int(row.success_count),
            fail_count=int(row.fail_count),
            fail_message=row.fail_message,
            begin_time=row.begin_time,
            end_time=row.end_time,
        )

    async def purge_expired(self) -> int:
        """Remove finished tasks older than the retention period."""
        async with self._db.write() as conn:
            return await task_rows.purge_finished(conn, now_ms() - self._retention_ms)
