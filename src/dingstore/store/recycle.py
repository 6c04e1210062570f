"""Queries for recycle-bin items.

An item is one entry sent to the org's recycle bin (its dentry row marked DELETED, everything
under it hidden with it). Items nest: an entry recycled first, then its folder, makes two items,
the first under the second. ``under`` finds the items lying under given folders by walking up
from the items of one space — as many rows as the bin holds times their depth, never a subtree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import dentries as d
from dingstore.store.schema import recycle_items as ri

_NEWEST_FIRST = (ri.c.operator_time.desc(), ri.c.id.desc())


async def insert(conn: Connection, **values: Any) -> None:
    await conn.execute(sa.insert(ri).values(**values))


async def get_many(conn: Connection, corp_id: str, item_ids: Iterable[int]) -> list[RowMapping]:
    """The org's items among ``item_ids``."""
    stmt = sa.select(ri).where(ri.c.corp_id == corp_id, ri.c.id.in_(list(item_ids)))
    return list((await conn.execute(stmt)).mappings().all())


async def get(conn: Connection, corp_id: str, item_id: int) -> RowMapping | None:
    found = await get_many(conn, corp_id, [item_id])
    return found[0] if found else None


async def page(
    conn: Connection, corp_id: str, *, after: list[int] | None, limit: int
) -> list[RowMapping]:
    """One page of the org's items, newest first (by deletion time, then id)."""
    stmt = sa.select(ri).where(ri.c.corp_id == corp_id)
    if after is not None:
        stmt = stmt.where(
            sa.tuple_(ri.c.operator_time, ri.c.id)
            < sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    stmt = stmt.order_by(*_NEWEST_FIRST).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def of_org(
    conn: Connection, corp_id: str, *, before: int | None = None, limit: int | None = None
) -> list[RowMapping]:
    """The org's items (those deleted before ``before``, if given), oldest first."""
    stmt = sa.select(ri).where(ri.c.corp_id == corp_id)
    if before is not None:
        stmt = stmt.where(ri.c.operator_time < before)
    stmt = stmt.order_by(ri.c.operator_time, ri.c.id).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def under(
    conn: Connection, corp_id: str, space_id: int, folder_ids: Sequence[int]
) -> list[RowMapping]:
    """The org's items of the space that lie (at any depth) under one of the folders, each once,
    with ``stored``: the bytes of its dentry's subtree (what it keeps in the quota)."""
    if not folder_ids:
        return []
    start = (
        sa.select(ri.c.id.label("item"), d.c.parent_id.label("up"))
        .select_from(ri.join(d, d.c.id == ri.c.dentry_id))
        .where(ri.c.corp_id == corp_id, ri.c.space_id == space_id, d.c.parent_id != 0)
    )
    chain = start.cte("ancestry", recursive=True)
    chain = chain.union_all(
        sa.select(chain.c.item, d.c.parent_id)
        .join(chain, d.c.id == chain.c.up)
        .where(d.c.parent_id != 0)
    )
    found = sa.select(chain.c.item).where(chain.c.up.in_(list(folder_ids)))
    stmt = (
        sa.select(ri, d.c.stored)
        .select_from(ri.join(d, d.c.id == ri.c.dentry_id))
        .where(ri.c.id.in_(found))
    )
    return list((await conn.execute(stmt)).mappings().all())


async def with_children(conn: Connection, folder_ids: Sequence[int]) -> set[int]:
    """Those of the folders that hold anything, live or recycled (one statement)."""
    if not folder_ids:
        return set()
    child = d.alias("child")
    stmt = sa.select(d.c.id).where(
        d.c.id.in_(list(folder_ids)),
        sa.exists().where(child.c.space_id == d.c.space_id, child.c.parent_id == d.c.id),
    )
    return {int(i) for i in (await conn.execute(stmt)).scalars()}


async def drop(conn: Connection, item_ids: Iterable[int]) -> None:
    wanted = list(item_ids)
    if wanted:
        await conn.execute(sa.delete(ri).where(ri.c.id.in_(wanted)))


async def drop_for_dentries(conn: Connection, dentry_ids: Any) -> None:
    """Drop the items of these dentries (ids, or a select of them), if they have any."""
    await conn.execute(sa.delete(ri).where(ri.c.dentry_id.in_(dentry_ids)))


async def move_to_space(conn: Connection, dentry_ids: Any, space_id: int) -> None:
    """The items of these dentries (ids, or a select of them) now belong to ``space_id``."""
    await conn.execute(
        sa.update(ri).where(ri.c.dentry_id.in_(dentry_ids)).values(space_id=space_id)
    )
