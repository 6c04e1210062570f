"""Queries for the web console: its sign-in links and sessions (the spaces a user can see:
``store/spaces.py`` ``visible``; the user's recent tasks: ``store/task_rows.py`` ``listed``).
Every statement names the org (``corp_id``) but ``get``, which looks a token's hash up (the hash
is unique), and ``purge_expired``, housekeeping's sweep of every org."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import console_sessions

s = console_sessions.c


async def insert(
    conn: Connection,
    *,
    token_hash: str,
    corp_id: str,
    union_id: str,
    kind: str,
    now: int,
    expires_at: int,
) -> None:
    await conn.execute(
        sa.insert(console_sessions).values(
            token_hash=token_hash,
            corp_id=corp_id,
            union_id=union_id,
            kind=kind,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def get(conn: Connection, token_hash: str, kind: str, now: int) -> RowMapping | None:
    """The live (unexpired) link or session of that hash, or None."""
    stmt = sa.select(console_sessions).where(
        s.token_hash == token_hash, s.kind == kind, s.expires_at > now
    )
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def take(conn: Connection, corp_id: str, token_hash: str, kind: str) -> bool:
    """Delete the row; whether it was there (a link is used once: one of two racing sign-ins
    finds it gone)."""
    stmt = sa.delete(console_sessions).where(
        s.corp_id == corp_id, s.token_hash == token_hash, s.kind == kind
    )
    return bool((await conn.execute(stmt)).rowcount)


async def purge_expired(conn: Connection, now: int) -> int:
    stmt = sa.delete(console_sessions).where(s.expires_at <= now)
    return int((await conn.execute(stmt)).rowcount or 0)
