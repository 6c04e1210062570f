"""Set-based queries over a whole subtree, for the bulk operations of the task engine.

A task snapshots the live descendants of its root into ``task_nodes`` (one recursive query),
then settles them a range at a time: every statement here works on one range with joins and
``IN`` lists, never one round trip per node. Recycled descendants (status DELETED) and what lies
under them stay out of the walks that copy, count or merge: they belong to the recycle bin. The
walks that carry a subtree into another space or purge it take every descendant whatever its
status (``every``), so that recycled entries stay in their parent's space and never outlive it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import blobs as blob_rows
from dingstore.store import dentries, permissions, recycle
from dingstore.store.base import Connection, Writer
from dingstore.store.schema import app_properties as props
from dingstore.store.schema import dentries as d
from dingstore.store.schema import dentry_versions as v
from dingstore.store.schema import task_nodes as tn

_LIVE = d.c.status == "NORMAL"


async def lock_tree(conn: Writer, corp_id: str) -> None:
    """Take the org's tree lock until the transaction ends, so that the requests changing one
    org's tree check and act one at a time, as SQLite's single writer makes them: what a request
    reads after taking it includes every change committed before, and nothing it checked (the
    holds of running tasks, a folder's ancestors) changes before it commits. Different orgs never
    wait for each other."""
    key = int.from_bytes(
        hashlib.sha256(f"tree:{corp_id}".encode()).digest()[:8], "big", signed=True
    )
    await conn.lock(key)


async def ancestries(conn: Connection, node_ids: Sequence[int]) -> dict[int, set[int]]:
    """Each node's id and its ancestors' (below the root), in one walk up from all of them."""
    if not node_ids:
        return {}
    start = sa.select(d.c.id.label("start"), d.c.id, d.c.parent_id).where(
        d.c.id.in_(list(node_ids))
    )
    up = start.cte("up", recursive=True)
    up = up.union_all(
        sa.select(up.c.start, d.c.id, d.c.parent_id).join(up, d.c.id == up.c.parent_id)
    )
    found: dict[int, set[int]] = {}
    for start_id, node in (await conn.execute(sa.select(up.c.start, up.c.id))).all():
        found.setdefault(int(start_id), set()).add(int(node))
    return found


def _descendants(root_id: int, space_id: int, *, every: bool = False) -> Any:
    """A recursive CTE of (id, parent_id, type, size, blob_id, depth) for the live descendants of
    a node (``every``: all its descendants, those in the recycle bin and under them included),
    all in ``space_id`` (naming the space lets each level use the (space_id, parent_id)
    indexes)."""
    columns = (d.c.id, d.c.parent_id, d.c.type, d.c.size, d.c.blob_id)
    live = sa.true() if every else _LIVE
    start = sa.select(*columns, sa.literal(1).label("depth")).where(
        d.c.space_id == space_id, d.c.parent_id == root_id, live
    )
    walk = start.cte("walk", recursive=True)
    return walk.union_all(
        sa.select(*columns, walk.c.depth + 1)
        .join(walk, d.c.parent_id == walk.c.id)
        .where(d.c.space_id == space_id, live)
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
    rows = sa.select(
        sa.literal(task_id), walk.c.id, walk.c.parent_id, walk.c.depth, walk.c.type, sa.false(),
        sa.case((file, walk.c.size), else_=None), sa.case((file, walk.c.blob_id), else_=None),
        seq, new_id,
    )  # fmt: skip
    columns = [
        "task_id", "node_id", "parent_id", "depth", "type", "failed", "size", "blob_id", "seq",
        "new_id",
    ]  # fmt: skip
    await conn.execute(sa.insert(tn).from_select(columns, rows))
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


# -- OVERWRITE merges ---------------------------------------------------------------------------
#
# A folder copied or moved with OVERWRITE onto a folder of the same name merges into it: level by
# level, a node whose parent merged (every node of depth 1: the root merged) meets the entry of
# its own name under its parent's counterpart, if any. A step resolves its range one depth at a
# time, parents before children, so a node's parent is always settled before the node is.


def _merge_level(span: Span, depth: int, parent: Any) -> Any:
    """The span's nodes at ``depth`` that take part in the merge: not failed, and their parent
    merged (or is the root)."""
    return sa.and_(
        span.where(),
        tn.c.depth == depth,
        ~tn.c.failed,
        sa.or_(tn.c.depth == 1, parent.c.merged),
    )


def _counterpart(parent: Any, root_id: int) -> Any:
    """Where a node goes in the target: under its parent's counterpart (the root's at depth 1)."""
    return sa.func.coalesce(parent.c.new_id, root_id)


def _parent_of(node: Any) -> tuple[Any, Any]:
    parent = tn.alias("parent")
    return parent, sa.and_(parent.c.task_id == node.c.task_id, parent.c.node_id == node.c.parent_id)


async def clashes(
    conn: Connection, span: Span, depth: int, *, space_id: int, root_id: int
) -> list[RowMapping]:
    """The span's merging nodes at ``depth`` that meet a live entry of their name in the target:
    (node_id, type, size, blob_id, match_id, match_type)."""
    parent, joined = _parent_of(tn)
    source, match = d.alias("source"), d.alias("match")
    stmt = (
        sa.select(
            tn.c.node_id,
            source.c.type,
            source.c.size,
            source.c.blob_id,
            match.c.id.label("match_id"),
            match.c.type.label("match_type"),
        )
        .select_from(tn)
        .join(source, source.c.id == tn.c.node_id)
        .outerjoin(parent, joined)
        .join(
            match,
            sa.and_(
                match.c.space_id == space_id,
                match.c.parent_id == _counterpart(parent, root_id),
                match.c.name == source.c.name,
                match.c.status == "NORMAL",
            ),
        )
        .where(_merge_level(span, depth, parent))
        .order_by(tn.c.node_id)
    )
    return list((await conn.execute(stmt)).mappings().all())


async def fail_merging(conn: Connection, span: Span) -> list[int]:
    """Mark failed the span's nodes that take part in the merge (at any depth: their parent
    merged, or is the root), and return them."""
    parent = tn.alias("parent")
    merged_parent = sa.exists().where(
        parent.c.task_id == tn.c.task_id, parent.c.node_id == tn.c.parent_id, parent.c.merged
    )
    stmt = (
        sa.update(tn)
        .where(span.where(), ~tn.c.failed, sa.or_(tn.c.depth == 1, merged_parent))
        .values(failed=True)
        .returning(tn.c.node_id)
    )
    return sorted(int(i) for i in (await conn.execute(stmt)).scalars())


async def mark_merged(conn: Connection, task_id: int, pairs: Sequence[tuple[int, int]]) -> None:
    """Record that each node merged into its counterpart: (node_id, counterpart id) pairs."""
    if pairs:
        await conn.execute(
            sa.update(tn)
            .where(tn.c.task_id == task_id, tn.c.node_id == sa.bindparam("node"))
            .values(merged=True, new_id=sa.bindparam("counterpart")),
            [{"node": node, "counterpart": other} for node, other in pairs],
        )


async def reparent_merging(
    conn: Connection, span: Span, depth: int, *, space_id: int, root_id: int, now: int
) -> None:
    """Move the span's merging nodes at ``depth`` that did not merge under their parents'
    counterparts in the target (their subtrees come along)."""
    parent, joined = _parent_of(tn)
    moving = (
        sa.select(tn.c.node_id)
        .select_from(tn)
        .outerjoin(parent, joined)
        .where(_merge_level(span, depth, parent), ~tn.c.merged)
    )
    weights = (
        sa.select(
            tn.c.parent_id.label("old"),
            _counterpart(parent, root_id).label("new"),
            (1 + d.c.descendants).label("count"),
            d.c.stored,
        )
        .select_from(tn)
        .join(d, d.c.id == tn.c.node_id)
        .outerjoin(parent, joined)
        .where(_merge_level(span, depth, parent), ~tn.c.merged)
        .subquery()
    )
    for end, sign in ((weights.c.old, -1), (weights.c.new, 1)):
        await dentries.grow(
            conn,
            sa.select(
                end, sign * sa.func.sum(weights.c.count), sign * sa.func.sum(weights.c.stored)
            ).group_by(end),
        )
    node = tn.alias("node")
    node_parent, node_joined = _parent_of(node)
    counterpart = (
        sa.select(_counterpart(node_parent, root_id))
        .select_from(node)
        .outerjoin(node_parent, node_joined)
        .where(node.c.task_id == span.task_id, node.c.node_id == d.c.id)
        .scalar_subquery()
    )
    await conn.execute(
        sa.update(d)
        .where(d.c.id.in_(moving))
        .values(parent_id=counterpart, space_id=space_id, modified_at=now)
    )


async def merged_folders(conn: Connection, task_id: int) -> list[tuple[int, int]]:
    """(depth, node_id) of the folders that merged into their counterparts, deepest first."""
    stmt = (
        sa.select(tn.c.depth, tn.c.node_id)
        .where(tn.c.task_id == task_id, tn.c.merged, tn.c.type == "FOLDER")
        .order_by(tn.c.depth.desc(), tn.c.node_id)
    )
    return [(int(depth), int(node)) for depth, node in (await conn.execute(stmt)).all()]


async def drop_empty_folders(conn: Connection, folder_ids: Sequence[int], *, space_id: int) -> None:
    """Delete those of the folders (of ``space_id``) that hold nothing at all (not even recycled
    entries), and the grants on them."""
    child = d.alias("child")
    empty = list(
        (
            await conn.execute(
                sa.select(d.c.id).where(
                    d.c.id.in_(folder_ids),
                    ~sa.exists().where(child.c.parent_id == d.c.id),
                )
            )
        )
        .scalars()
        .all()
    )
    if empty:
        await dentries.grow(
            conn,
            sa.select(d.c.parent_id, -sa.func.count(), sa.literal(0))
            .where(d.c.id.in_(empty))
            .group_by(d.c.parent_id),
        )
        await conn.execute(sa.delete(props).where(props.c.dentry_id.in_(empty)))
        await permissions.drop(conn, None, empty)
        await conn.execute(sa.delete(d).where(d.c.id.in_(empty)))


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
    source = (
        sa.select(
            tn.c.new_id,
            sa.literal(space_id),
            sa.func.coalesce(parent.c.new_id, root_copy_id),
            d.c.name,
            d.c.type,
            d.c.size,
            d.c.blob_id,
            sa.case((d.c.type == "FILE", 1), else_=None),
            sa.literal("NORMAL"),
            sa.literal("c") + sa.cast(tn.c.new_id, sa.String),
            sa.literal(operator),
            sa.literal(operator),
            sa.literal(now),
            sa.literal(now),
            sa.literal(0),
            sa.case((d.c.type == "FILE", d.c.size), else_=0),
        )
        .select_from(tn)
        .join(d, d.c.id == tn.c.node_id)
        .outerjoin(parent, sa.and_(parent.c.task_id == task_id, parent.c.node_id == tn.c.parent_id))
        .where(picked)
    )
    columns = [
        "id", "space_id", "parent_id", "name", "type", "size", "blob_id", "version", "status",
        "uuid", "creator_id", "modifier_id", "created_at", "modified_at", "descendants", "stored",
    ]  # fmt: skip
    await conn.execute(sa.insert(d).from_select(columns, source))
    # The copies' ancestors (copies made by earlier steps among them) grow by what came in.
    arrivals = (
        sa.select(
            sa.func.coalesce(parent.c.new_id, root_copy_id),
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(tn.c.size), 0),
        )
        .select_from(tn)
        .outerjoin(parent, sa.and_(parent.c.task_id == task_id, parent.c.node_id == tn.c.parent_id))
        .where(picked)
        .group_by(parent.c.new_id)
    )
    await dentries.grow(conn, arrivals)
    files = (
        sa.select(
            tn.c.new_id,
            sa.literal(1),
            sa.literal(space_id),
            d.c.name,
            d.c.size,
            d.c.blob_id,
            sa.literal(operator),
            sa.literal(now),
        )
        .select_from(tn)
        .join(d, d.c.id == tn.c.node_id)
        .where(picked, d.c.type == "FILE")
    )
    await conn.execute(
        sa.insert(v).from_select(
            ["dentry_id", "version", "space_id", "name", "size", "blob_id", "modifier_id",
             "created_at"],
            files,
        )
    )  # fmt: skip
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
