"""OVERWRITE merges, for the bulk operations of the task engine (store/subtree.py holds the
snapshot and spans they work on).

A folder copied or moved with OVERWRITE onto a folder of the same name merges into it: level by
level, a node whose parent merged (every node of depth 1: the root merged) meets the entry of
its own name under its parent's counterpart, if any. A step resolves its range one depth at a
time, parents before children, so a node's parent is always settled before the node is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import dentries, permissions, subtree
from dingstore.store.base import Connection
from dingstore.store.schema import app_properties as props
from dingstore.store.schema import dentries as d
from dingstore.store.schema import task_nodes as tn


def _merge_level(span: subtree.Span, depth: int, parent: Any) -> Any:
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
    conn: Connection, span: subtree.Span, depth: int, *, space_id: int, root_id: int
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


async def fail_merging(conn: Connection, span: subtree.Span) -> list[int]:
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
    conn: Connection, span: subtree.Span, depth: int, *, space_id: int, root_id: int, now: int
) -> list[RowMapping]:
    """Move the span's merging nodes at ``depth`` that did not merge under their parents'
    counterparts in the target (their subtrees come along); returns them (id, type, name)."""
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
    moved = await conn.execute(
        sa.update(d)
        .where(d.c.id.in_(moving))
        .values(parent_id=counterpart, space_id=space_id, modified_at=now)
        .returning(d.c.id, d.c.type, d.c.name)
    )
    return sorted(moved.mappings().all(), key=lambda row: int(row["id"]))


async def merged_folders(conn: Connection, task_id: int) -> list[tuple[int, int]]:
    """(depth, node_id) of the folders that merged into their counterparts, deepest first."""
    stmt = (
        sa.select(tn.c.depth, tn.c.node_id)
        .where(tn.c.task_id == task_id, tn.c.merged, tn.c.type == "FOLDER")
        .order_by(tn.c.depth.desc(), tn.c.node_id)
    )
    return [(int(depth), int(node)) for depth, node in (await conn.execute(stmt)).all()]


async def drop_empty_folders(
    conn: Connection, folder_ids: Sequence[int], *, space_id: int
) -> list[RowMapping]:
    """Delete those of the folders (of ``space_id``) that hold nothing at all (not even recycled
    entries), and the grants on them; returns them (id, type, name)."""
    child = d.alias("child")
    gone = list(
        (
            await conn.execute(
                sa.select(d.c.id, d.c.type, d.c.name)
                .where(
                    d.c.id.in_(folder_ids),
                    ~sa.exists().where(child.c.parent_id == d.c.id),
                )
                .order_by(d.c.id)
            )
        )
        .mappings()
        .all()
    )
    empty = [int(row["id"]) for row in gone]
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
    return gone
