"""Idempotency keys (docs/tasks.md#idempotency): the first answer of a request sent with an
``Idempotency-Key`` header, per org and app."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import idempotency_keys as k


def _key(corp_id: str, app_id: str, key: str) -> sa.ColumnElement[bool]:
    return sa.and_(k.c.corp_id == corp_id, k.c.app_id == app_id, k.c.key == key)


async def get(conn: Connection, corp_id: str, app_id: str, key: str) -> RowMapping | None:
    stmt = sa.select(k).where(_key(corp_id, app_id, key))
    return (await conn.execute(stmt)).mappings().first()


async def claim(
    conn: Connection,
    corp_id: str,
    app_id: str,
    key: str,
    *,
    operation: str,
    request_hash: str,
    now: int,
    expires_at: int,
) -> None:
    """Record that a request with this key runs (no answer yet); a concurrent claim of the same
    key fails on the primary key (``errors.Conflict``)."""
    await conn.execute(
        sa.insert(k).values(
            corp_id=corp_id,
            app_id=app_id,
            key=key,
            operation=operation,
            request_hash=request_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def answer(
    conn: Connection,
    corp_id: str,
    app_id: str,
    key: str,
    claimed_at: int,
    status_code: int,
    response: str,
) -> None:
    """The answer of the claim made at ``claimed_at``: none if that claim was taken over."""
    await conn.execute(
        sa.update(k)
        .where(_key(corp_id, app_id, key), k.c.created_at == claimed_at)
        .values(status_code=status_code, response=response)
    )


async def drop(
    conn: Connection, corp_id: str, app_id: str, key: str, claimed_at: int | None = None
) -> None:
    """The key's row; with ``claimed_at``, only if it is still that claim."""
    clause = _key(corp_id, app_id, key)
    if claimed_at is not None:
        clause = sa.and_(clause, k.c.created_at == claimed_at)
    await conn.execute(sa.delete(k).where(clause))


async def purge_expired(conn: Connection, now: int) -> int:
    result = await conn.execute(sa.delete(k).where(k.c.expires_at < now))
    return result.rowcount or 0
