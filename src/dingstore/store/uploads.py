"""Queries for uploads in progress."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import uploads

# CommitFile's, built once.
_GET = base.prepared(sa.select(uploads).where(uploads.c.upload_key == sa.bindparam("key")))
_DELETE = base.prepared(
    sa.delete(uploads)
    .where(uploads.c.upload_key == sa.bindparam("key"))
    .returning(uploads.c.upload_key)
)


async def insert(conn: Connection, **values: Any) -> None:
    await conn.execute(sa.insert(uploads).values(**values))


async def get(conn: Connection, upload_key: str) -> RowMapping | None:
    result = await conn.execute(_GET, {"key": upload_key})
    return result.mappings().first()  # type: ignore[no-any-return]


async def delete(conn: Connection, upload_key: str) -> bool:
    return bool((await conn.execute(_DELETE, {"key": upload_key})).rowcount)


async def expired(conn: Connection, now: int, limit: int) -> list[RowMapping]:
    stmt = sa.select(uploads).where(uploads.c.expires_at <= now).limit(limit)
    return list((await conn.execute(stmt)).mappings().all())


async def of_org(conn: Connection, corp_id: str) -> list[RowMapping]:
    """The org's uploads in progress (a committed one leaves no row)."""
    stmt = sa.select(uploads).where(uploads.c.corp_id == corp_id)
    return list((await conn.execute(stmt)).mappings().all())


async def of_every_org(conn: Connection) -> list[RowMapping]:
    """Every upload in progress, of every org: for the test mode's whole-store reset only."""
    return list((await conn.execute(sa.select(uploads))).mappings().all())
