"""The WOPI host: the calls an office server makes with an access token of GetWebOfficeUrl.

* CheckFileInfo (``file_info``): the file's name, size, version, owner, the user, and what the
  user may do — write only with a writing token *and* ``EDITOR`` on the file now; export, print
  and copy are hidden from a user without ``DOWNLOADER``.
* GetFile (``contents``): the file's current bytes.
* PutFile (``save``): the bytes become a new version of the file, as an OVERWRITE CommitFile
  makes one (quota, version retention, its thumbnail, the change event). It must name the
  file's lock (WOPI: ``X-WOPI-Lock``); a file without a lock takes a save only while it is
  empty.
* Lock, GetLock, RefreshLock, Unlock, UnlockAndRelock (``lock``): one lock per file, the office
  server's own string (at most 1024 characters), expiring ``LOCK_TTL_S`` after it was taken or
  refreshed. A call naming another lock than the file's answers 409 with the file's lock.

Every call is checked again against the store: the file must still be there and the user
still hold ``READER`` on it (``EDITOR`` for a lock or a save), else 404, as WOPI wants for a
file unknown or a user unauthorized. A token that does not hold (forged, expired, for another
file, a user gone) answers 401, as does a read-only token asking to lock or save.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.blobs import base as blob_base
from dingstore.blobs.keys import blob_key
from dingstore.clock import Clock
from dingstore.service import access, models, tasks, tree, versions
from dingstore.service.events import changes
from dingstore.service.identity import IdentityService
from dingstore.service.thumbnails import making as thumbnails
from dingstore.service.weboffice import proof, tokens
from dingstore.service.weboffice.discovery import DiscoveryCache
from dingstore.store import base, blobs, ids, wopi

LOCK_TTL_S = 30 * 60
MAX_LOCK_LENGTH = 1024
LOCK, GET_LOCK, REFRESH_LOCK, UNLOCK = "LOCK", "GET_LOCK", "REFRESH_LOCK", "UNLOCK"


@dataclass(frozen=True, slots=True)
class Caller:
    """A WOPI call's token, checked, and the user it acts for."""

    grant: tokens.Grant
    actor: models.Actor


@dataclass(frozen=True, slots=True)
class FileInfo:
    name: str
    size: int
    version: int
    owner_id: str
    user_id: str
    user_name: str
    can_write: bool
    can_download: bool
    modified_at: int


@dataclass(frozen=True, slots=True)
class Content:
    size: int
    version: int
    chunks: AsyncIterator[bytes]


class WopiHost:
    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        store: blob_base.BaseBlobStore,
        identity: IdentityService,
        discovery: DiscoveryCache | None,
        signer: tokens.Signer,
        *,
        check_proof: bool,
        version_retention: int,
        max_size: int,
        clock: Clock,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._blobs = store
        self._identity = identity
        self._discovery = discovery
        self._signer = signer
        self._check_proof = check_proof
        self._retention = version_retention
        self.max_size = max_size
        self._clock = clock

    async def admit(
        self, file_id: str, token: str | None, url: str, headers: Mapping[str, str]
    ) -> Caller:
        """The caller of a WOPI call on ``file_id``: its token must be genuine, live and for
        that file, and (when the discovery publishes a proof key) the call's proof must hold
        for ``url``, the URL the office server called."""
        if self._discovery is None:
            raise errors.NOT_FOUND.error("online editing is not configured on this server")
        grant = self._signer.verify(token, self._clock.now_ms())
        if str(grant.dentry_id) != file_id:
            raise errors.WOPI_INVALID_TOKEN.error("the access token is for another file")
        if self._check_proof:
            await self._proven(token or "", url, headers)
        try:
            operator = await self._identity.operator(grant.corp_id, grant.union_id)
        except errors.Forbidden:
            raise errors.WOPI_INVALID_TOKEN.error("the token's user is gone") from None
        principal = models.Principal(grant.app_id, grant.corp_id, frozenset(), grant.expires_at)
        return Caller(grant, models.Actor(principal, operator, self._clock))

    async def _proven(self, token: str, url: str, headers: Mapping[str, str]) -> None:
        assert self._discovery is not None
        lowered = {k.lower(): v for k, v in headers.items()}
        now = self._clock.now_ms()
        if proof.holds(await self._discovery.get(), token, url, lowered, now):
            return
        self._discovery.forget()  # the office server may have rotated its keys: read them again
        if not proof.holds(await self._discovery.get(), token, url, lowered, now):
            raise errors.WOPI_INVALID_TOKEN.error("the call's proof (X-WOPI-Proof) does not hold")

    async def _file(
        self, conn: base.Connection, caller: Caller, need: access.Role, *, write: bool = False
    ) -> tuple[RowMapping, RowMapping]:
        """The space and the file, the user holding ``need`` on it; 404 otherwise."""
        grant, actor = caller.grant, caller.actor
        try:
            space = await tree.space(conn, actor, str(grant.space_id), write=write)
            row = await tree.dentry_for(conn, actor, space, str(grant.dentry_id), need)
        except errors.Forbidden:
            raise errors.DENTRY_NOT_EXIST.error(
                f"file {grant.dentry_id} is not there for this user"
            ) from None
        return space, row

    def _writer(self, caller: Caller) -> None:
        if not caller.grant.can_write:
            raise errors.WOPI_INVALID_TOKEN.error("this access token may not change the file")

    async def file_info(self, caller: Caller) -> FileInfo:
        """CheckFileInfo."""
        async with self._db.read() as conn:
            space, row = await self._file(conn, caller, access.READ)
            role = await access.role(conn, caller.actor, space, int(row.id))
        return FileInfo(
            name=row.name,
            size=int(row.size or 0),
            version=int(row.version),
            owner_id=row.creator_id,
            user_id=caller.actor.union_id,
            user_name=caller.actor.operator.name,
            can_write=caller.grant.can_write and access.allows(role, access.WRITE),
            can_download=access.allows(role, access.DOWNLOAD),
            modified_at=int(row.modified_at),
        )

    async def contents(self, caller: Caller) -> Content:
        """GetFile: the file's current bytes."""
        async with self._db.read() as conn:
            _, row = await self._file(conn, caller, access.READ)
        chunks = self._blobs.read(blob_key(int(row.blob_id)))
        return Content(int(row.size or 0), int(row.version), chunks)

    async def lock(
        self, caller: Caller, operation: str, lock_id: str | None, old_lock: str | None = None
    ) -> str:
        """Lock (UnlockAndRelock with ``old_lock``), GetLock, RefreshLock or Unlock; the lock the
        file holds afterwards ("" for none). A lock that does not match raises 409 naming the
        file's lock."""
        grant, now = caller.grant, self._clock.now_ms()
        if operation == GET_LOCK:
            async with self._db.read() as conn:
                await self._file(conn, caller, access.READ)
                current = await wopi.lock_of(conn, grant.corp_id, grant.dentry_id, now)
            return "" if current is None else str(current.lock_id)
        self._writer(caller)
        if not lock_id:
            raise errors.param_error("X-WOPI-Lock", "X-WOPI-Lock is required")
        if len(lock_id) > MAX_LOCK_LENGTH:
            raise errors.param_error("X-WOPI-Lock", f"a lock has at most {MAX_LOCK_LENGTH} chars")
        expires_at = now + LOCK_TTL_S * 1000
        async with self._db.write() as conn:
            space, _ = await self._file(conn, caller, access.WRITE, write=True)
            current = await wopi.lock_of(conn, grant.corp_id, grant.dentry_id, now)
            held = "" if current is None else str(current.lock_id)
            if operation == LOCK and old_lock is None and held in ("", lock_id):
                pass  # a new lock, or the same one again: a refresh
            elif operation == LOCK and old_lock is not None and held and held == old_lock:
                pass  # UnlockAndRelock
            elif operation in (REFRESH_LOCK, UNLOCK) and held and held == lock_id:
                pass
            else:
                raise errors.lock_mismatch(held, f"the file's lock is not {lock_id!r}")
            if operation == UNLOCK:
                await wopi.drop_lock(conn, grant.corp_id, grant.dentry_id)
                return ""
            if held == lock_id:
                await wopi.extend_lock(conn, grant.corp_id, grant.dentry_id, expires_at)
            else:
                await wopi.set_lock(
                    conn,
                    corp_id=grant.corp_id,
                    space_id=int(space.id),
                    dentry_id=grant.dentry_id,
                    lock_id=lock_id,
                    union_id=grant.union_id,
                    now=now,
                    expires_at=expires_at,
                )
            return lock_id

    @staticmethod
    def _check_lock(current: RowMapping | None, row: RowMapping, lock_id: str | None) -> None:
        held = "" if current is None else str(current.lock_id)
        if held and held == lock_id:
            return
        if not held and int(row.size or 0) == 0:
            return  # WOPI: an unlocked file takes a save while it is empty
        raise errors.lock_mismatch(held, "the save does not name the file's lock")

    async def save(self, caller: Caller, lock_id: str | None, body: AsyncIterable[bytes]) -> int:
        """PutFile: ``body`` becomes the file's next version; its number. The lock is checked
        before a byte is stored and again as the version is made."""
        self._writer(caller)
        grant = caller.grant
        async with self._db.read() as conn:
            _, row = await self._file(conn, caller, access.WRITE)
            current = await wopi.lock_of(conn, grant.corp_id, grant.dentry_id, self._clock.now_ms())
        self._check_lock(current, row, lock_id)
        blob_id = await self._ids.next()
        key = blob_key(blob_id)
        try:
            stored = await self._blobs.write(key, body, max_size=self.max_size, exclusive=True)
        except blob_base.TooLarge:
            raise errors.REQUEST_ENTITY_TOO_LARGE.error(
                f"a file saved here holds at most {self.max_size} bytes"
            ) from None
        try:
            return await self._new_version(caller, lock_id, blob_id, stored.size)
        except BaseException:
            await self._orphaned(blob_id, stored.size)
            raise

    async def _orphaned(self, blob_id: int, size: int) -> None:
        """Bytes stored for a save that failed: recorded as a blob nothing refers to, which
        collection deletes after ``DINGSTORE_BLOB_GRACE``. Should the save have committed after
        all (its answer lost), the blob's row is there and this changes nothing."""
        now = self._clock.now_ms()
        with contextlib.suppress(errors.DingstoreError):
            async with self._db.write() as conn:
                await blobs.insert(conn, blob_id, size, None, now)
                await blobs.release(conn, [blob_id], now)

    async def _new_version(
        self, caller: Caller, lock_id: str | None, blob_id: int, size: int
    ) -> int:
        grant, actor = caller.grant, caller.actor
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            space, row = await self._file(conn, caller, access.WRITE, write=True)
            await tasks.check_free(conn, actor.corp_id, int(row.id))
            current = await wopi.lock_of(conn, grant.corp_id, grant.dentry_id, now)
            self._check_lock(current, row, lock_id)
            # What an OVERWRITE CommitFile does with the bytes it was given (service/files.py):
            # the blob's row and its thumbnail, the version, the change event.
            await blobs.insert(conn, blob_id, size, None, now)
            await thumbnails.request(conn, actor, blob_id, row.name, size, now=now, new=True)
            await versions.add(
                conn,
                actor.union_id,
                row,
                blob_id=blob_id,
                size=size,
                now=now,
                retention=self._retention,
                new_blob=True,
            )
            await changes.emit_by(
                conn, actor, int(space.id), now, changes.of(changes.UPDATE, changes.VERSION, row)
            )
            return int(row.version) + 1
