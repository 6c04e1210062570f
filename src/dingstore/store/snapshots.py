"""A consistent copy of a running SQLite store, what that copy references, and the leases a
restored copy gives back (``service/backups.py``).

The copy is SQLite's online backup (``sqlite3.Connection.backup``) in one step: it reads the
database in one read transaction, so it is the store as of one commit, while the server and its
workers go on writing (in WAL mode a reader blocks no writer). The copy is then made a single
self-contained file (rollback journal), which ``serve`` turns back to WAL when it opens it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from dingstore.store import events as event_rows
from dingstore.store.schema import blobs, events, tasks, thumbnails, uploads

BUSY_TIMEOUT_MS = 30_000
CHUNK = 500  # ids in one IN (...)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite database URL; None for another database (or an in-memory one)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def copy_database(source: Path, target: Path) -> None:
    """Copy the database at ``source`` to the new file ``target``, as of one commit."""
    src = sqlite3.connect(source, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)  # every page in one step: one read transaction, one snapshot
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


@dataclass(frozen=True)
class Referenced:
    """What a copy of a store needs beside its database: the blobs its versions reference (by
    id), their thumbnails, and the bytes of uploads not yet committed."""

    revision: str
    blob_ids: list[int]
    thumbnail_ids: list[int]
    uploads: list[tuple[int, str | None]]  # (blob id, multipart upload id)


def _engine(path: Path) -> sa.Engine:
    return sa.create_engine(
        f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}, poolclass=sa.NullPool
    )


def referenced(path: Path) -> Referenced:
    """What the database at ``path`` (a copy no process writes) references."""
    engine = _engine(path)
    try:
        with engine.connect() as conn:
            revision = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            blob_ids = conn.execute(
                sa.select(blobs.c.id).where(blobs.c.refcount > 0).order_by(blobs.c.id)
            ).scalars()
            ready = conn.execute(
                sa.select(thumbnails.c.source_blob_id)
                .where(thumbnails.c.status == "READY")
                .distinct()
            ).scalars()
            pending = conn.execute(sa.select(uploads.c.blob_id, uploads.c.multipart_id)).all()
            return Referenced(
                revision=str(revision),
                blob_ids=[int(i) for i in blob_ids],
                thumbnail_ids=[int(i) for i in ready],
                uploads=[(int(b), m) for b, m in pending],
            )
    finally:
        engine.dispose()


def still_referenced(path: Path, blob_ids: Iterable[int]) -> list[int]:
    """Those of ``blob_ids`` that the live database at ``path`` references now (asked
    ``CHUNK`` ids a statement: SQLite caps a statement's parameters)."""
    wanted = list(blob_ids)
    engine = _engine(path)
    found: list[int] = []
    try:
        with engine.connect() as conn:
            for at in range(0, len(wanted), CHUNK):
                found += conn.execute(
                    sa.select(blobs.c.id).where(
                        blobs.c.id.in_(wanted[at : at + CHUNK]), blobs.c.refcount > 0
                    )
                ).scalars()
            return sorted(int(i) for i in found)
    finally:
        engine.dispose()


def free_leases(path: Path, now: int) -> tuple[int, int]:
    """In a restored copy, give back every lease: no process of the restored store holds one,
    so its workers take the tasks over, and its connections the events, at once. Returns
    (tasks, events) freed."""
    engine = _engine(path)
    try:
        with engine.begin() as conn:
            freed_tasks = conn.execute(
                sa.update(tasks)
                .where(tasks.c.lease_owner.is_not(None))
                .values(lease_owner=None, lease_expires_at=None)
            ).rowcount
            freed_events = conn.execute(
                sa.update(events)
                .where(events.c.lease_owner.is_not(None), events.c.status == event_rows.PENDING)
                .values(lease_owner=None, lease_until=None, due_at=now)
            ).rowcount
            return int(freed_tasks or 0), int(freed_events or 0)
    finally:
        engine.dispose()
