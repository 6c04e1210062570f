"""Tasks as users see them: GetTask, and the creation of task rows inside a request's
transaction (the task engine runs them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import models, tree
from dingstore.store import base, dentries, task_rows
from dingstore.store.base import Connection, Writer


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
) -> None:
    """Write the task row (INIT) and its holds (``(space, dentry)`` subtrees no one else may
    touch while it runs) in the request's write transaction, and wake the workers: the task
    exists exactly when the request's own change commits, and only then are workers told of it,
    in this process and (PostgreSQL) every other. The task is created ``now``."""
    await _insert(conn, task_id, payload, creator, now, status="INIT", success_count=0)
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
        created_at=now,
        modified_at=now,
        **state,
    )


class TaskService:
    """GetTask, and the removal of finished tasks past their retention."""

    def __init__(self, db: base.BaseDatabase, *, retention_days: float, clock: Clock) -> None:
        self._db = db
        self._retention_ms = int(retention_days * 86_400_000)
        self._clock = clock

    async def get(
        self, principal: models.Principal, operator: models.User, task_id: str
    ) -> models.Task:
        """GetTask. Tasks of other orgs do not exist for the caller (404, never 403); within the
        org a task is visible to its creator and to org admins."""
        number = tree.parse_id(task_id, "taskId")
        async with self._db.read() as conn:
            row = await task_rows.get_public(conn, number)
        if row is None or row.corp_id != principal.corp_id or row.kind in INTERNAL_KINDS:
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
        """Remove finished tasks older than the retention period, and internal ones that
        ended."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            internal = await task_rows.purge_finished(conn, now, kinds=INTERNAL_KINDS)
            return internal + await task_rows.purge_finished(conn, now - self._retention_ms)
