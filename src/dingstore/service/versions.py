"""File versions: adding one (OVERWRITE, copy onto a file, revert), keeping at most
``version_retention`` of them, ListDentryVersions and RevertDentryVersion."""

from __future__ import annotations

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, tasks, tree
from dingstore.service.events import changes
from dingstore.store import base, blobs, dentries, permissions, properties
from dingstore.store.base import Connection

VERSIONS_DEFAULT, VERSIONS_MAX = 100, 100


async def add(
    conn: Connection,
    modifier_id: str,
    row: RowMapping,
    *,
    blob_id: int,
    size: int,
    now: int,
    retention: int,
    new_blob: bool = False,
) -> None:
    """Make ``blob_id`` the file's next version. The space is charged ``size``; the blob gains a
    reference unless ``new_blob`` (a blob just stored, whose first reference this is)."""
    await tree.charge(conn, int(row.space_id), size)
    if not new_blob:
        await blobs.add_refs(conn, [blob_id])
    number = int(row.version) + 1
    await dentries.insert_version(
        conn,
        dentry_id=int(row.id),
        version=number,
        space_id=int(row.space_id),
        name=row.name,
        size=size,
        blob_id=blob_id,
        modifier_id=modifier_id,
        created_at=now,
    )
    await dentries.grow_chain(conn, int(row.id), 0, size)
    await dentries.update(
        conn,
        int(row.id),
        size=size,
        blob_id=blob_id,
        version=number,
        modifier_id=modifier_id,
        modified_at=now,
    )
    await _prune(conn, row, keep=retention, now=now)


async def _prune(conn: Connection, row: RowMapping, *, keep: int, now: int) -> None:
    old = (await dentries.versions_of(conn, int(row.id)))[keep:]
    if old:
        await blobs.release(conn, [int(v.blob_id) for v in old], now)
        freed = sum(int(v.size) for v in old)
        await tree.charge(conn, int(row.space_id), -freed)
        await dentries.delete_versions(conn, int(row.id), [int(v.version) for v in old])
        await dentries.grow_chain(conn, int(row.id), 0, -freed)


async def purge_file(conn: Connection, row: RowMapping, now: int) -> None:
    """Remove a file for good: its versions, their blob references, its quota, its properties
    and the grants on it."""
    old = await dentries.versions_of(conn, int(row.id))
    freed = sum(int(v.size) for v in old)
    await blobs.release(conn, [int(v.blob_id) for v in old], now)
    await tree.charge(conn, int(row.space_id), -freed)
    await dentries.delete_versions(conn, int(row.id), [int(v.version) for v in old])
    await properties.drop_all(conn, int(row.id))
    await permissions.drop(conn, int(row.space_id), [int(row.id)])
    await dentries.delete(conn, int(row.id))
    await dentries.grow_chain(conn, int(row.parent_id), -1, -freed)


class VersionService:
    def __init__(self, db: base.BaseDatabase, *, retention: int, clock: Clock) -> None:
        self._db = db
        self._retention = retention
        self._clock = clock

    async def list(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        *,
        next_token: str | None,
        max_results: int | None,
    ) -> models.Page:
        """Every stored version of a file, newest (the current one) first."""
        limit = tree.page_size(max_results, default=VERSIONS_DEFAULT, maximum=VERSIONS_MAX)
        after = tree.decode_token(next_token, 1)
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.READ)
            if row.type != "FILE":
                raise errors.param_error("dentryId", "only files have versions")
            found = await dentries.page_versions(
                conn, int(row.id), before=after[0] if after else None, limit=limit + 1
            )
            current = await tree.view(conn, actor, row)
        items = [
            models.Dentry(
                **{
                    **{f: getattr(current, f) for f in models.Dentry.__slots__},  # type: ignore[attr-defined]
                    "name": v.name,
                    "size": int(v.size),
                    "version": int(v.version),
                    "modifier_id": v.modifier_id,
                    "modified_at": int(v.created_at),
                    "path": current.path.rsplit("/", 1)[0] + "/" + v.name,
                }
            )
            for v in found[:limit]
        ]
        token = tree.encode_token([int(found[limit - 1].version)]) if len(found) > limit else None
        return models.Page(items, token)

    async def revert(
        self, actor: models.Actor, space_id: str, dentry_id: str, version: int
    ) -> None:
        """A new version whose content is that of ``version`` (history is never rewritten)."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            if row.type != "FILE":
                raise errors.param_error("dentryId", "only files have versions")
            await tasks.check_free(conn, actor.corp_id, int(row.id))
            old = await dentries.version(conn, int(row.id), version)
            if old is None:
                raise errors.PARAM_ERROR.error(f"file {dentry_id} has no version {version}")
            await add(
                conn,
                actor.union_id,
                row,
                blob_id=int(old.blob_id),
                size=int(old.size),
                now=now,
                retention=self._retention,
            )
            await changes.emit_by(
                conn, actor, space.id, now, changes.of(changes.UPDATE, changes.REVERT, row)
            )
