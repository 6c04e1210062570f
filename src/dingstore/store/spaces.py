"""Queries for spaces and their quota."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection, Writer
from dingstore.store.schema import event_subscriptions, permissions, spaces

_BY_ID = sa.select(spaces).where(spaces.c.id == sa.bindparam("space_id"))


def _subscribed() -> Any:
    """Whether an app is subscribed to the space's changes, or to its org's: two probes of the
    subscriptions' key (store/events.py writes the events themselves)."""
    s = event_subscriptions.c

    def probe(scope: str, scope_id: Any) -> Any:  # a prefix of the key: one index lookup
        return sa.exists().where(
            s.corp_id == spaces.c.corp_id, s.scope == scope, s.scope_id == scope_id
        )

    org, space = probe("ORG", spaces.c.corp_id), probe("SPACE", sa.cast(spaces.c.id, sa.String))
    return sa.or_(org, space).label("subscribed")


_LOCKED = sa.select(spaces, _subscribed())
# One space's lock (a request's), built once. Not ``base.prepared``: SQLite's booleans convert.
_LOCK_ONE = _LOCKED.where(spaces.c.id == sa.bindparam("space_id")).with_for_update(key_share=True)


async def lock(conn: Connection, space_ids: Iterable[int]) -> dict[int, RowMapping]:
    """The spaces' rows, each locked until the transaction ends (PostgreSQL: ``FOR NO KEY
    UPDATE``, taken in the order of their ids so that two transactions locking the same spaces
    never deadlock; SQLite's single writer needs no lock): the tree lock of those spaces (see
    ``service/tree.py``). A row of a space that does not exist is left out. Reading the row
    and locking it are one statement: under READ COMMITTED the row returned is the one the last
    holder committed, and every later statement sees all it committed. The same statement
    finds whether anyone is subscribed to each space's changes (``Writer.subscribed``)."""
    ids = sorted(set(space_ids))
    if not ids:
        return {}
    if len(ids) == 1:
        rows = (await conn.execute(_LOCK_ONE, {"space_id": ids[0]})).mappings().all()
    else:
        stmt = (
            _LOCKED.where(spaces.c.id.in_(ids))
            .order_by(spaces.c.id)
            .with_for_update(key_share=True)
        )
        rows = (await conn.execute(stmt)).mappings().all()
    if isinstance(conn, Writer):
        conn.subscribed.update((int(r.id), bool(r.subscribed)) for r in rows)
    return {int(r.id): r for r in rows}


async def insert(conn: Connection, **values: Any) -> None:
    await conn.execute(sa.insert(spaces).values(**values))


async def get(conn: Connection, space_id: int) -> RowMapping | None:
    return (await conn.execute(_BY_ID, {"space_id": space_id})).mappings().first()  # type: ignore[no-any-return]


async def by_scene(
    conn: Connection, corp_id: str, app_id: str, scene: str, scene_id: str
) -> RowMapping | None:
    stmt = sa.select(spaces).where(
        spaces.c.corp_id == corp_id,
        spaces.c.app_id == app_id,
        spaces.c.scene == scene,
        spaces.c.scene_id == scene_id,
    )
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


_DELTA = sa.bindparam("delta", type_=sa.BigInteger)
_GIVE_BACK = base.prepared(
    sa.update(spaces)
    .where(spaces.c.id == sa.bindparam("space"))
    .values(used_quota=spaces.c.used_quota + _DELTA)
    .returning(spaces.c.id)
)
_CHARGE = base.prepared(
    sa.update(spaces)
    .where(
        spaces.c.id == sa.bindparam("space"),
        sa.or_(spaces.c.quota.is_(None), spaces.c.used_quota + _DELTA <= spaces.c.quota),
    )
    .values(used_quota=spaces.c.used_quota + _DELTA)
    .returning(spaces.c.id)
)


async def charge(conn: Connection, space_id: int, delta: int) -> bool:
    """Add ``delta`` bytes to the space's usage; False (and nothing changed) when it would pass
    the quota. Negative deltas always succeed."""
    stmt = _CHARGE if delta > 0 else _GIVE_BACK
    return bool((await conn.execute(stmt, {"space": space_id, "delta": delta})).rowcount)


async def usage(conn: Connection, corp_id: str, app_id: str | None = None) -> int:
    """Bytes used by the org's spaces (or one app's)."""
    stmt = sa.select(sa.func.coalesce(sa.func.sum(spaces.c.used_quota), 0)).where(
        spaces.c.corp_id == corp_id
    )
    if app_id is not None:
        stmt = stmt.where(spaces.c.app_id == app_id)
    return int((await conn.execute(stmt)).scalar_one())


async def visible(
    conn: Connection,
    corp_id: str,
    *,
    union_id: str | None,
    members: Collection[str],
    now: int,
    before: int | None = None,
    limit: int,
) -> Sequence[RowMapping]:
    """The org's spaces, newest first (by id; only those below ``before`` when given): all of
    them (``union_id`` None: an admin's view), or those the user created or owns or holds a live
    grant in by one of ``members`` (any node, any role: GetSpace's rule)."""
    stmt = sa.select(spaces).where(spaces.c.corp_id == corp_id, spaces.c.status == "NORMAL")
    if union_id is not None:
        p = permissions.c
        granted = sa.select(p.space_id).where(
            p.member.in_(list(members)),
            sa.or_(p.expires_at.is_(None), p.expires_at > now),
        )
        stmt = stmt.where(
            sa.or_(
                spaces.c.creator_id == union_id,
                spaces.c.owner_id == union_id,
                spaces.c.id.in_(granted.scalar_subquery()),
            )
        )
    if before is not None:
        stmt = stmt.where(spaces.c.id < before)
    stmt = stmt.order_by(spaces.c.id.desc()).limit(limit)
    return (await conn.execute(stmt)).mappings().all()
