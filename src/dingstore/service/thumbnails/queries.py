"""GetDentryThumbnails: the signed URL of each file's thumbnail, or why there is none."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.blobs import base as blob_base
from dingstore.blobs.keys import thumbnail_key
from dingstore.clock import Clock
from dingstore.service import access, models, tree
from dingstore.service.thumbnails import making, rendering, sandbox
from dingstore.store import base, dentries
from dingstore.store import thumbnails as rows

MAX_IDS = 30


@dataclass(frozen=True, slots=True)
class Thumbnail:
    width: int
    height: int
    url: str


@dataclass(frozen=True, slots=True)
class ThumbnailItem:
    """One item of GetDentryThumbnails: its thumbnail, or the error code saying why none."""

    dentry_id: str
    thumbnail: Thumbnail | None = None
    error_code: str | None = None


class ThumbnailService:
    def __init__(
        self,
        db: base.BaseDatabase,
        store: blob_base.BaseBlobStore,
        *,
        limits: sandbox.Limits,
        url_expiry: int,
        clock: Clock,
    ) -> None:
        self._db = db
        self._store = store
        self._limits = limits
        self._expiry = url_expiry
        self._clock = clock

    def _made_for(self, row: RowMapping) -> bool:
        """Whether the file gets a thumbnail at all: its extension, and a size the sandbox
        takes."""
        size = int(row.size or 0)
        return 0 < size <= self._limits.max_bytes and rendering.supported(row.name)

    async def get_many(
        self, actor: models.Actor, space_id: str, dentry_ids: Sequence[str]
    ) -> list[ThumbnailItem]:
        """GetDentryThumbnails: for each of 1 to 30 files of the space, in the order asked, a
        signed URL of its current version's thumbnail, or why there is none: ``dentryNotExist``,
        ``permissionDenied`` (READER is needed, as for GetDentry), ``dentryFormatNotSupport``
        (a folder, a type thumbnails are not made for, a file too large, or content that could
        not be rendered), ``thumbnailNotExist`` (not made yet: ask again). A file stored before
        thumbnails existed gets its thumbnail asked for by the first call that meets it."""
        if not dentry_ids or len(dentry_ids) > MAX_IDS:
            raise errors.param_error("dentryIds", f"dentryIds must hold 1 to {MAX_IDS} ids")
        wanted = [tree.parse_id(i, "dentryIds") for i in dentry_ids]
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            found = {int(r.id): r for r in await dentries.get_many(conn, space.id, wanted)}
            reachable = {v.id for v in await tree.views(conn, actor, list(found.values()))}
            found = {k: r for k, r in found.items() if k in reachable}
            held = await access.roles(conn, actor, space, list(found))
            readable = {k: r for k, r in found.items() if access.allows(held[k], access.READ)}
            files = {k: r for k, r in readable.items() if r.type == "FILE" and self._made_for(r)}
            blob_ids = [int(r.blob_id) for r in files.values()]
            made = await rows.of_blobs(conn, actor.corp_id, blob_ids)
        missing = {int(r.blob_id): r for r in files.values() if int(r.blob_id) not in made}
        if missing:
            await self._ask(actor, list(missing.values()))
        items = []
        for text, number in zip(dentry_ids, wanted, strict=True):
            if number not in found:
                items.append(ThumbnailItem(text, error_code=errors.DENTRY_NOT_EXIST.code))
            elif number not in readable:
                items.append(ThumbnailItem(text, error_code=errors.PERMISSION_DENIED.code))
            elif number not in files:
                items.append(ThumbnailItem(text, error_code=errors.DENTRY_FORMAT_NOT_SUPPORT.code))
            else:
                blob_id = int(files[number].blob_id)
                items.append(self._item(text, blob_id, made.get(blob_id)))
        return items

    async def of_dentries(
        self, actor: models.Actor, found: Sequence[models.Dentry]
    ) -> dict[int, Thumbnail]:
        """The thumbnails made of these dentries' current versions (``withThumbnail`` of
        GetDentry, GetDentries, ListDentries, ListAllDentries), by dentry id; the caller already
        checked the operator may read them. Nothing is asked for here: a read stays a read."""
        ids = [x.id for x in found if x.type == "FILE" and rendering.supported(x.name)]
        if not ids:
            return {}
        async with self._db.read() as conn:
            ready = await rows.ready_of_dentries(conn, actor.corp_id, ids)
        return {
            int(r.dentry_id): Thumbnail(
                int(r.width),
                int(r.height),
                self._store.link(
                    thumbnail_key(int(r.source_blob_id)),
                    expires_in=self._expiry,
                    media_type=r.media_type,
                ),
            )
            for r in ready
        }

    def _item(self, text: str, blob_id: int, row: RowMapping | None) -> ThumbnailItem:
        if row is not None and row.status == rows.FAILED:
            return ThumbnailItem(text, error_code=errors.DENTRY_FORMAT_NOT_SUPPORT.code)
        if row is None or row.status != rows.READY:
            return ThumbnailItem(text, error_code=errors.THUMBNAIL_NOT_EXIST.code)
        key = thumbnail_key(blob_id)
        url = self._store.link(key, expires_in=self._expiry, media_type=row.media_type)
        return ThumbnailItem(text, Thumbnail(int(row.width), int(row.height), url))

    async def _ask(self, actor: models.Actor, files: Sequence[RowMapping]) -> None:
        """Ask for the thumbnails of files that have none (stored before thumbnails existed)."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            for row in files:
                blob_id, size = int(row.blob_id), int(row.size or 0)
                await making.request(conn, actor, blob_id, row.name, size, now=now, new=False)


def handlers(
    db: base.BaseDatabase,
    store: blob_base.BaseBlobStore,
    limits: sandbox.Limits,
    *,
    concurrency: int,
    prestart: bool = True,
    clock: Clock,
) -> dict[str, making.ThumbnailHandler]:
    """The THUMBNAIL task's handler, for the task engine. ``prestart``: a helper process is
    started with the workers, not when the first file comes."""
    box = sandbox.Sandbox(limits, concurrency=concurrency)
    handler = making.ThumbnailHandler(db, store, box, prestart=prestart, clock=clock)
    return {making.ThumbnailPayload.kind: handler}
