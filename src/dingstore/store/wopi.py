"""Queries for online editing (WOPI): the locks office servers hold on files, and the
single-use refresh tokens of GetWebOfficeUrl. Every statement names the org (``corp_id``) but
housekeeping's ``purge_expired``, which sweeps every org."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import wopi_locks, wopi_refresh_tokens


async def lock_of(conn: Connection, corp_id: str, dentry_id: int, now: int) -> RowMapping | None:
    """The file's live lock (not expired at ``now``), or None."""
    stmt = sa.select(wopi_locks).where(
        wopi_locks.c.corp_id == corp_id,
        wopi_locks.c.dentry_id == dentry_id,
        wopi_locks.c.expires_at > now,
    )
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def set_lock(
    conn: Connection,
    *,
    corp_id: str,
    space_id: int,
    dentry_id: int,
    lock_id: str,
    union_id: str,
    now: int,
    expires_at: int,
) -> None:
    """Put ``lock_id`` on the file, replacing whatever lock (live or expired) it had."""
    await drop_lock(conn, corp_id, dentry_id)
    await conn.execute(
        sa.insert(wopi_locks).values(
            dentry_id=dentry_id,
            corp_id=corp_id,
            space_id=space_id,
            lock_id=lock_id,
            union_id=union_id,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def extend_lock(conn: Connection, corp_id: str, dentry_id: int, expires_at: int) -> None:
    await conn.execute(
        sa.update(wopi_locks)
        .where(wopi_locks.c.corp_id == corp_id, wopi_locks.c.dentry_id == dentry_id)
        .values(expires_at=expires_at)
    )


async def drop_lock(conn: Connection, corp_id: str, dentry_id: int) -> None:
    await conn.execute(
        sa.delete(wopi_locks).where(
            wopi_locks.c.corp_id == corp_id, wopi_locks.c.dentry_id == dentry_id
        )
    )


async def insert_refresh(conn: Connection, **values: object) -> None:
    await conn.execute(sa.insert(wopi_refresh_tokens).values(**values))


async def take_refresh(
    conn: Connection, corp_id: str, token_hash: str, now: int
) -> RowMapping | None:
    """The live refresh token of this hash, deleted as it is read: each is used once."""
    stmt = (
        sa.delete(wopi_refresh_tokens)
        .where(
            wopi_refresh_tokens.c.corp_id == corp_id,
            wopi_refresh_tokens.c.token_hash == token_hash,
            wopi_refresh_tokens.c.expires_at > now,
        )
        .returning(*wopi_refresh_tokens.c)
    )
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def purge_expired(conn: Connection, now: int) -> int:
    """Delete the expired locks and refresh tokens of every org; how many went."""
    gone = 0
    for table in (wopi_locks, wopi_refresh_tokens):
        result = await conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        gone += result.rowcount or 0
    return gone
