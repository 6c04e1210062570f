"""Set-based queries over a whole subtree, for the bulk operations of the task engine.

A task snapshots the live descendants of its root into ``task_nodes`` (one recursive query),
then settles them a range at a time: every statement here works on one range with joins and
``IN`` lists, never one round trip per node. Recycled descendants (status DELETED) and what lies
under them stay out of the walks that copy, count or merge: they belong to the recycle bin. The
walks that carry a subtree into another space or purge it take every descendant whatever its
status (``every``), so that recycled entries stay in their parent's space and never outlive it.
The OVERWRITE merges that work on these snapshots are in store/merges.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import blobs as blob_rows
from dingstore.store import dentries, permissions, recycle
from dingstore.store.base import Connection
from dingstore.store.schema import app_properties as props
from dingstore.store.schema import dentries as d
from dingstore.store.schema import dentry_versions as v
from dingstore.store.schema import task_nodes as tn

_LIVE = d.c.status == "NORMAL"


def _descendants(root_id: int, space_id: int, *, every: bool = False) -> Any:
    """A subquery of (id, parent_id, type, size, blob_id, depth) for the live descendants of a
    node (``every``: all its descendants, those in the recycle bin and under them included), all
    in ``space_id`` (naming the space lets each level use the (space_id, parent_id) indexes).
    The recursion walks the folders only (the node, then its folders level by level); their
    children, files and folders, are joined once: most nodes are files, and a file has no
    children to look for."""
    live = sa.true() if every else _LIVE
    start = sa.select(sa.literal(root_id).label("id"), sa.literal(0).label("depth"))
    folders = start.cte("folders", recursive=True)
    folders = folders.union_all(
        sa.select(d.c.id, folders.c.depth + 1)
        .join(folders, d.c.parent_id == folders.c.id)
        .where(d.c.space_id == space_id, d.c.type == "FOLDER", live)
    )
    return (
        sa.select(
            d.c.id,
            d.c.parent_id,
            d.c.type,
            d.c.size,
            d.c.blob_id,
            (folders.c.depth + 1).label("depth"),
        )
        .join(folders, d.c.parent_id == folders.c.id)
        .where(d.c.space_id == space_id, live)
        .subquery("walk")
    )


async def snapshot(
    conn: Connection,
    task_id: int,
    root_id: int,
    space_id: int,
    *,
    first_id: int | None = None,
    every: bool = False,
) -> int:
    """Record the node's live descendants (``every``: all of them, whatever their status) for
    the task, numbered 1… in walk order (``seq``: parents before children), files with their
    size and blob; returns how many. With ``first_id`` (copies), each also gets a new id:
    ``first_id + seq - 1``."""
    walk = _descendants(root_id, space_id, every=every)
    file = walk.c.type == "FILE"
    seq = sa.func.row_number().over(order_by=(walk.c.depth, walk.c.id))
    new_id: Any = sa.null() if first_id is None else seq + (first_id - 1)
    values = {
        "task_id": sa.literal(task_id),
        "node_id": walk.c.id,
        "parent_id": walk.c.parent_id,
        "depth": walk.c.depth,
        "type": walk.c.type,
        "failed": sa.false(),
        "size": sa.case((file, walk.c.size), else_=None),
        "blob_id": sa.case((file, walk.c.blob_id), else_=None),
        "seq": seq,
        "new_id": new_id,
    }
    await conn.execute(sa.insert(tn).from_select(list(values), sa.select(*values.values())))
    stmt = sa.select(sa.func.count()).select_from(tn).where(tn.c.task_id == task_id)
    return int((await conn.execute(stmt)).scalar_one())


@dataclass(frozen=True, slots=True)
class Span:
    """The nodes of one step: those numbered ``first`` to ``last`` (``seq``) — two numbers in
    every statement of the step, not a thousand ids."""

    task_id: int
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def where(self) -> Any:
        return sa.and_(tn.c.task_id == self.task_id, tn.c.seq.between(self.first, self.last))

    def ids(self, *, live_only: bool = False) -> Any:
        """The span's node ids; ``live_only``: only those that neither failed nor merged."""
        stmt = sa.select(tn.c.node_id).where(self.where())
        return stmt.where(~tn.c.failed, ~tn.c.merged) if live_only else stmt


def next_span(
    task_id: int, done: int, total: int, limit: int, *, deepest_first: bool = False
) -> Span | None:
    """The next ``limit`` of the task's ``total`` snapshotted nodes once ``done`` are settled:
    in walk order, or from the last back (``deepest_first``: children before parents, for
    deletes). None when all are settled."""
    left = total - done
    if left <= 0:
        return None
    count = min(limit, left)
    if deepest_first:
        return Span(task_id, left - count + 1, left)
    return Span(task_id, done + 1, done + count)


async def rows_of(conn: Connection, span: Span) -> list[RowMapping]:
    """The span's snapshotted nodes, in walk order (for steps that look at each node)."""
    stmt = sa.select(tn).where(span.where()).order_by(tn.c.seq)
    return list((await conn.execute(stmt)).mappings().all())


async def span_bytes(conn: Connection, span: Span) -> int:
    """Bytes of the span's files (as snapshotted) that neither failed nor merged."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(tn.c.size), 0)).where(
        span.where(), ~tn.c.failed, ~tn.c.merged
    )
    return int((await conn.execute(stmt)).scalar_one())


async def mark_failed(conn: Connection, task_id: int, node_ids: Sequence[int]) -> None:
    if node_ids:
        await conn.execute(
            sa.update(tn)
            .where(tn.c.task_id == task_id, tn.c.node_id.in_(node_ids))
            .values(failed=True)
        )


async def fail_under_failed(conn: Connection, span: Span) -> list[int]:
    """Mark failed the span's nodes (not failed yet) under a failed node — their parent failed
    in an earlier step or in this span — and return them: one statement, whose walk goes down
    the span from the failed parents."""
    parent = tn.alias("parent")
    failed_parent = sa.exists().where(
        parent.c.task_id == tn.c.task_id, parent.c.node_id == tn.c.parent_id, parent.c.failed
    )
    down = (
        sa.select(tn.c.node_id)
        .where(span.where(), ~tn.c.failed, failed_parent)
        .cte("down", recursive=True)
    )
    child = tn.alias("child")
    down = down.union_all(
        sa.select(child.c.node_id)
        .join(down, child.c.parent_id == down.c.node_id)
        .where(
            child.c.task_id == span.task_id,
            child.c.seq.between(span.first, span.last),
            ~child.c.failed,
        )
    )
    stmt = (
        sa.update(tn)
        .where(tn.c.task_id == span.task_id, tn.c.node_id.in_(sa.select(down.c.node_id)))
        .values(failed=True)
        .returning(tn.c.node_id)
    )
    return sorted(int(i) for i in (await conn.execute(stmt)).scalars())


async def fail_files_outside(conn: Connection, span: Span, granted: Sequence[int]) -> list[int]:
    """Mark failed the span's files (not failed yet) that are not among the ``granted`` nodes
    and lie under none of them inside the task's subtree, and return them: one statement, whose
    walk goes up the snapshot from the files' parent folders (as many rows as the span has
    folders of files, times their depth) to the task's root."""
    files = sa.and_(span.where(), tn.c.type == "FILE", ~tn.c.failed)
    stmt = sa.update(tn).where(files).values(failed=True).returning(tn.c.node_id)
    if granted:
        start = sa.select(tn.c.parent_id.label("start"), tn.c.parent_id.label("id")).where(files)
        up = start.distinct().cte("up", recursive=True)
        above = tn.alias("above")
        up = up.union_all(
            sa.select(up.c.start, above.c.parent_id).join(
                above, sa.and_(above.c.task_id == span.task_id, above.c.node_id == up.c.id)
            )
        )
        reached = sa.select(up.c.start).where(up.c.id.in_(list(granted)))
        stmt = stmt.where(tn.c.node_id.not_in(list(granted)), tn.c.parent_id.not_in(reached))
    return sorted(int(i) for i in (await conn.execute(stmt)).scalars())


async def stored_bytes_of(conn: Connection, node_ids: Any) -> int:
    """Bytes of every stored version of the nodes (ids, or a select of them)."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(v.c.size), 0)).where(v.c.dentry_id.in_(node_ids))
    return int((await conn.execute(stmt)).scalar_one())


async def copy_nodes(
    conn: Connection,
    span: Span,
    *,
    space_id: int,
    root_copy_id: int,
    operator: str,
    now: int,
) -> None:
    """Copy the nodes under their parents' copies (depth 1: under ``root_copy_id``): rows,
    first versions sharing the same blobs, blob references, app properties."""
    task_id = span.task_id
    parent = tn.alias("parent")
    picked = sa.and_(span.where(), ~tn.c.failed, ~tn.c.merged)
    copies = {
        "id": tn.c.new_id,
        "space_id": sa.literal(space_id),
        "parent_id": sa.func.coalesce(parent.c.new_id, root_copy_id),
        "name": d.c.name,
        "type": d.c.type,
        "size": d.c.size,
        "blob_id": d.c.blob_id,
        "version": sa.case((d.c.type == "FILE", 1), else_=None),
        "status": sa.literal("NORMAL"),
        "uuid": sa.literal("c") + sa.cast(tn.c.new_id, sa.String),
        "creator_id": sa.literal(operator),
        "modifier_id": sa.literal(operator),
        "created_at": sa.literal(now),
        "modified_at": sa.literal(now),
        "descendants": sa.literal(0),
        "stored": sa.case((d.c.type == "FILE", d.c.size), else_=0),
    }
    source = (
        sa.select(*copies.values())
        .select_from(tn)
        .join(d, d.c.id == tn.c.node_id)
        .outerjoin(parent, sa.and_(parent.c.task_id == task_id, parent.c.node_id == tn.c.parent_id))
        .where(picked)
    )
    await conn.execute(sa.insert(d).from_select(list(copies), source))
    # The copies' ancestors (copies made by earlier steps among them) grow by what came in:
    # summed per source parent first, so that each parent's copy is looked up once.
    by_parent = (
        sa.select(
            tn.c.parent_id,
            sa.func.count().label("count"),
            sa.func.coalesce(sa.func.sum(tn.c.size), 0).label("bytes"),
        )
        .where(picked)
        .group_by(tn.c.parent_id)
        .subquery()
    )
    arrivals = sa.select(
        sa.func.coalesce(parent.c.new_id, root_copy_id), by_parent.c.count, by_parent.c.bytes
    ).select_from(
        by_parent.outerjoin(
            parent, sa.and_(parent.c.task_id == task_id, parent.c.node_id == by_parent.c.parent_id)
        )
    )
    await dentries.grow(conn, arrivals)
    first_versions = {
        "dentry_id": tn.c.new_id,
        "version": sa.literal(1),
        "space_id": sa.literal(space_id),
        "name": d.c.name,
        "size": d.c.size,
        "blob_id": d.c.blob_id,
        "modifier_id": sa.literal(operator),
        "created_at": sa.literal(now),
    }
    files = (
        sa.select(*first_versions.values())
        .select_from(tn)
        .join(d, d.c.id == tn.c.node_id)
        .where(picked, d.c.type == "FILE")
    )
    await conn.execute(sa.insert(v).from_select(list(first_versions), files))
    refs = (
        sa.select(tn.c.blob_id, sa.func.count().label("n"))
        .where(picked, tn.c.type == "FILE")
        .group_by(tn.c.blob_id)
    )
    await blob_rows.shift_refs_by(conn, refs, now)
    properties = (
        sa.select(tn.c.new_id, props.c.owner_id, props.c.name, props.c.value, props.c.visibility)
        .select_from(tn)
        .join(props, props.c.dentry_id == tn.c.node_id)
        .where(picked)
    )
    await conn.execute(
        sa.insert(props).from_select(
            ["dentry_id", "owner_id", "name", "value", "visibility"], properties
        )
    )


async def move_nodes(conn: Connection, node_ids: Any, space_id: int) -> None:
    """Carry the nodes (their versions, and the recycle items of those in the bin) into another
    space. ``node_ids``: ids, or a select of them (``Span.ids()``)."""
    await conn.execute(sa.update(d).where(d.c.id.in_(node_ids)).values(space_id=space_id))
    await conn.execute(sa.update(v).where(v.c.dentry_id.in_(node_ids)).values(space_id=space_id))
    await recycle.move_to_space(conn, node_ids, space_id)


async def purge_nodes(
    conn: Connection, node_ids: Any, now: int, *, space_id: int
) -> dict[int, int]:
    """Delete the nodes (of ``space_id``) for good: release their versions' blobs, drop versions,
    properties, grants, recycle items and rows. Returns the bytes freed per space, for the
    quotas. ``node_ids``: ids, or a select of them (``Span.ids()``)."""
    stored = (
        sa.select(v.c.space_id, sa.func.sum(v.c.size))
        .where(v.c.dentry_id.in_(node_ids))
        .group_by(v.c.space_id)
    )
    freed = {int(space): int(size) for space, size in (await conn.execute(stored)).all()}
    refs = (
        sa.select(v.c.blob_id, -sa.func.count())
        .where(v.c.dentry_id.in_(node_ids))
        .group_by(v.c.blob_id)
    )
    await blob_rows.shift_refs_by(conn, refs, now)
    await conn.execute(sa.delete(v).where(v.c.dentry_id.in_(node_ids)))
    await conn.execute(sa.delete(props).where(props.c.dentry_id.in_(node_ids)))
    await permissions.drop(conn, space_id, node_ids)
    await recycle.drop_for_dentries(conn, node_ids)
    await conn.execute(sa.delete(d).where(d.c.id.in_(node_ids)))
    return freed


async def forget(conn: Connection, task_id: int) -> None:
    """Drop the task's snapshot."""
    await conn.execute(sa.delete(tn).where(tn.c.task_id == task_id))


async def forget_settled(conn: Connection, task_id: int, done: int) -> None:
    """Drop the task's snapshot but what a retry of it needs (``POST /dingstore/v1/tasks/{id}/
    retry``): the nodes that failed or that it did not reach (``seq`` past ``done``), and the
    parents of those (their ``new_id``: where a retry puts what it copies). Nothing is left
    when every node succeeded; housekeeping drops the rest with the task."""
    await conn.execute(
        sa.update(tn).where(tn.c.task_id == task_id, tn.c.seq > done).values(failed=True)
    )
    other = tn.alias("other")
    parents = sa.select(other.c.parent_id).where(other.c.task_id == task_id, other.c.failed)
    await conn.execute(
        sa.delete(tn).where(tn.c.task_id == task_id, ~tn.c.failed, tn.c.node_id.not_in(parents))
    )


async def failed_count(conn: Connection, task_id: int) -> int:
    """How many nodes of an ended task a retry would take (``forget_settled`` kept them)."""
    stmt = sa.select(sa.func.count()).where(tn.c.task_id == task_id, tn.c.failed)
    return int((await conn.execute(stmt)).scalar_one())


async def snapshot_failed(
    conn: Connection, task_id: int, old_task_id: int, space_id: int, *, first_id: int
) -> int:
    """The snapshot of a retry: the nodes task ``old_task_id`` failed (``forget_settled``) that
    are still live in ``space_id``, numbered afresh in walk order with new ids from
    ``first_id``, their size and blob as they are now; and, unnumbered (no ``seq``: no step
    settles them) and ``merged``, the parents it copied, with their copies' ids, under which
    ``copy_nodes`` puts their children. Returns how many nodes the retry settles."""
    old = tn.alias("old")
    file = d.c.type == "FILE"
    seq = sa.func.row_number().over(order_by=(old.c.depth, old.c.node_id))
    values = {
        "task_id": sa.literal(task_id),
        "node_id": old.c.node_id,
        "parent_id": old.c.parent_id,
        "depth": old.c.depth,
        "type": d.c.type,
        "failed": sa.false(),
        "merged": sa.false(),
        "size": sa.case((file, d.c.size), else_=None),
        "blob_id": sa.case((file, d.c.blob_id), else_=None),
        "seq": seq,
        "new_id": seq + (first_id - 1),
    }
    failed = (
        sa.select(*values.values())
        .select_from(old)
        .join(d, d.c.id == old.c.node_id)
        .where(old.c.task_id == old_task_id, old.c.failed, d.c.space_id == space_id, _LIVE)
    )
    await conn.execute(sa.insert(tn).from_select(list(values), failed))
    helpers = {
        **values,
        "type": old.c.type,
        "merged": sa.true(),
        "size": sa.null(),
        "blob_id": sa.null(),
        "seq": sa.null(),
        "new_id": old.c.new_id,
    }
    settled = sa.select(*helpers.values()).where(old.c.task_id == old_task_id, ~old.c.failed)
    await conn.execute(sa.insert(tn).from_select(list(helpers), settled))
    stmt = sa.select(sa.func.count()).where(tn.c.task_id == task_id, tn.c.seq.is_not(None))
    return int((await conn.execute(stmt)).scalar_one())


async def forget_tasks(conn: Connection, task_ids: Any) -> None:
    """Drop what the tasks (ids, or a select of them) left of their snapshots."""
    await conn.execute(sa.delete(tn).where(tn.c.task_id.in_(task_ids)))


async def live_file_bytes(conn: Connection, root_id: int, space_id: int) -> int:
    """Bytes of the current versions of the live files under the node: what a copy of it
    charges the target space (a dry run's figure; one recursive read)."""
    walk = _descendants(root_id, space_id)
    stmt = sa.select(sa.func.coalesce(sa.func.sum(walk.c.size), 0)).where(walk.c.type == "FILE")
    return int((await conn.execute(stmt)).scalar_one())
