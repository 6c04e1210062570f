"""Claiming, fencing and finishing task rows.

A worker claims a runnable task (INIT, or IN_PROGRESS whose lease expired) by writing its own
name and a lease expiry on the row. Every step then runs in one write transaction that first
renews the lease *only if it is still this worker's* (``WHERE lease_owner = :me``) — the fence —
then applies the work, advances the persisted cursor and adds to the counts. A worker that
stalled past its lease finds the fence closed and its step rolled back: nothing is applied twice.

The claim picks the row with ``Writer.skip_locked`` (PostgreSQL's ``FOR UPDATE SKIP LOCKED``) so
that many workers in many processes never contend for one task; on SQLite the single writer
makes it atomic. Times (leases, begin and end) are read from the ``clock`` each call is given.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from dingstore.clock import Clock
from dingstore.store import task_rows
from dingstore.store.base import Connection, Writer
from dingstore.store.schema import tasks as t

RUNNABLE = ("INIT", "IN_PROGRESS")


class LeaseLost(Exception):
    """The task's lease passed to another worker: this worker must drop the task."""


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    kind: str
    corp_id: str
    creator_id: str
    app_id: str | None
    status: str
    payload: dict[str, Any]
    cursor: dict[str, Any] | None
    total_count: int | None
    # What the handler's ``prepare`` made outside the step's transaction (engine/worker.py).
    prepared: Any = None


async def claim(
    conn: Writer,
    owner: str,
    lease_ms: int,
    *,
    clock: Clock,
    skip_orgs: Collection[str] = (),
    only_org: str | None = None,
) -> Claimed | None:
    """Take the oldest runnable task nobody holds, for ``lease_ms``: of any org but
    ``skip_orgs`` (paused in test mode), or of ``only_org`` alone."""
    now = clock.now_ms()
    pick = sa.select(t.c.id).where(
        t.c.status.in_(RUNNABLE),
        sa.or_(t.c.lease_expires_at.is_(None), t.c.lease_expires_at < now),
    )
    if skip_orgs:
        pick = pick.where(t.c.corp_id.not_in(list(skip_orgs)))
    if only_org is not None:
        pick = pick.where(t.c.corp_id == only_org)
    pick = pick.order_by(t.c.created_at, t.c.id).limit(1)
    row = (
        await conn.execute(
            sa.update(t)
            .where(t.c.id == conn.skip_locked(pick).scalar_subquery())
            .values(lease_owner=owner, lease_expires_at=now + lease_ms)
            .returning(
                t.c.id,
                t.c.kind,
                t.c.corp_id,
                t.c.creator_id,
                t.c.app_id,
                t.c.status,
                t.c.payload,
                t.c.cursor,
                t.c.total_count,
            )
        )
    ).first()
    if row is None:
        return None
    return Claimed(
        id=int(row.id),
        kind=row.kind,
        corp_id=row.corp_id,
        creator_id=row.creator_id,
        app_id=row.app_id,
        status=row.status,
        payload=dict(row.payload or {}),
        cursor=dict(row.cursor) if row.cursor is not None else None,
        total_count=row.total_count,
    )


async def fence(conn: Connection, task_id: int, owner: str, lease_ms: int, *, clock: Clock) -> bool:
    """Renew the lease inside the step's transaction, or raise ``LeaseLost``. Returns whether
    someone asked to cancel the task (``POST /dingstore/v1/tasks/{id}/cancel``)."""
    now = clock.now_ms()
    row = (
        await conn.execute(
            sa.update(t)
            .where(t.c.id == task_id, t.c.lease_owner == owner, t.c.status.in_(RUNNABLE))
            .values(lease_expires_at=now + lease_ms, modified_at=now)
            .returning(t.c.canceled_by)
        )
    ).first()
    if row is None:
        raise LeaseLost(task_id)
    return row.canceled_by is not None


async def reload(conn: Connection, task: Claimed) -> Claimed:
    """``task`` as its row stands: where a step must resume when it cannot tell whether the last
    one committed."""
    row = (
        await conn.execute(
            sa.select(t.c.status, t.c.cursor, t.c.total_count).where(t.c.id == task.id)
        )
    ).one()
    return replace(
        task,
        status=row.status,
        cursor=dict(row.cursor) if row.cursor is not None else None,
        total_count=row.total_count,
    )


async def begin(conn: Connection, task_id: int, total_count: int, *, clock: Clock) -> None:
    """INIT → IN_PROGRESS: the task's size is fixed and its clock starts."""
    await conn.execute(
        sa.update(t)
        .where(t.c.id == task_id)
        .values(status="IN_PROGRESS", total_count=total_count, begin_time=clock.now_ms())
    )


async def advance(
    conn: Connection,
    task_id: int,
    *,
    cursor: dict[str, Any],
    succeeded: int,
    failed: int,
    fail_message: str | None,
    total: int | None = None,
) -> None:
    """Record a step: its cursor, the nodes it settled, and (``total``) the task's size when the
    step found it to differ from the one fixed when the task began."""
    values: dict[str, Any] = {
        "cursor": cursor,
        "success_count": t.c.success_count + succeeded,
        "fail_count": t.c.fail_count + failed,
    }
    if total is not None:
        values["total_count"] = total
    if fail_message is not None:
        values["fail_message"] = sa.func.coalesce(t.c.fail_message, fail_message)
    await conn.execute(sa.update(t).where(t.c.id == task_id).values(**values))


async def finish(
    conn: Connection,
    task_id: int,
    *,
    clock: Clock,
    fail_message: str | None = None,
    overriding: bool = False,
) -> None:
    """End the task: FAIL when any node failed (or ``fail_message`` says it failed as a whole),
    SUCCESS otherwise. Counts not reached are counted failed, so that they add up to the total
    (1, the folder itself, for a task that failed before it began). ``overriding``: the
    task's failMessage is ``fail_message`` whatever failed before (a cancel). Whoever waits for
    the task (GetTask's ``waitSeconds``) is told once the transaction commits."""
    now = clock.now_ms()
    row = (
        await conn.execute(
            sa.select(t.c.total_count, t.c.success_count, t.c.fail_count, t.c.fail_message).where(
                t.c.id == task_id
            )
        )
    ).first()
    assert row is not None
    # A task that failed before it began never knew its size: the folder it was for is what
    # failed.
    total = 1 if row.total_count is None else int(row.total_count)
    done = int(row.success_count) + int(row.fail_count)
    fail_count = int(row.fail_count) + max(0, total - done) if fail_message else int(row.fail_count)
    message = fail_message if overriding else (row.fail_message or fail_message)
    await conn.execute(
        sa.update(t)
        .where(t.c.id == task_id)
        .values(
            status="FAIL" if fail_count or fail_message else "SUCCESS",
            fail_count=fail_count,
            fail_message=message if (fail_count or fail_message) else None,
            total_count=max(total, int(row.success_count) + fail_count),
            begin_time=sa.func.coalesce(t.c.begin_time, now),
            end_time=now,
            lease_owner=None,
            lease_expires_at=None,
        )
    )
    await task_rows.release_holds(conn, task_id)
    if isinstance(conn, Writer):
        await conn.notify(task_rows.DONE_CHANNEL)


async def release(conn: Connection, task_id: int, owner: str) -> None:
    """Give the lease back (a worker shutting down mid-task): another may claim it at once."""
    await conn.execute(
        sa.update(t)
        .where(t.c.id == task_id, t.c.lease_owner == owner)
        .values(lease_owner=None, lease_expires_at=None)
    )
