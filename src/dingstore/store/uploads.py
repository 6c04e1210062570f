"""Queries for uploads in progress."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store.base import Connection
from dingstore.store.schema import uploads


async def insert(conn: Connection, **values: Any) -> None:
    await conn.execute(sa.insert(uploads).values(**values))


async def get(conn: Connection, upload_key: str) -> RowMapping | None:
    stmt = sa.select(uploads).where(uploads.c.upload_key == upload_key)
    return (await conn.execute(stmt)).mappings().first()  # type: ignore[no-any-return]


async def delete(conn: Connection, upload_key: str) -> bool:
    result = await conn.execute(sa.delete(uploads).where(uploads.c.upload_key == upload_key))
    return bool(result.rowcount)


async def expired(conn: Connection, now: int, limit: int) -> list[RowMapping]:
    stmt = sa.select(uploads).where(uploads.c.expires_at <= now).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())
