"""Objects as files under a root directory (the embedded default: ``DATA_DIR/blobs``).

Layout: an object at ``root/<key>``; bytes being received in ``root/.tmp/<random>``; the parts of
a multipart upload in ``root/.parts/<uploadId>/<partNumber>``, beside a ``key`` file naming the
key the upload publishes. Every write lands in a temporary file that is fsynced, then renamed
into place (``os.replace``, atomic; an exclusive write hard-links instead, which fails where the
key is taken) and its directory fsynced: a crash loses nothing that was acknowledged and never
leaves half an object under a key. Temporary files a crash left behind are swept at start-up
once a day old. An object's ETag (its MD5, hashed as it is written) is kept on its file, as the
extended attribute ``user.dingstore.etag``, so it moves with the file; none where the file
system has no such attributes.

All file I/O runs on worker threads (in ~1 MiB pieces), so a large transfer never stalls the
event loop; a cancelled transfer waits for its current piece, then cleans up. Every path is
resolved and must stay inside the root. I/O failures (disk full, permissions) leave the seam as
``errors.Unavailable`` (503).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import shutil
import stat
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

import anyio.to_thread

from dingstore import errors
from dingstore.blobs import base, signing

log = logging.getLogger(__name__)

T = TypeVar("T")

STALE_AFTER = 24 * 3600
# File bytes are the org's data: readable by the server's user only.
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_KEY_FILE = "key"
_ETAG_ATTR = "user.dingstore.etag"
# Start writing a received megabyte back at once (Linux; typeshed does not know the call);
# elsewhere the final fsync does it all.
_sync_file_range: Callable[[int, int, int, int], None] | None = getattr(os, "sync_file_range", None)
_WRITEBACK: int = getattr(os, "SYNC_FILE_RANGE_WRITE", 0)


async def _thread(fn: Callable[..., T], *args: Any) -> T:
    try:
        return await anyio.to_thread.run_sync(fn, *args)
    except OSError as exc:
        log.error("blob store I/O failed: %s", exc)
        raise errors.STORE_UNAVAILABLE.error("the file store failed; retry later") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(path: Path) -> None:
    """``mkdir -p`` that also makes each new directory entry durable."""
    missing: list[Path] = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=PRIVATE_DIR)
        _fsync_dir(directory.parent)


def _publish(tmp: Path, path: Path, exclusive: bool = False) -> None:
    """Rename a complete, fsynced temporary file to ``path``; remove it if that fails.
    ``exclusive``: hard-link it instead, which fails where ``path`` exists (atomically)."""
    try:
        _makedirs(path.parent)
        if exclusive:
            os.link(tmp, path)
        else:
            os.replace(tmp, path)
        _fsync_dir(path.parent)
    except FileExistsError:
        if exclusive and not path.is_dir():
            raise base.ObjectExists(f"{path.name}: an object is already stored there") from None
        raise base.InvalidKey(f"{path.name}: a key may not be a folder of other keys") from None
    except (IsADirectoryError, NotADirectoryError):
        raise base.InvalidKey(f"{path.name}: a key may not be a folder of other keys") from None
    finally:
        tmp.unlink(missing_ok=True)


def _tag(path: Path, etag: str) -> None:
    """Record the ETag on the file itself (it follows the file through renames and links);
    skipped where the file system keeps no extended attributes."""
    with contextlib.suppress(OSError, AttributeError):
        os.setxattr(path, _ETAG_ATTR, etag.encode())


def _create(path: Path) -> BinaryIO:
    """A new file (it must not exist), open for writing, readable by its owner only."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb")


class _Incoming:
    """A temporary file being received: created with its first bytes, hashed (MD5, the ETag)
    as it is written. Its methods but ``discard`` run on a worker thread: hashing a megabyte
    takes milliseconds, which the event loop must not spend."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._file: BinaryIO | None = None

    def append(self, pieces: list[bytes], writeback: bool = True) -> None:
        """Write ``pieces`` and, with ``writeback``, have the disk start on them at once
        (Linux ``sync_file_range``; it does not wait): it works while the next megabytes
        arrive, and the final fsync has little left to wait for."""
        if self._file is None:
            self._file = _create(self.tmp)
        f = self._file
        start = f.tell()
        f.writelines(pieces)
        f.flush()
        if writeback and _sync_file_range is not None:
            _sync_file_range(f.fileno(), start, f.tell() - start, _WRITEBACK)
        for piece in pieces:
            self._md5.update(piece)

    def finish(self, pieces: list[bytes], publish: Callable[[Path], None]) -> str:
        """Write the last ``pieces``, fsync, record the ETag on the file and ``publish`` it:
        all in one thread hop (a small file's whole write is this one call). The ETag."""
        self.append(pieces, writeback=False)
        assert self._file is not None
        os.fsync(self._file.fileno())
        self._file.close()
        etag = base.md5_etag(self._md5.digest())
        _tag(self.tmp, etag)
        publish(self.tmp)
        return etag

    def discard(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        self.tmp.unlink(missing_ok=True)


def _open_at(path: Path, start: int) -> BinaryIO:
    try:
        f = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise base.NotFound(str(path)) from None
    f.seek(start)
    return f


class LocalBlobStore(signing.SelfServed):
    def __init__(self, root: Path, signer: signing.Signer, public_url: str) -> None:
        super().__init__(signer, public_url)
        self.root = Path(root).resolve()
        self._tmp = self.root / ".tmp"
        self._parts = self.root / ".parts"

    async def open(self) -> None:
        await _thread(self._open)

    def _open(self) -> None:
        for directory in (self.root, self._tmp, self._parts):
            _makedirs(directory)
        cutoff = time.time() - STALE_AFTER  # against file times: the OS clock, not a service's
        for entry in os.scandir(self._tmp):
            with contextlib.suppress(FileNotFoundError):
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)

    async def close(self) -> None:
        pass

    def _path(self, key: str) -> Path:
        path = (self.root / base.check_key(key)).resolve()
        if path == self.root or not path.is_relative_to(self.root):
            raise base.InvalidKey(f"blob key {key!r} leads outside the store")
        return path

    async def _receive(
        self, chunks: AsyncIterable[bytes], max_size: int | None, publish: Callable[[Path], None]
    ) -> base.Stored:
        """Stream ``chunks`` into a new temporary file, fsynced, and ``publish`` it. Removed
        again if anything fails (too large, a client gone, a cancellation)."""
        incoming = _Incoming(self._tmp / secrets.token_hex(16))
        # One write in flight while the next megabyte arrives: receiving and writing overlap.
        writing: asyncio.Future[None] | None = None
        try:
            size, pieces, pending = 0, [], 0
            async for chunk in chunks:
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise base.TooLarge(max_size)
                pieces.append(chunk)
                pending += len(chunk)
                if pending >= base.CHUNK_SIZE:
                    if writing is not None:
                        await writing
                    writing = asyncio.ensure_future(_thread(incoming.append, pieces))
                    pieces, pending = [], 0
            if writing is not None:
                await writing
            etag = await _thread(incoming.finish, pieces, publish)
        except BaseException:
            if writing is not None:
                with contextlib.suppress(BaseException):
                    await asyncio.shield(writing)
            incoming.discard()
            raise
        return base.Stored(size, etag)

    async def write(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
        exclusive: bool = False,
    ) -> base.Stored:
        path = self._path(key)
        return await self._receive(
            chunks, max_size, functools.partial(_publish, path=path, exclusive=exclusive)
        )

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        path = self._path(key)
        base.check_range(start, end)
        f = await _thread(_open_at, path, start)
        try:
            remaining = None if end is None else end - start
            while remaining is None or remaining > 0:
                wanted = base.CHUNK_SIZE if remaining is None else min(base.CHUNK_SIZE, remaining)
                data = await _thread(f.read, wanted)
                if not data:
                    return
                if remaining is not None:
                    remaining -= len(data)
                yield data
        finally:
            f.close()

    async def open_file(self, key: str) -> BinaryIO:
        return await _thread(_open_at, self._path(key), 0)

    async def size(self, key: str) -> int | None:
        try:
            found = self._path(key).stat()
        except OSError:
            return None
        return found.st_size if stat.S_ISREG(found.st_mode) else None

    async def etag(self, key: str) -> str | None:
        path = self._path(key)
        try:
            return (await anyio.to_thread.run_sync(os.getxattr, path, _ETAG_ATTR)).decode()
        except (OSError, AttributeError):
            return None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_file():
            await _thread(path.unlink, True)

    async def delete_prefix(self, prefix: str) -> int:
        return await _thread(self._delete_tree, self._path(base.check_prefix(prefix)))

    def _delete_tree(self, top: Path) -> int:
        if not top.is_dir():
            return 0
        removed = 0
        for folder, dirs, files in os.walk(top, topdown=False):
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
            for name in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(folder, name))
        with contextlib.suppress(OSError):
            top.rmdir()
        return removed

    # -- multipart uploads --------------------------------------------------------------------

    def _upload(self, key: str, upload_id: str) -> Path:
        """The upload's directory, after checking that it exists and publishes ``key``."""
        folder = self._parts / base.check_upload_id(upload_id)
        try:
            recorded = (folder / _KEY_FILE).read_text()
        except (FileNotFoundError, NotADirectoryError):
            recorded = None
        if recorded != key:
            raise base.UploadNotFound(f"no multipart upload {upload_id} for {key}")
        return folder

    async def start_multipart(self, key: str) -> str:
        self._path(key)
        upload_id = secrets.token_hex(16)
        await _thread(self._start, key, upload_id)
        return upload_id

    def _start(self, key: str, upload_id: str) -> None:
        folder = self._parts / upload_id
        folder.mkdir(mode=PRIVATE_DIR)
        with _create(folder / _KEY_FILE) as f:
            f.write(key.encode())
            f.flush()
            os.fsync(f.fileno())
        _fsync_dir(folder)
        _fsync_dir(self._parts)

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
    ) -> base.Stored:
        self._path(key)
        base.check_part_number(part_number)
        await _thread(self._upload, key, upload_id)
        publish = functools.partial(
            self._publish_part, key=key, upload_id=upload_id, part_number=part_number
        )
        return await self._receive(chunks, max_size, publish)

    def _publish_part(self, tmp: Path, key: str, upload_id: str, part_number: int) -> None:
        try:
            folder = self._upload(key, upload_id)
            os.replace(tmp, folder / str(part_number))
            _fsync_dir(folder)
        except FileNotFoundError:  # completed or aborted meanwhile
            raise base.UploadNotFound(f"no multipart upload {upload_id} for {key}") from None
        finally:
            tmp.unlink(missing_ok=True)

    async def part_sizes(self, key: str, upload_id: str) -> dict[int, int]:
        self._path(key)
        return await _thread(self._part_sizes, key, upload_id)

    def _part_sizes(self, key: str, upload_id: str) -> dict[int, int]:
        folder = self._upload(key, upload_id)
        sizes = {}
        for entry in os.scandir(folder):
            if entry.name.isdigit():
                with contextlib.suppress(FileNotFoundError):
                    sizes[int(entry.name)] = entry.stat().st_size
        return dict(sorted(sizes.items()))

    async def complete_multipart(self, key: str, upload_id: str, part_numbers: list[int]) -> int:
        path = self._path(key)
        base.check_part_list(part_numbers)
        return await _thread(self._complete, path, key, upload_id, part_numbers)

    def _complete(self, path: Path, key: str, upload_id: str, part_numbers: list[int]) -> int:
        folder = self._upload(key, upload_id)
        missing = [n for n in part_numbers if not (folder / str(n)).is_file()]
        if missing:
            raise base.NotFound(f"parts {missing} of upload {upload_id} were never stored")
        tmp = self._tmp / secrets.token_hex(16)
        digests = []
        try:
            with _create(tmp) as out:
                for n in part_numbers:
                    md5 = hashlib.md5(usedforsecurity=False)
                    with (folder / str(n)).open("rb") as part:
                        while piece := part.read(base.CHUNK_SIZE):
                            md5.update(piece)
                            out.write(piece)
                    digests.append(md5.digest())
                out.flush()
                os.fsync(out.fileno())
            size = tmp.stat().st_size
            _tag(tmp, base.multipart_etag(digests))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _publish(tmp, path)
        shutil.rmtree(folder, ignore_errors=True)
        return size

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        self._path(key)
        await _thread(self._abort, key, upload_id)

    def _abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(base.UploadNotFound):
            shutil.rmtree(self._upload(key, upload_id), ignore_errors=True)
