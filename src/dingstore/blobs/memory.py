"""Objects in a dict, for tests (``DINGSTORE_BLOB_URL=memory://``): gone when the process ends,
and not shared between processes."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterable, AsyncIterator

from dingstore.blobs import base, signing


async def _collect(chunks: AsyncIterable[bytes], max_size: int | None) -> bytes:
    data = bytearray()
    async for chunk in chunks:
        data += chunk
        if max_size is not None and len(data) > max_size:
            raise base.TooLarge(max_size)
    return bytes(data)


def _etag(data: bytes) -> str:
    return base.md5_etag(hashlib.md5(data, usedforsecurity=False).digest())


class MemoryBlobStore(signing.SelfServed):
    def __init__(self, signer: signing.Signer, public_url: str) -> None:
        super().__init__(signer, public_url)
        self._objects: dict[str, bytes] = {}
        self._etags: dict[str, str] = {}
        # upload id -> (key, part number -> bytes)
        self._uploads: dict[str, tuple[str, dict[int, bytes]]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def write(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
        exclusive: bool = False,
    ) -> base.Stored:
        base.check_key(key)
        data = await _collect(chunks, max_size)
        if exclusive and key in self._objects:
            raise base.ObjectExists(f"{key}: an object is already stored there")
        self._objects[key] = data
        self._etags[key] = _etag(data)
        return base.Stored(len(data), self._etags[key])

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        base.check_key(key)
        base.check_range(start, end)
        data = self._objects.get(key)
        if data is None:
            raise base.NotFound(key)
        view = memoryview(data)[start:end]
        for offset in range(0, len(view), base.CHUNK_SIZE):
            yield bytes(view[offset : offset + base.CHUNK_SIZE])

    async def size(self, key: str) -> int | None:
        base.check_key(key)
        data = self._objects.get(key)
        return None if data is None else len(data)

    async def etag(self, key: str) -> str | None:
        base.check_key(key)
        return self._etags.get(key) if key in self._objects else None

    async def delete(self, key: str) -> None:
        base.check_key(key)
        self._objects.pop(key, None)
        self._etags.pop(key, None)

    async def delete_prefix(self, prefix: str) -> int:
        start = base.check_prefix(prefix) + "/"
        doomed = [key for key in self._objects if key.startswith(start)]
        for key in doomed:
            del self._objects[key]
            self._etags.pop(key, None)
        return len(doomed)

    def _upload(self, key: str, upload_id: str) -> dict[int, bytes]:
        base.check_key(key)
        base.check_upload_id(upload_id)
        found = self._uploads.get(upload_id)
        if found is None or found[0] != key:
            raise base.UploadNotFound(f"no multipart upload {upload_id} for {key}")
        return found[1]

    async def start_multipart(self, key: str) -> str:
        base.check_key(key)
        upload_id = secrets.token_hex(16)
        self._uploads[upload_id] = (key, {})
        return upload_id

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
    ) -> base.Stored:
        self._upload(key, upload_id)
        base.check_part_number(part_number)
        data = await _collect(chunks, max_size)
        # Looked up again: the upload may have been completed or aborted meanwhile.
        self._upload(key, upload_id)[part_number] = data
        return base.Stored(len(data), _etag(data))

    async def part_sizes(self, key: str, upload_id: str) -> dict[int, int]:
        return {n: len(data) for n, data in sorted(self._upload(key, upload_id).items())}

    async def complete_multipart(self, key: str, upload_id: str, part_numbers: list[int]) -> int:
        parts = self._upload(key, upload_id)
        base.check_part_list(part_numbers)
        missing = [n for n in part_numbers if n not in parts]
        if missing:
            raise base.NotFound(f"parts {missing} of upload {upload_id} were never stored")
        data = b"".join(parts[n] for n in part_numbers)
        self._objects[key] = data
        digests = [hashlib.md5(parts[n], usedforsecurity=False).digest() for n in part_numbers]
        self._etags[key] = base.multipart_etag(digests)
        del self._uploads[upload_id]
        return len(data)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        base.check_key(key)
        base.check_upload_id(upload_id)
        found = self._uploads.get(upload_id)
        if found is not None and found[0] == key:
            del self._uploads[upload_id]
