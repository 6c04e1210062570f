"""Queries for app properties of dentries."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import app_properties as p

_OF = (
    sa.select(p)
    .where(p.c.dentry_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(p.c.owner_id, p.c.name)
)
# One node's (a request's view of the node it wrote, most often), prepared.
_OF_ONE = base.prepared(
    sa.select(p).where(p.c.dentry_id == sa.bindparam("id")).order_by(p.c.owner_id, p.c.name)
)


async def of(conn: Connection, dentry_ids: Iterable[int]) -> list[RowMapping]:
    ids = list(dentry_ids)
    if not ids:
        return []
    if len(ids) == 1:
        return list((await conn.execute(_OF_ONE, {"id": ids[0]})).mappings().all())
    return list((await conn.execute(_OF, {"ids": ids})).mappings().all())


async def names(conn: Connection, dentry_id: int, owner_id: str) -> set[str]:
    stmt = sa.select(p.c.name).where(p.c.dentry_id == dentry_id, p.c.owner_id == owner_id)
    return set((await conn.execute(stmt)).scalars().all())


async def put(
    conn: Connection, dentry_id: int, owner_id: str, name: str, value: str, visibility: str
) -> None:
    """Set the property: a new one costs one statement (the insert checks that none is there),
    one already there two."""
    where = (p.c.dentry_id == dentry_id, p.c.owner_id == owner_id, p.c.name == name)
    row = {
        "dentry_id": dentry_id,
        "owner_id": owner_id,
        "name": name,
        "value": value,
        "visibility": visibility,
    }
    given = sa.select(*(sa.literal(v, p.c[k].type).label(k) for k, v in row.items()))
    inserted = await conn.execute(
        sa.insert(p).from_select(list(row), given.where(~sa.exists().where(*where)))
    )
    if not inserted.rowcount:
        await conn.execute(sa.update(p).where(*where).values(value=value, visibility=visibility))


async def remove(conn: Connection, dentry_id: int, owner_id: str, names: Iterable[str]) -> int:
    """Remove the app's properties of those names from the dentry; returns how many were."""
    result = await conn.execute(
        sa.delete(p).where(
            p.c.dentry_id == dentry_id, p.c.owner_id == owner_id, p.c.name.in_(list(names))
        )
    )
    return result.rowcount or 0


async def copy(conn: Connection, source_id: int, target_id: int) -> None:
    cols = [p.c.owner_id, p.c.name, p.c.value, p.c.visibility]
    await conn.execute(
        sa.insert(p).from_select(
            ["dentry_id", "owner_id", "name", "value", "visibility"],
            sa.select(sa.literal(target_id), *cols).where(p.c.dentry_id == source_id),
        )
    )


async def drop_all(conn: Connection, dentry_id: int) -> None:
    await conn.execute(sa.delete(p).where(p.c.dentry_id == dentry_id))
