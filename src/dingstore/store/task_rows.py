"""Queries for task rows (the engine's claiming and stepping queries join these later)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import task_holds, task_nodes, tasks

# What GetTask reads: the row's public face, without the engine's state.
_PUBLIC = (
    tasks.c.id,
    tasks.c.corp_id,
    tasks.c.kind,
    tasks.c.creator_id,
    tasks.c.status,
    tasks.c.total_count,
    tasks.c.success_count,
    tasks.c.fail_count,
    tasks.c.fail_message,
    tasks.c.begin_time,
    tasks.c.end_time,
)
_GET_PUBLIC = base.prepared(sa.select(*_PUBLIC).where(tasks.c.id == sa.bindparam("task_id")))

# Where new runnable tasks are announced (``BaseDatabase.listen`` hears it).
CHANNEL = "dingstore_tasks"
# Where the end of a task is announced: GetTask's long-polls wait on it (service/tasks.py).
DONE_CHANNEL = "dingstore_tasks_done"


async def insert(conn: Connection, **values: Any) -> None:
    await conn.execute(sa.insert(tasks).values(**values))


async def announce(conn: base.Writer) -> None:
    """Tell the workers listening on ``CHANNEL`` that a task can be claimed, once (and only
    if) the caller's write transaction commits: those of this process always, those of other
    processes where the database can tell them (``Writer.notify``)."""
    await conn.notify(CHANNEL)


async def get_public(conn: Connection, task_id: int) -> RowMapping | None:
    return (await conn.execute(_GET_PUBLIC, {"task_id": task_id})).mappings().first()


async def purge_finished(
    conn: Connection, ended_before: int, *, kinds: Iterable[str] | None = None
) -> int:
    """Delete the tasks that ended before ``ended_before`` (of ``kinds`` only, if given), and
    what their snapshots kept for a retry (``subtree.forget_settled``)."""
    ended = sa.and_(tasks.c.status.in_(("SUCCESS", "FAIL")), tasks.c.end_time < ended_before)
    if kinds is not None:
        ended = sa.and_(ended, tasks.c.kind.in_(sorted(kinds)))
    await conn.execute(
        sa.delete(task_nodes).where(task_nodes.c.task_id.in_(sa.select(tasks.c.id).where(ended)))
    )
    result = await conn.execute(sa.delete(tasks).where(ended))
    return result.rowcount or 0


async def ended_among(conn: Connection, task_ids: Sequence[int]) -> list[RowMapping]:
    """The public rows (as ``get_public`` reads them) of those of the tasks that have ended."""
    stmt = sa.select(*_PUBLIC).where(
        tasks.c.id.in_(list(task_ids)), tasks.c.status.in_(("SUCCESS", "FAIL"))
    )
    return list((await conn.execute(stmt)).mappings().all())


async def listed(
    conn: Connection,
    corp_id: str,
    *,
    creator_id: str | None = None,
    space_id: int | None = None,
    status: str | None = None,
    kind: str | None = None,
    created_after: int | None = None,
    created_before: int | None = None,
    hidden: Iterable[str] = (),
    after: tuple[int, int] | None = None,
    limit: int,
) -> list[RowMapping]:
    """The org's tasks (``creator_id``'s only, if given), newest first (by creation, then id),
    filtered (a filter left None filters nothing), after the row ``after`` (created_at, id) of
    the page before."""
    stmt = sa.select(
        *_PUBLIC,
        tasks.c.space_id,
        tasks.c.created_at,
        tasks.c.canceled_by,
        tasks.c.retry_of,
    ).where(tasks.c.corp_id == corp_id, tasks.c.kind.not_in(sorted(hidden)))
    if creator_id is not None:
        stmt = stmt.where(tasks.c.creator_id == creator_id)
    if space_id is not None:
        stmt = stmt.where(tasks.c.space_id == space_id)
    if status is not None:
        stmt = stmt.where(tasks.c.status == status)
    if kind is not None:
        stmt = stmt.where(tasks.c.kind == kind)
    if created_after is not None:
        stmt = stmt.where(tasks.c.created_at >= created_after)
    if created_before is not None:
        stmt = stmt.where(tasks.c.created_at < created_before)
    if after is not None:
        at, task_id = after
        stmt = stmt.where(
            sa.or_(tasks.c.created_at < at, sa.and_(tasks.c.created_at == at, tasks.c.id < task_id))
        )
    stmt = stmt.order_by(tasks.c.created_at.desc(), tasks.c.id.desc()).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def request_cancel(conn: Connection, task_id: int, union_id: str) -> None:
    """Ask the task's worker to stop it at its next step (``engine/queue.py`` ``fence``)."""
    await conn.execute(
        sa.update(tasks)
        .where(tasks.c.id == task_id, tasks.c.canceled_by.is_(None))
        .values(canceled_by=union_id)
    )


async def get_full(conn: Connection, task_id: int) -> RowMapping | None:
    """The task's whole row (its payload too): what a retry reads."""
    stmt = sa.select(tasks).where(tasks.c.id == task_id)
    return (await conn.execute(stmt)).mappings().first()


async def retried_by(conn: Connection, task_id: int) -> int | None:
    """The task that retries this one, if any."""
    stmt = sa.select(tasks.c.id).where(tasks.c.retry_of == task_id)
    found = (await conn.execute(stmt)).scalar()
    return None if found is None else int(found)


# --- subtrees held by running tasks ------------------------------------------------------------


async def hold(conn: Connection, task_id: int, corp_id: str, space_id: int, dentry_id: int) -> None:
    await conn.execute(
        sa.insert(task_holds).values(
            task_id=task_id, corp_id=corp_id, space_id=space_id, dentry_id=dentry_id
        )
    )


_HOLDS_OF = base.prepared(
    sa.select(task_holds.c.task_id, task_holds.c.dentry_id).where(
        task_holds.c.corp_id == sa.bindparam("corp_id")
    )
)


async def holds_of(conn: Connection, corp_id: str) -> list[RowMapping]:
    """The org's holds: one or two per running bulk task of the org (none, most often)."""
    return list((await conn.execute(_HOLDS_OF, {"corp_id": corp_id})).mappings().all())


async def release_holds(conn: Connection, task_id: int) -> None:
    await conn.execute(sa.delete(task_holds).where(task_holds.c.task_id == task_id))
