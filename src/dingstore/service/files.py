"""Uploads and downloads (spec §6 D): upload infos, multipart, CommitFile, download infos, and
the collection of expired uploads and unreferenced blobs.

The bytes of an upload go straight to their final object, ``blobs/<blobId>`` (or to its parts),
through the blob store's transfer URL; CommitFile checks that they are all there, then makes
them a file version in one transaction. Nothing is stored twice and nothing passes through a
service's memory.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from dingstore import errors
from dingstore.blobs import base as blob_base
from dingstore.blobs.keys import blob_key, thumbnail_key
from dingstore.clock import Clock
from dingstore.service import access, models, names, tasks, tree, versions
from dingstore.service.events import changes
from dingstore.service.properties import PropertyInput, write_properties
from dingstore.service.thumbnails import making as thumbnails
from dingstore.store import base, blobs, dentries, ids, uploads
from dingstore.store import thumbnails as thumbnail_rows

MAX_SINGLE = 5 * 1024**3
MIN_PART, MAX_PARTS, PARTS_PER_CALL = 100 * 1024, 10_000, 30
PROTOCOLS = ("HEADER_SIGNATURE",)
DRIVERS = ("DINGTALK", "ALIDOC", "UNKNOWN")


@dataclass(frozen=True, slots=True)
class PreCheck:
    md5: str | None = None
    size: int | None = None
    parent_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class UploadInfo:
    upload_key: str
    transfer: blob_base.Transfer | None


@dataclass(frozen=True, slots=True)
class Commit:
    upload_key: str
    name: str
    parent_id: str
    overwrite_dentry_id: str | None = None
    size: int | None = None
    conflict_strategy: str | None = None
    app_properties: Sequence[PropertyInput] = ()


@dataclass(frozen=True, slots=True)
class Download:
    key: str  # the blob store's key of the bytes
    name: str  # the file's name (of that version)


class FileService:
    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        store: blob_base.BaseBlobStore,
        *,
        version_retention: int,
        upload_ttl: int,
        transfer_expiry: int,
        blob_grace: int,
        clock: Clock,
    ) -> None:
        self._db = db
        self._clock = clock
        self._ids = id_allocator
        self._blobs = store
        self._retention = version_retention
        self._upload_ttl_ms = upload_ttl * 1000
        self._expiry = transfer_expiry
        self._grace_ms = blob_grace * 1000

    # --- starting an upload -------------------------------------------------------------------

    async def upload_info(
        self,
        actor: models.Actor,
        space_id: str,
        *,
        protocol: str | None,
        multipart: bool | None,
        storage_driver: str | None,
        check: PreCheck,
    ) -> UploadInfo:
        """GetFileUploadInfo. With ``multipart`` true it opens a multipart upload (as
        InitMultipartFileUpload does) and returns no transfer: parts come from
        GetMultipartFileUploadInfos."""
        if protocol not in PROTOCOLS:
            raise errors.param_error("protocol", "protocol must be HEADER_SIGNATURE")
        if multipart is None:
            raise errors.param_error("multipart", "multipart is required")
        if not multipart and check.size is not None and check.size > MAX_SINGLE:
            raise errors.param_error("multipart", "files over 5 GB must be uploaded in parts")
        return await self._start(actor, space_id, storage_driver, check, multipart=multipart)

    async def init_multipart(
        self, actor: models.Actor, space_id: str, storage_driver: str | None, check: PreCheck
    ) -> str:
        """InitMultipartFileUpload: opens a multipart upload (checked as GetFileUploadInfo checks
        its pre-check) and returns its uploadKey; the parts' targets come from ``part_infos``."""
        return (
            await self._start(actor, space_id, storage_driver, check, multipart=True)
        ).upload_key

    async def _start(
        self,
        actor: models.Actor,
        space_id: str,
        storage_driver: str | None,
        check: PreCheck,
        *,
        multipart: bool,
    ) -> UploadInfo:
        if storage_driver is not None and storage_driver not in DRIVERS:
            raise errors.param_error("storageDriver", f"storageDriver must be one of {DRIVERS}")
        if check.name is not None:
            names.valid(check.name)
        if check.size is not None and check.size < 0:
            raise errors.param_error("size", "size must not be negative")
        blob_id = await self._ids.next()
        key = secrets.token_urlsafe(24)
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            parent = None
            if check.parent_id is not None:
                parent = tree.parse_id(check.parent_id, "parentId", root_ok=True)
                await tree.folder_for(conn, actor, space, parent, access.WRITE)
            elif not await access.holds_any(conn, actor, space, access.WRITE):
                raise access.denied(access.WRITE, 0)
            quota, used = space.quota, space.used_quota
            if check.size is not None and quota is not None and used + check.size > quota:
                raise errors.SPACE_QUOTA_INSUFFICIENT.error("the space's quota is used up")
        multipart_id = await self._blobs.start_multipart(blob_key(blob_id)) if multipart else None
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await uploads.insert(
                conn,
                upload_key=key,
                corp_id=actor.corp_id,
                space_id=space.id,
                creator_id=actor.union_id,
                blob_id=blob_id,
                multipart_id=multipart_id,
                size=check.size,
                md5=check.md5,
                name=check.name,
                parent_id=parent,
                created_at=now,
                expires_at=now + self._upload_ttl_ms,
            )
        transfer = None
        if not multipart:
            transfer = self._blobs.upload_target(
                blob_key(blob_id),
                expires_in=self._url_life(now + self._upload_ttl_ms),
                size=check.size,
            )
        return UploadInfo(key, transfer)

    async def part_infos(
        self, actor: models.Actor, upload_key: str | None, part_numbers: Sequence[int] | None
    ) -> list[tuple[int, blob_base.Transfer]]:
        """GetMultipartFileUploadInfos: a transfer target per part number (≤ 30 a call)."""
        numbers = list(part_numbers or ())
        if not numbers or len(numbers) > PARTS_PER_CALL or len(set(numbers)) != len(numbers):
            raise errors.param_error(
                "partNumbers", "partNumbers must hold 1 to 30 distinct numbers"
            )
        if any(not 1 <= n <= MAX_PARTS for n in numbers):
            raise errors.param_error("partNumbers", f"part numbers run from 1 to {MAX_PARTS}")
        row = await self._upload(actor, upload_key)
        if row.multipart_id is None:
            raise errors.param_error("uploadKey", "this uploadKey is not a multipart upload")
        key = blob_key(int(row.blob_id))
        life = self._url_life(int(row.expires_at))
        # No part is larger than the whole declared in the pre-check.
        return [
            (
                n,
                self._blobs.part_target(
                    key, row.multipart_id, n, expires_in=life, max_size=row.size
                ),
            )
            for n in numbers
        ]

    async def _upload(self, actor: models.Actor, upload_key: str | None) -> Any:
        if not upload_key:
            raise errors.param_error("uploadKey", "uploadKey is required")
        async with self._db.read() as conn:
            row = await uploads.get(conn, upload_key)
        if row is None or row.corp_id != actor.corp_id or row.expires_at <= self._clock.now_ms():
            raise errors.param_error("uploadKey", "unknown or expired uploadKey")
        return row

    def _url_life(self, upload_expires_at: int) -> int:
        """How long a transfer URL made now for an upload lives: never past the upload itself, so
        that no URL still takes bytes once the upload can be collected (at least 1 second)."""
        return max(1, min(self._expiry, (upload_expires_at - self._clock.now_ms()) // 1000))

    # --- committing -------------------------------------------------------------------------

    async def commit(self, actor: models.Actor, space_id: str, commit: Commit) -> models.Dentry:
        """CommitFile: the uploaded bytes become a new file under ``parent_id`` (its name placed
        by the conflict strategy), or a new version of ``overwrite_dentry_id``. The uploadKey is
        used up; the bytes must match the sizes declared."""
        clean = names.valid(commit.name)
        how = tree.strategy(commit.conflict_strategy)
        parent = tree.parse_id(commit.parent_id, "parentId", root_ok=True)
        overwrite = (
            tree.parse_id(commit.overwrite_dentry_id, "overwriteDentryId")
            if commit.overwrite_dentry_id
            else None
        )
        upload = await self._upload(actor, commit.upload_key)
        blob_id = int(upload.blob_id)
        size = await self._bytes_of(upload)
        for declared in (commit.size, upload.size):  # CommitFile's option.size, the pre-check's
            if declared is not None and declared != size:
                raise errors.DENTRY_UPLOAD_ERROR.error(
                    f"{size} bytes were uploaded, not the {declared} declared"
                )
        new_id = await self._ids.next()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            if int(upload.space_id) != space.id:
                raise errors.param_error("uploadKey", "this uploadKey belongs to another space")
            target: Any = None
            if overwrite is not None:
                target = await tree.dentry_for(conn, actor, space, str(overwrite), access.WRITE)
            else:
                await tree.folder_for(conn, actor, space, parent, access.WRITE)
            if not await uploads.delete(conn, commit.upload_key):  # single use
                raise errors.param_error("uploadKey", "this uploadKey was already committed")
            await blobs.insert(conn, blob_id, size, upload.md5, now)
            await thumbnails.request(conn, actor, blob_id, clean, size, now=now, new=True)

            async def create(name: str, *, if_free: bool = False) -> Any:
                made = await tree.create(
                    conn,
                    actor,
                    new_id,
                    space_id=space.id,
                    parent_id=parent,
                    name=name,
                    now=now,
                    size=size,
                    blob_id=blob_id,
                    if_free=if_free,
                )
                if made is not None:
                    await tree.charge(conn, space.id, size)
                return made

            if overwrite is not None:
                await tasks.check_free(conn, actor.corp_id, int(target.id))
                if target.type != "FILE":
                    raise errors.param_error("overwriteDentryId", "only a file can get a version")
            else:
                await tasks.check_free(conn, actor.corp_id, parent, adding=True)
                made = await create(clean, if_free=True)
                if made is None:  # the name is taken: the conflict strategy says what to do
                    placed = await tree.place(
                        conn,
                        space.id,
                        parent,
                        clean,
                        how,
                        is_file=True,
                        conflict=errors.DENTRY_NAME_CONFLICT,
                    )
                    target = placed.existing
                    if target is not None and how == "RETURN_DENTRY_IF_EXISTS":
                        await blobs.release(conn, [blob_id], now)  # the upload is not needed
                        return await tree.view(conn, actor, target)
                    if target is None:
                        made = await create(placed.name)
                if made is not None:
                    await write_properties(
                        conn, new_id, actor.app_id, commit.app_properties, new=True
                    )
                    await changes.emit_by(
                        conn, actor, space.id, now, changes.of(changes.CREATE, changes.UPLOAD, made)
                    )
                    return await tree.view(conn, actor, made, own=commit.app_properties)
            await versions.add(  # a new version of the file given, or of the one of its name
                conn,
                actor.union_id,
                target,
                blob_id=blob_id,
                size=size,
                now=now,
                retention=self._retention,
                new_blob=True,
            )
            await write_properties(conn, int(target.id), actor.app_id, commit.app_properties)
            await changes.emit_by(
                conn, actor, space.id, now, changes.of(changes.UPDATE, changes.VERSION, target)
            )
            return await tree.view(conn, actor, await tree.dentry(conn, space.id, str(target.id)))

    async def _bytes_of(self, upload: Any) -> int:
        """The uploaded size, assembling a multipart upload first; 400 ``dentryUploadError`` when
        bytes are missing."""
        key = blob_key(int(upload.blob_id))
        if upload.multipart_id is None:
            size = await self._blobs.size(key)
            if size is None:
                raise errors.DENTRY_UPLOAD_ERROR.error("no bytes were uploaded for this uploadKey")
            return size
        existing = await self._blobs.size(key)
        if existing is not None:  # assembled by an earlier commit that failed later on
            return existing
        parts = await self._blobs.part_sizes(key, upload.multipart_id)
        if not parts:
            raise errors.DENTRY_UPLOAD_ERROR.error("no parts were uploaded for this uploadKey")
        order = sorted(parts)
        # DingTalk's minimum, or the blob store's when larger (S3: 5 MiB).
        minimum = max(MIN_PART, self._blobs.min_part_size)
        small = [n for n in order[:-1] if parts[n] < minimum]
        if small:
            raise errors.DENTRY_UPLOAD_ERROR.error(
                f"parts {small} are smaller than {minimum // 1024} KB (only the last may be)",
            )
        return await self._blobs.complete_multipart(key, upload.multipart_id, order)

    # --- downloading ------------------------------------------------------------------------

    async def download_info(
        self, actor: models.Actor, space_id: str, dentry_id: str, version: int | None
    ) -> blob_base.Transfer:
        """GetFileDownloadInfo: a transfer target for the file's current bytes, or for those of
        ``version``."""
        source = await self.download_source(actor, space_id, dentry_id, version)
        return self._blobs.download_target(source.key, expires_in=self._expiry)

    async def download_source(
        self, actor: models.Actor, space_id: str, dentry_id: str, version: int | None
    ) -> Download:
        """Where the bytes of the file (or of its ``version``) are, checked as
        GetFileDownloadInfo checks: for the web console, which serves them itself (a browser's
        link cannot send the data plane's signed headers)."""
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.DOWNLOAD)
            if row.type != "FILE":
                raise errors.OPERATION_NOT_SUPPORTED.error("a folder cannot be downloaded")
            blob_id, name = int(row.blob_id), str(row.name)
            if version is not None and version != row.version:
                old = await dentries.version(conn, int(row.id), version)
                if old is None:
                    raise errors.param_error(
                        "version", f"file {dentry_id} has no version {version}"
                    )
                blob_id = int(old.blob_id)
                name = str(old.name)
        return Download(blob_key(blob_id), name)

    # --- collection -------------------------------------------------------------------------

    async def discard_upload_bytes(self, upload: Any) -> None:
        """The bytes sent for an upload whose row is gone (expired, or its org emptied), and
        its multipart upload if one is open: no row names them any more."""
        key = blob_key(int(upload.blob_id))
        if upload.multipart_id is not None:
            await self._blobs.abort_multipart(key, upload.multipart_id)
        await self._blobs.delete(key)

    async def collect(self, *, limit: int = 500) -> dict[str, int]:
        """Drop expired uploads (and their bytes) and the bytes of blobs no one references."""
        now = self._clock.now_ms()
        async with self._db.read() as conn:
            stale = await uploads.expired(conn, now, limit)
            unreferenced = await blobs.collectable(conn, now - self._grace_ms, limit)
        for upload in stale:
            async with self._db.write() as conn:
                if not await uploads.delete(conn, upload.upload_key):
                    continue
            await self.discard_upload_bytes(upload)
        for blob_id in unreferenced:
            await self._blobs.delete(blob_key(blob_id))
            await self._blobs.delete(thumbnail_key(blob_id))
        if unreferenced:
            async with self._db.write() as conn:
                await blobs.forget(conn, unreferenced)
                await thumbnail_rows.forget(conn, unreferenced)
        return {"uploads": len(stale), "blobs": len(unreferenced)}
