"""Queries for thumbnail rows (``schema.thumbnails``): one per file content (blob) of an org."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import blobs
from dingstore.store.schema import dentries as d
from dingstore.store.schema import thumbnails as t

PENDING, READY, FAILED = "PENDING", "READY", "FAILED"

_INSERT = base.prepared(
    sa.insert(t)
    .values(
        corp_id=sa.bindparam("corp_id"),
        source_blob_id=sa.bindparam("blob"),
        status=sa.literal_column(f"'{PENDING}'"),
        created_at=sa.bindparam("now"),
        modified_at=sa.bindparam("now"),
    )
    .returning(t.c.source_blob_id)
)


async def insert_pending(conn: Connection, corp_id: str, blob_id: int, now: int) -> None:
    """A thumbnail asked for: PENDING until a worker makes it."""
    await conn.execute(_INSERT, {"corp_id": corp_id, "blob": blob_id, "now": now})


async def of_blobs(
    conn: Connection, corp_id: str, blob_ids: Iterable[int]
) -> dict[int, RowMapping]:
    """The org's thumbnail rows of these blobs, by blob."""
    wanted = sorted(set(blob_ids))
    if not wanted:
        return {}
    stmt = sa.select(t).where(t.c.corp_id == corp_id, t.c.source_blob_id.in_(wanted))
    rows = (await conn.execute(stmt)).mappings().all()
    return {int(r.source_blob_id): r for r in rows}


async def get(conn: Connection, corp_id: str, blob_id: int) -> RowMapping | None:
    return (await of_blobs(conn, corp_id, [blob_id])).get(blob_id)


async def ready_of_dentries(
    conn: Connection, corp_id: str, dentry_ids: Sequence[int]
) -> list[RowMapping]:
    """The READY thumbnails of these files' current versions: ``dentry_id``, ``source_blob_id``,
    ``media_type``, ``width``, ``height``."""
    if not dentry_ids:
        return []
    stmt = (
        sa.select(
            d.c.id.label("dentry_id"), t.c.source_blob_id, t.c.media_type, t.c.width, t.c.height
        )
        .join(t, t.c.source_blob_id == d.c.blob_id)
        .where(d.c.id.in_(list(dentry_ids)), t.c.corp_id == corp_id, t.c.status == READY)
    )
    return list((await conn.execute(stmt)).mappings().all())


async def settle(conn: Connection, corp_id: str, blob_id: int, *, now: int, **outcome: Any) -> bool:
    """Record what became of a PENDING thumbnail (``status`` READY with its ``media_type``,
    ``width``, ``height``, ``size``; or FAILED with its ``reason``). False when there is no row
    (the blob was collected meanwhile)."""
    result = await conn.execute(
        sa.update(t)
        .where(t.c.corp_id == corp_id, t.c.source_blob_id == blob_id)
        .values(modified_at=now, **outcome)
    )
    return bool(result.rowcount)


async def hold_blob(conn: Connection, blob_id: int) -> bool:
    """Lock the row of a file content while it is still referenced (a no-op write: PostgreSQL
    holds the row until commit), so that two transactions asking for its thumbnail, or one
    asking while the last reference goes, take turns. False when nothing references it."""
    result = await conn.execute(
        sa.update(blobs)
        .where(blobs.c.id == blob_id, blobs.c.refcount > 0)
        .values(refcount=blobs.c.refcount)
    )
    return bool(result.rowcount)


async def referenced(conn: Connection, blob_id: int) -> bool:
    """Whether a file version still references the blob."""
    stmt = sa.select(blobs.c.refcount).where(blobs.c.id == blob_id)
    count = (await conn.execute(stmt)).scalar()
    return count is not None and int(count) > 0


async def of_sources(conn: Connection, blob_ids: Sequence[int]) -> list[RowMapping]:
    """Every org's thumbnail rows of these blobs (the collector's, which spans orgs)."""
    if not blob_ids:
        return []
    stmt = sa.select(t.c.corp_id, t.c.source_blob_id, t.c.status).where(
        t.c.source_blob_id.in_(list(blob_ids))
    )
    return list((await conn.execute(stmt)).mappings().all())


async def forget(conn: Connection, blob_ids: Sequence[int]) -> None:
    """Drop the thumbnail rows of blobs being collected (any org: the collector spans them)."""
    if blob_ids:
        await conn.execute(sa.delete(t).where(t.c.source_blob_id.in_(list(blob_ids))))
