"""Queries for blob rows and their reference counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa

from dingstore.store import base
from dingstore.store.base import Connection
from dingstore.store.schema import blobs

_INSERT = base.prepared(
    sa.insert(blobs)
    .values(
        id=sa.bindparam("blob"),
        size=sa.bindparam("blob_size"),
        md5=sa.bindparam("blob_md5"),
        refcount=sa.literal_column("1"),
        created_at=sa.bindparam("now"),
    )
    .returning(blobs.c.id)
)


async def insert(conn: Connection, blob_id: int, size: int, md5: str | None, now: int) -> None:
    """A blob just stored, with its first reference."""
    await conn.execute(_INSERT, {"blob": blob_id, "blob_size": size, "blob_md5": md5, "now": now})


async def shift_refs(conn: Connection, deltas: Mapping[int, int], now: int) -> None:
    """Add ``deltas[blob_id]`` references to each blob (negative: drop them), in one statement
    whatever their number; a blob left with none is marked for collection at ``now``."""
    n = sa.bindparam("n", type_=sa.BigInteger)
    changes = [{"blob": blob_id, "n": k, "now": now} for blob_id, k in deltas.items() if k]
    if changes:
        await conn.execute(
            sa.update(blobs)
            .where(blobs.c.id == sa.bindparam("blob"))
            .values(
                refcount=blobs.c.refcount + n,
                released_at=sa.case(
                    (blobs.c.refcount + n <= 0, sa.bindparam("now", type_=sa.BigInteger)),
                    else_=None,
                ),
            ),
            changes,
        )


async def shift_refs_by(conn: Connection, deltas: sa.Select[Any], now: int) -> None:
    """``shift_refs`` for many blobs: ``deltas`` selects (blob_id, references to add) rows,
    and one joined update applies them all."""
    given = deltas.subquery()
    blob_id, n = given.c[0], given.c[1]
    await conn.execute(
        sa.update(blobs)
        .where(blobs.c.id == blob_id)
        .values(
            refcount=blobs.c.refcount + n,
            released_at=sa.case((blobs.c.refcount + n <= 0, now), else_=None),
        )
    )


async def add_refs(conn: Connection, blob_ids: Iterable[int]) -> None:
    """One more reference per id given."""
    await shift_refs(conn, Counter(blob_ids), now=0)


async def release(conn: Connection, blob_ids: Iterable[int], now: int) -> None:
    """Drop one reference per id given; a blob left with none is marked for collection."""
    await shift_refs(conn, {blob_id: -n for blob_id, n in Counter(blob_ids).items()}, now)


async def collectable(conn: Connection, released_before: int, limit: int) -> list[int]:
    stmt = (
        sa.select(blobs.c.id)
        .where(blobs.c.refcount <= 0, blobs.c.released_at < released_before)
        .limit(limit)
    )
    return [int(i) for i in (await conn.execute(stmt)).scalars().all()]


async def forget(conn: Connection, blob_ids: Iterable[int]) -> None:
    """Delete rows of blobs whose bytes are gone (only while still unreferenced)."""
    await conn.execute(
        sa.delete(blobs).where(blobs.c.id.in_(list(blob_ids)), blobs.c.refcount <= 0)
    )
