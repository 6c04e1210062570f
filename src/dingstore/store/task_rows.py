"""Queries for task rows (the engine's claiming and stepping queries join these later)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import task_holds, tasks

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
    """Delete the tasks that ended before ``ended_before`` (of ``kinds`` only, if given)."""
    stmt = sa.delete(tasks).where(
        tasks.c.status.in_(("SUCCESS", "FAIL")), tasks.c.end_time < ended_before
    )
    if kinds is not None:
        stmt = stmt.where(tasks.c.kind.in_(sorted(kinds)))
    result = await conn.execute(stmt)
    return result.rowcount or 0


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
