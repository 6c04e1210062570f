"""What a move across spaces leaves in the source space when it cannot finish.

Such a move carries the folder into the target space in the request, and its descendants a range
a step afterwards (service/bulk/moves.py). When its creator may no longer go on (a grant of theirs
expired), the nodes not carried yet stay in the source space, where they are: the folder is made
again there (a new folder of its name), with the subfolders between it and those nodes (new ids,
the same names), and the nodes go under them — each keeps its subtree. What lies inside a
recycled folder already carried goes on nonetheless: it belongs to that folder's recycle item.

Set-based like the rest of the engine: one walk up the task's snapshot from the parents of the
nodes left (as many rows as those parents times their depth), one walk down from the recycled
folders among them, and joins.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from dingstore.store import dentries, recycle
from dingstore.store.base import Connection
from dingstore.store.schema import dentries as d
from dingstore.store.schema import dentry_versions as v
from dingstore.store.schema import spaces
from dingstore.store.schema import task_nodes as tn


def _left(task_id: int, done: int) -> Any:
    """The snapshotted nodes not carried yet."""
    return sa.and_(tn.c.task_id == task_id, tn.c.seq > done)


@dataclass(frozen=True, slots=True)
class Frontier:
    """Seen from the nodes left: ``remade``, the carried folders above them to make again in
    the source space, as (id, parent_id, name), parents first; ``parents``, the carried folders
    whose children left stay; ``recycled``, the carried folders whose children left follow
    them, as they lie in the recycle bin (they, or a folder above them)."""

    remade: list[tuple[int, int, str]]
    parents: list[int]
    recycled: list[int]


async def frontier(conn: Connection, task_id: int, done: int) -> Frontier:
    """Where the nodes left meet the carried ones: a walk up the snapshot from the carried
    parents of the nodes left, to the task's root (outside the snapshot)."""
    carried = sa.and_(tn.c.task_id == task_id, tn.c.seq <= done)
    start = sa.select(
        tn.c.node_id.label("start"), tn.c.node_id.label("id"), tn.c.parent_id, tn.c.depth
    ).where(carried, tn.c.node_id.in_(sa.select(tn.c.parent_id).where(_left(task_id, done))))
    up = start.cte("up", recursive=True)
    above = tn.alias("above")
    up = up.union_all(
        sa.select(up.c.start, above.c.node_id, above.c.parent_id, above.c.depth).join(
            above, sa.and_(above.c.task_id == task_id, above.c.node_id == up.c.parent_id)
        )
    )
    stmt = sa.select(up.c.start, up.c.id, up.c.parent_id, up.c.depth, d.c.name, d.c.status).join(
        d, d.c.id == up.c.id
    )
    chains: dict[int, list[Any]] = {}
    for row in (await conn.execute(stmt)).all():
        chains.setdefault(int(row.start), []).append(row)
    recycled = [s for s, chain in chains.items() if any(r.status != "NORMAL" for r in chain)]
    parents = [s for s in chains if s not in set(recycled)]
    remade = {int(r.id): r for s in parents for r in chains[s]}
    ordered = sorted(remade.values(), key=lambda r: (int(r.depth), int(r.id)))
    return Frontier(
        [(int(r.id), int(r.parent_id), str(r.name)) for r in ordered], parents, recycled
    )


async def carry(conn: Connection, folder_ids: Sequence[int], *, source: int, target: int) -> int:
    """Carry what of the folders' subtrees is still in ``source`` (rows, versions, recycle
    items) into ``target``; returns how many nodes went."""
    if not folder_ids:
        return 0
    start = sa.select(d.c.id).where(d.c.space_id == source, d.c.parent_id.in_(list(folder_ids)))
    walk = start.cte("walk", recursive=True)
    walk = walk.union_all(
        sa.select(d.c.id).join(walk, d.c.parent_id == walk.c.id).where(d.c.space_id == source)
    )
    ids = sa.select(walk.c.id)
    count = int((await conn.execute(sa.select(sa.func.count()).select_from(walk))).scalar_one())
    await conn.execute(sa.update(v).where(v.c.dentry_id.in_(ids)).values(space_id=target))
    await recycle.move_to_space(conn, ids, target)
    await conn.execute(sa.update(d).where(d.c.id.in_(ids)).values(space_id=target))  # walked last
    return count


async def remake(
    conn: Connection,
    task_id: int,
    frontier: Frontier,
    *,
    root_id: int,
    home: tuple[int, int, str],
    space_id: int,
    operator: str,
    now: int,
) -> None:
    """Make the folder again in the source space: ``home`` (id, parent_id, name), and under it
    the ``frontier``'s folders to remake, numbered on from ``home``'s id. Each remade folder's
    new id is kept in the snapshot (``new_id``), for ``settle``."""
    home_id, home_parent, home_name = home
    new_ids = {root_id: home_id}
    rows = [(home_id, home_parent, home_name)]
    for n, (node, parent, name) in enumerate(frontier.remade, start=1):
        new_ids[node] = home_id + n
        rows.append((home_id + n, new_ids[parent], name))
    alike = {
        "space_id": space_id,
        "type": "FOLDER",
        "size": 0,
        "blob_id": None,
        "version": None,
        "status": "NORMAL",
        "creator_id": operator,
        "modifier_id": operator,
        "created_at": now,
        "modified_at": now,
        "descendants": 0,
        "stored": 0,
    }
    await conn.execute(
        sa.insert(d),
        [
            {**alike, "id": i, "parent_id": parent, "name": name, "uuid": uuid.uuid4().hex}
            for i, parent, name in rows
        ],
    )
    if frontier.remade:
        await conn.execute(
            sa.update(tn)
            .where(tn.c.task_id == task_id, tn.c.node_id == sa.bindparam("node"))
            .values(new_id=sa.bindparam("copy")),
            [{"node": node, "copy": new_ids[node]} for node, _, _ in frontier.remade],
        )
    # The new folders count in their ancestors, the source folder's new parent's chain among them.
    await dentries.grow(
        conn,
        sa.select(d.c.parent_id, sa.func.count(), sa.literal(0))
        .where(d.c.id.in_([i for i, _, _ in rows]))
        .group_by(d.c.parent_id),
    )


async def settle(
    conn: Connection, task_id: int, done: int, parents: Sequence[int], *, home_id: int
) -> None:
    """Put the nodes left whose parents are among ``parents`` (carried folders, or the task's
    root) under those parents' remade counterparts (the root's: ``home_id``); their weight
    leaves the carried folders' chains and joins the remade ones'."""
    moving = sa.select(tn.c.node_id).where(_left(task_id, done), tn.c.parent_id.in_(list(parents)))

    def weights(sign: int) -> Any:
        return (
            sa.select(
                d.c.parent_id,
                sign * sa.func.sum(1 + d.c.descendants),
                sign * sa.func.sum(d.c.stored),
            )
            .where(d.c.id.in_(moving), d.c.status == "NORMAL")
            .group_by(d.c.parent_id)
        )

    await dentries.grow(conn, weights(-1))
    counterpart = (
        sa.select(tn.c.new_id)
        .where(tn.c.task_id == task_id, tn.c.node_id == d.c.parent_id)
        .scalar_subquery()
    )
    await conn.execute(
        sa.update(d)
        .where(d.c.id.in_(moving))
        .values(parent_id=sa.func.coalesce(counterpart, home_id))
    )
    await dentries.grow(conn, weights(1))


async def in_space(conn: Connection, node_ids: Sequence[int], space_id: int) -> list[int]:
    """Those of the nodes that are in ``space_id``."""
    if not node_ids:
        return []
    stmt = sa.select(d.c.id).where(d.c.id.in_(list(node_ids)), d.c.space_id == space_id)
    return [int(i) for i in (await conn.execute(stmt)).scalars()]


async def give_back(conn: Connection, task_id: int, done: int, *, source: int, target: int) -> None:
    """The bytes of the nodes left (every version, those in the recycle bin too) go back from
    the target's quota, charged for them in the request, to the source's — even past its quota:
    they never left it."""
    left = (
        sa.select(sa.func.coalesce(sa.func.sum(v.c.size), 0))
        .select_from(v.join(tn, tn.c.node_id == v.c.dentry_id))
        .where(_left(task_id, done), v.c.space_id == source)
    )
    size = int((await conn.execute(left)).scalar_one())
    if size:
        for space_id, delta in ((target, -size), (source, size)):
            await conn.execute(
                sa.update(spaces)
                .where(spaces.c.id == space_id)
                .values(used_quota=spaces.c.used_quota + delta)
            )
