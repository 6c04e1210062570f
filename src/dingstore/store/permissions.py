"""Queries for grants and group memberships.

A node's effective rank for a set of member keys is the highest rank granted to any of them on
the node, on one of its ancestors, or on the space (``dentry_id`` 0): one recursive walk up the
node's chain (as many index reads as it is deep) joined with the grants of the space on the
primary key's (space_id, dentry_id) prefix. Expired grants count for nothing and are deleted by
housekeeping.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import dentries as d
from dingstore.store.schema import group_members as gm
from dingstore.store.schema import permissions as p
from dingstore.store.schema import spaces as sp


def _live(now: int) -> Any:
    return sa.or_(p.c.expires_at.is_(None), p.c.expires_at > now)


def _chains(space_id: int, node_ids: Collection[int]) -> Any:
    """(start, id) for each node and each of its ancestors below the root, and (start, 0) for
    the space itself (node 0 is just the space)."""
    start = sa.select(d.c.id.label("start"), d.c.id, d.c.parent_id).where(
        d.c.space_id == space_id, d.c.id.in_([n for n in node_ids if n])
    )
    chain = start.cte("chain", recursive=True)
    chain = chain.union_all(
        sa.select(chain.c.start, d.c.id, d.c.parent_id).join(chain, d.c.id == chain.c.parent_id)
    )
    parts = [
        sa.select(chain.c.start, chain.c.id),
        sa.select(chain.c.start, sa.literal(0, sa.BigInteger)).where(chain.c.id == chain.c.start),
    ]
    if 0 in node_ids:
        parts.append(sa.select(sa.literal(0, sa.BigInteger), sa.literal(0, sa.BigInteger)))
    return sa.union_all(*parts).subquery("chains")


async def ranks(
    conn: Connection, space_id: int, node_ids: Collection[int], members: Sequence[str], now: int
) -> dict[int, int]:
    """The highest live rank each node holds for ``members`` (directly, inherited, or on the
    whole space); nodes holding none are left out. Node 0 is the space itself."""
    if not node_ids or not members:
        return {}
    chains = _chains(space_id, node_ids)
    stmt = (
        sa.select(chains.c.start, sa.func.max(p.c.rank))
        .join(p, sa.and_(p.c.space_id == space_id, p.c.dentry_id == chains.c.id))
        .where(p.c.member.in_(list(members)), _live(now))
        .group_by(chains.c.start)
    )
    return {int(n): int(r) for n, r in (await conn.execute(stmt)).all()}


async def rank_on(
    conn: Connection, space_id: int, node_ids: Collection[int], members: Sequence[str], now: int
) -> int | None:
    """The highest live rank ``members`` hold on any of ``node_ids`` (a node's own chain, known
    already: no walk)."""
    if not members:
        return None
    stmt = sa.select(sa.func.max(p.c.rank)).where(
        p.c.space_id == space_id,
        p.c.dentry_id.in_(list(node_ids)),
        p.c.member.in_(list(members)),
        _live(now),
    )
    found = (await conn.execute(stmt)).scalar()
    return None if found is None else int(found)


async def granted_nodes(
    conn: Connection, space_id: int, members: Sequence[str], now: int, *, min_rank: int = 0
) -> dict[int, int]:
    """The nodes of the space on which ``members`` hold live grants of at least ``min_rank``,
    with the highest rank granted there."""
    if not members:
        return {}
    stmt = (
        sa.select(p.c.dentry_id, sa.func.max(p.c.rank))
        .where(
            p.c.space_id == space_id,
            p.c.member.in_(list(members)),
            p.c.rank >= min_rank,
            _live(now),
        )
        .group_by(p.c.dentry_id)
    )
    return {int(n): int(r) for n, r in (await conn.execute(stmt)).all()}


async def shared_nodes(
    conn: Connection, corp_id: str, space_id: int, members: Sequence[str], now: int, limit: int
) -> list[int]:
    """The nodes (not the space itself) of the org's space on which ``members`` hold live
    grants, by id, at most ``limit``: what a user who may not open the space's root was given
    in it."""
    if not members:
        return []
    stmt = (
        sa.select(p.c.dentry_id)
        .distinct()
        .join(sp, sp.c.id == p.c.space_id)
        .where(
            sp.c.corp_id == corp_id,
            p.c.space_id == space_id,
            p.c.dentry_id != 0,
            p.c.member.in_(list(members)),
            _live(now),
        )
        .order_by(p.c.dentry_id)
        .limit(limit)
    )
    return [int(n) for n in (await conn.execute(stmt)).scalars()]


async def nodes_under(conn: Connection, space_id: int, root_id: int) -> list[int]:
    """The nodes at or under ``root_id`` that carry grants, found by walking up from the space's
    granted nodes (as many rows as grants times their depth, never the subtree)."""
    granted = sa.select(p.c.dentry_id).where(p.c.space_id == space_id, p.c.dentry_id != 0)
    start = sa.select(d.c.id.label("start"), d.c.id, d.c.parent_id).where(
        d.c.id.in_(granted.distinct().scalar_subquery())
    )
    up = start.cte("up", recursive=True)
    up = up.union_all(
        sa.select(up.c.start, d.c.id, d.c.parent_id)
        .join(up, d.c.id == up.c.parent_id)
        .where(up.c.id != root_id)
    )
    stmt = sa.select(up.c.start).where(up.c.id == root_id).distinct()
    return [int(i) for i in (await conn.execute(stmt)).scalars().all()]


async def move(conn: Connection, node_ids: Sequence[int], from_space: int, to_space: int) -> None:
    """Carry the grants on ``node_ids`` to the space the nodes moved to."""
    if node_ids:
        await conn.execute(
            sa.update(p)
            .where(p.c.space_id == from_space, p.c.dentry_id.in_(list(node_ids)))
            .values(space_id=to_space)
        )


async def drop(conn: Connection, space_id: int | None, node_ids: Any) -> None:
    """Delete every grant on the nodes (a sequence of ids, or a select of them); ``space_id``
    None: whatever space the grants name (a merging move across spaces has carried the grants of
    folders it then removes from the source)."""
    ids = node_ids if isinstance(node_ids, sa.Select) else list(node_ids)
    where: Any = p.c.dentry_id.in_(ids)
    if space_id is not None:
        where = sa.and_(p.c.space_id == space_id, where)
    await conn.execute(sa.delete(p).where(where))


# A grant: inserted if not there yet (one statement), else renewed (``upsert``).
_GRANT_COLUMNS = (
    "space_id", "dentry_id", "member", "role_id", "rank", "member_type", "member_id",
    "member_corp_id", "expires_at", "operator_id", "created_at", "modified_at",
)  # fmt: skip
_GRANT = {c: sa.bindparam(f"g_{c}", type_=p.c[c].type) for c in _GRANT_COLUMNS}
_GRANT_KEY = sa.and_(*(p.c[c] == _GRANT[c] for c in ("space_id", "dentry_id", "member", "role_id")))
_INSERT_GRANT = base.prepared(
    sa.insert(p)
    .from_select(
        list(_GRANT_COLUMNS),
        sa.select(*(b.label(c) for c, b in _GRANT.items())).where(~sa.exists().where(_GRANT_KEY)),
    )
    .returning(p.c.role_id)
)
_RENEW_GRANT = base.prepared(
    sa.update(p)
    .where(_GRANT_KEY)
    .values(
        expires_at=_GRANT["expires_at"],
        operator_id=_GRANT["operator_id"],
        modified_at=_GRANT["modified_at"],
    )
    .returning(p.c.role_id)
)


async def upsert(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Grant each row's role to its member on its node; a grant already there takes the row's
    expiry, operator and modification time. A new grant costs one statement (the insert
    checks that none is there), one already there two."""
    for row in rows:
        params = {f"g_{c}": row[c] for c in _GRANT_COLUMNS}
        if not (await conn.execute(_INSERT_GRANT, params)).rowcount:
            await conn.execute(_RENEW_GRANT, params)


async def revoke(
    conn: Connection,
    space_id: int,
    dentry_id: int,
    members: Iterable[str],
    *,
    role_id: str | None = None,
    keep_role: str | None = None,
) -> None:
    """Delete the members' grants on the node: of ``role_id`` only, or all but ``keep_role``."""
    stmt = sa.delete(p).where(
        p.c.space_id == space_id, p.c.dentry_id == dentry_id, p.c.member.in_(list(members))
    )
    if role_id is not None:
        stmt = stmt.where(p.c.role_id == role_id)
    if keep_role is not None:
        stmt = stmt.where(p.c.role_id != keep_role)
    await conn.execute(stmt)


async def page(
    conn: Connection,
    space_id: int,
    dentry_id: int,
    now: int,
    *,
    roles: Sequence[str] | None,
    members: Sequence[str] | None,
    after: list[str] | None,
    limit: int,
) -> list[RowMapping]:
    """The live grants set on the node (not inherited ones), by member then role: of ``roles``
    and ``members`` only, if given."""
    stmt = sa.select(p).where(p.c.space_id == space_id, p.c.dentry_id == dentry_id, _live(now))
    if roles is not None:
        stmt = stmt.where(p.c.role_id.in_(list(roles)))
    if members is not None:
        stmt = stmt.where(p.c.member.in_(list(members)))
    if after is not None:
        stmt = stmt.where(
            sa.tuple_(p.c.member, p.c.role_id)
            > sa.tuple_(sa.literal(after[0]), sa.literal(after[1]))
        )
    stmt = stmt.order_by(p.c.member, p.c.role_id).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def delete_expired(conn: Connection, now: int) -> int:
    result = await conn.execute(sa.delete(p).where(p.c.expires_at <= now))
    return int(result.rowcount or 0)


# --- group memberships ------------------------------------------------------------------------


async def groups_of(conn: Connection, union_id: str) -> list[RowMapping]:
    """(corp_id, kind, group_id) of every department, tag and conversation the user is in."""
    stmt = sa.select(gm.c.corp_id, gm.c.kind, gm.c.group_id).where(gm.c.union_id == union_id)
    return list((await conn.execute(stmt)).mappings().all())


async def add_member(
    conn: Connection, corp_id: str, kind: str, group_id: str, union_id: str
) -> None:
    found = await conn.execute(
        sa.select(gm.c.union_id).where(
            gm.c.corp_id == corp_id,
            gm.c.kind == kind,
            gm.c.group_id == group_id,
            gm.c.union_id == union_id,
        )
    )
    if found.first() is None:
        await conn.execute(
            sa.insert(gm).values(corp_id=corp_id, kind=kind, group_id=group_id, union_id=union_id)
        )


async def remove_member(
    conn: Connection, corp_id: str, kind: str, group_id: str, union_id: str
) -> bool:
    result = await conn.execute(
        sa.delete(gm).where(
            gm.c.corp_id == corp_id,
            gm.c.kind == kind,
            gm.c.group_id == group_id,
            gm.c.union_id == union_id,
        )
    )
    return bool(result.rowcount)


async def members_of(conn: Connection, corp_id: str, kind: str | None = None) -> list[RowMapping]:
    stmt = sa.select(gm).where(gm.c.corp_id == corp_id)
    if kind is not None:
        stmt = stmt.where(gm.c.kind == kind)
    stmt = stmt.order_by(gm.c.kind, gm.c.group_id, gm.c.union_id)
    return list((await conn.execute(stmt)).mappings().all())
