"""Objects in an S3-compatible object store (AWS S3, MinIO, Ceph, ...): the blob store of the
scale-out shape, ``DINGSTORE_BLOB_URL=s3://BUCKET?endpoint=http://HOST:PORT&region=REGION``.

File bytes never pass through dingstore. The transfer targets are the object store's own
pre-signed URLs (SigV4 in the query string, so a client sends no header of ours); a multipart
upload is an S3 multipart upload whose parts clients PUT straight to the store; CommitFile checks
an object with a HEAD, lists a multipart upload's parts and completes it; collection deletes
objects. ``write`` and ``read`` serve the seam's contract and tools: an object up to a part's
size goes in one PUT, a larger one as a multipart upload, so at most one part (8 MiB) is held in
memory; ``write_part`` spools a part to a temporary file, since S3 wants its length first.

S3's rules show through the seam: parts complete in ascending order and all but the last hold at
least 5 MiB (``min_part_size``); the object store ties an upload id to its key. Credentials come
from boto's standard chain: ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (or a profile, or
an instance role). Any failure of the object store — unreachable, timing out, 5xx, credentials
refused — is logged with the driver's message and leaves the seam as ``errors.Unavailable``
(503), so a client never sees it. At start-up (``open``), missing or refused credentials and a
missing bucket are a ``ConfigError`` instead.

Why boto3, on worker threads: obstore's ``sign`` takes a method and a path only — no
``uploadId``/``partNumber`` query, hence no pre-signed part URLs — and obstore has no ListParts.
aiobotocore has both, but pins botocore to a narrow range and makes presigning a coroutine where
the seam's targets are plain calls. dingstore's own requests to the store are few and small
(HEAD, create/list/complete multipart, DELETE), so a thread per request costs nothing that shows.
"""

from __future__ import annotations

import contextlib
import logging
import re
import tempfile
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import IO, TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.to_thread
import boto3.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from dingstore import errors
from dingstore.blobs import base
from dingstore.settings import ConfigError

if TYPE_CHECKING:
    from types_boto3_s3.client import S3Client
    from types_boto3_s3.type_defs import CompletedPartTypeDef, ObjectIdentifierTypeDef

log = logging.getLogger(__name__)

T = TypeVar("T")

MiB = 1024 * 1024
MIN_PART_SIZE = 5 * MiB
PART_SIZE = 8 * MiB
DEFAULT_REGION = "us-east-1"
MAX_EXPIRY = 7 * 24 * 3600  # the longest a SigV4 pre-signed URL may live

# Upload ids are the store's own (AWS: ~100 characters of [A-Za-z0-9._-]; Ceph: "2~..."); the
# metadata database keeps them in 256 characters.
_UPLOAD_ID = re.compile(r"[!-~]{1,256}")
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
# A conditional write (If-None-Match: *) that met an object, or met another one in flight.
_EXISTS = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})
_CREATE_ONLY: dict[str, Any] = {"IfNoneMatch": "*"}


class _RangeNotSatisfiable(Exception):
    """The object exists; the range starts at or past its end."""


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _unavailable(exc: Exception) -> errors.Unavailable:
    log.error("object store request failed: %s", exc)
    return errors.STORE_UNAVAILABLE.error("the object store failed; retry later")


def _request(call: Callable[[], T]) -> T:
    """Run one boto call (on a worker thread), turning its failures into the seam's."""
    try:
        return call()
    except ClientError as exc:
        code = _code(exc)
        if code in _MISSING:
            raise base.NotFound(str(exc)) from None
        if code == "NoSuchUpload":
            raise base.UploadNotFound(str(exc)) from None
        if code == "InvalidRange":
            raise _RangeNotSatisfiable from None
        if code in _EXISTS:
            raise base.ObjectExists(str(exc)) from None
        raise _unavailable(exc) from exc
    except BotoCoreError as exc:
        raise _unavailable(exc) from exc


async def _run(call: Callable[[], T]) -> T:
    return await anyio.to_thread.run_sync(_request, call)


async def _spool(chunks: AsyncIterable[bytes], max_size: int | None, spool: IO[bytes]) -> int:
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if max_size is not None and size > max_size:
            raise base.TooLarge(max_size)
        try:
            await anyio.to_thread.run_sync(spool.write, chunk)
        except OSError as exc:
            raise _unavailable(exc) from exc
    return size


class S3BlobStore(base.BaseBlobStore):
    signer = None
    min_part_size = MIN_PART_SIZE

    def __init__(
        self,
        bucket: str,
        *,
        endpoint: str | None = None,
        region: str = DEFAULT_REGION,
        max_attempts: int = 3,
    ) -> None:
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self._config = Config(
            region_name=region,
            signature_version="s3v4",
            # Custom endpoints (MinIO, Ceph) rarely resolve per-bucket host names.
            s3={"addressing_style": "path" if endpoint else "auto"},
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": max_attempts},
            max_pool_connections=40,  # anyio's worker threads
            # Checksums only where S3 requires them: many S3-compatible stores refuse the CRC
            # headers botocore otherwise adds to every upload.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        self._client: S3Client | None = None

    @property
    def _s3(self) -> S3Client:
        if self._client is None:
            raise RuntimeError("the S3 blob store is not open")
        return self._client

    @property
    def _where(self) -> str:
        return f"bucket {self.bucket!r} at {self.endpoint or f'AWS {self.region}'}"

    async def open(self) -> None:
        await anyio.to_thread.run_sync(self._open)

    def _open(self) -> None:
        session = boto3.session.Session()
        if session.get_credentials() is None:
            raise ConfigError(
                "no credentials for the object store: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            )
        client = session.client("s3", endpoint_url=self.endpoint, config=self._config)
        try:
            client.head_bucket(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            client.close()
            raise self._unusable(exc) from None
        self._client = client

    def _unusable(self, exc: ClientError | BotoCoreError) -> Exception:
        """Why the bucket cannot be used, told to whoever starts dingstore: ``ConfigError``
        unless the store is down (then it may be back by the next start)."""
        if isinstance(exc, BotoCoreError):
            return errors.STORE_UNAVAILABLE.error(f"{self._where} is unreachable: {exc}")
        code = _code(exc)
        if code in _MISSING or code == "NoSuchBucket":
            return ConfigError(f"{self._where} does not exist; create it first")
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500) >= 500:
            return errors.STORE_UNAVAILABLE.error(f"{self._where} failed: {exc}")
        return ConfigError(
            f"{self._where} refused access ({code}): check AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY"
        )

    async def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- objects ------------------------------------------------------------------------------

    async def write(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
        exclusive: bool = False,
    ) -> base.Stored:
        base.check_key(key)
        condition = _CREATE_ONLY if exclusive else {}
        # Parts grow with the limit so that the largest object allowed fits in 10,000 of them.
        part_size = PART_SIZE if max_size is None else max(PART_SIZE, -(-max_size // 10_000))
        size, buffer, parts = 0, bytearray(), 0
        upload_id: str | None = None
        try:
            async for chunk in chunks:
                size += len(chunk)
                if max_size is not None and size > max_size:
                    raise base.TooLarge(max_size)
                buffer += chunk
                if len(buffer) >= part_size:
                    if upload_id is None:
                        upload_id = await self.start_multipart(key)
                    parts += 1
                    await self._put_part(key, upload_id, parts, bytes(buffer), len(buffer))
                    buffer.clear()
            if upload_id is None:
                data = bytes(buffer)
                answer = await _run(
                    lambda: self._s3.put_object(Bucket=self.bucket, Key=key, Body=data, **condition)
                )
                return base.Stored(size, answer.get("ETag"))
            if buffer:
                parts += 1
                await self._put_part(key, upload_id, parts, bytes(buffer), len(buffer))
            await self._complete(key, upload_id, list(range(1, parts + 1)), condition)
        except BaseException:
            if upload_id is not None:
                with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                    await self.abort_multipart(key, upload_id)
            raise
        return base.Stored(size, None)  # S3's ETag of an object made of parts is not its MD5

    async def _put_part(
        self, key: str, upload_id: str, number: int, body: bytes | IO[bytes], length: int
    ) -> str | None:
        answer = await _run(
            lambda: self._s3.upload_part(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=body,
                ContentLength=length,
            )
        )
        return answer.get("ETag")

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        base.check_key(key)
        base.check_range(start, end)
        if end == start:
            if await self.size(key) is None:
                raise base.NotFound(key)
            return
        # No Range for the whole object: S3 answers 416 to "bytes=0-" on an empty one.
        ranged: dict[str, Any] = {}
        if start or end is not None:
            ranged["Range"] = f"bytes={start}-{'' if end is None else end - 1}"
        try:
            answer = await _run(lambda: self._s3.get_object(Bucket=self.bucket, Key=key, **ranged))
        except _RangeNotSatisfiable:
            return
        body = answer["Body"]
        try:
            while chunk := await _run(lambda: body.read(base.CHUNK_SIZE)):
                yield chunk
        finally:
            body.close()

    async def size(self, key: str) -> int | None:
        base.check_key(key)
        try:
            head = await _run(lambda: self._s3.head_object(Bucket=self.bucket, Key=key))
        except base.NotFound:
            return None
        return int(head["ContentLength"])

    async def etag(self, key: str) -> str | None:
        base.check_key(key)
        try:
            head = await _run(lambda: self._s3.head_object(Bucket=self.bucket, Key=key))
        except base.NotFound:
            return None
        return str(head["ETag"])

    async def delete(self, key: str) -> None:
        base.check_key(key)
        await _run(lambda: self._s3.delete_object(Bucket=self.bucket, Key=key))

    async def delete_prefix(self, prefix: str) -> int:
        start = base.check_prefix(prefix) + "/"
        return await _run(lambda: self._delete_under(start))

    def _delete_under(self, start: str) -> int:
        removed = 0
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in pages:  # at most 1,000 keys a page: what one DeleteObjects takes
            doomed: list[ObjectIdentifierTypeDef] = [
                {"Key": found["Key"]} for found in page.get("Contents", [])
            ]
            if not doomed:
                continue
            answer = self._s3.delete_objects(
                Bucket=self.bucket, Delete={"Objects": doomed, "Quiet": True}
            )
            failed = answer.get("Errors", [])
            if failed:
                raise _unavailable(RuntimeError(f"DeleteObjects under {start}: {failed[0]}"))
            removed += len(doomed)
        return removed

    # -- multipart uploads --------------------------------------------------------------------

    @staticmethod
    def _check_upload(key: str, upload_id: str) -> None:
        base.check_key(key)
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise base.InvalidKey(f"invalid upload id {upload_id!r}")

    async def _parts(self, key: str, upload_id: str) -> dict[int, tuple[int, str]]:
        """The parts stored so far: part number → (size, ETag)."""

        def list_all() -> dict[int, tuple[int, str]]:
            found = {}
            pages = self._s3.get_paginator("list_parts").paginate(
                Bucket=self.bucket, Key=key, UploadId=upload_id
            )
            for page in pages:
                for part in page.get("Parts", []):
                    found[int(part["PartNumber"])] = (int(part["Size"]), str(part["ETag"]))
            return dict(sorted(found.items()))

        return await _run(list_all)

    async def start_multipart(self, key: str) -> str:
        base.check_key(key)
        answer = await _run(lambda: self._s3.create_multipart_upload(Bucket=self.bucket, Key=key))
        return str(answer["UploadId"])

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
    ) -> base.Stored:
        self._check_upload(key, upload_id)
        base.check_part_number(part_number)
        # Fail before receiving anything when there is no such upload.
        await _run(
            lambda: self._s3.list_parts(Bucket=self.bucket, Key=key, UploadId=upload_id, MaxParts=1)
        )
        with tempfile.SpooledTemporaryFile(PART_SIZE) as spool:
            size = await _spool(chunks, max_size, spool)
            spool.seek(0)
            etag = await self._put_part(key, upload_id, part_number, spool, size)
        return base.Stored(size, etag)

    async def part_sizes(self, key: str, upload_id: str) -> dict[int, int]:
        self._check_upload(key, upload_id)
        return {n: size for n, (size, _) in (await self._parts(key, upload_id)).items()}

    async def complete_multipart(self, key: str, upload_id: str, part_numbers: list[int]) -> int:
        return await self._complete(key, upload_id, part_numbers, {})

    async def _complete(
        self, key: str, upload_id: str, part_numbers: list[int], condition: dict[str, Any]
    ) -> int:
        self._check_upload(key, upload_id)
        base.check_part_list(part_numbers)
        stored = await self._parts(key, upload_id)
        missing = [n for n in part_numbers if n not in stored]
        if missing:
            raise base.NotFound(f"parts {missing} of upload {upload_id} were never stored")
        small = [n for n in part_numbers[:-1] if stored[n][0] < self.min_part_size]
        if small:
            raise base.PartTooSmall(
                f"parts {small} hold fewer than {self.min_part_size} bytes (only the last may)"
            )
        listed: list[CompletedPartTypeDef] = [
            {"PartNumber": n, "ETag": stored[n][1]} for n in part_numbers
        ]
        await _run(
            lambda: self._s3.complete_multipart_upload(
                Bucket=self.bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
                **condition,
            )
        )
        # Completed with exactly these ETags: the object is these parts, whatever came since.
        return sum(stored[n][0] for n in part_numbers)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        self._check_upload(key, upload_id)
        with contextlib.suppress(base.UploadNotFound):
            await _run(
                lambda: self._s3.abort_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id
                )
            )

    # -- transfer targets ---------------------------------------------------------------------

    def _presign(self, operation: str, params: dict[str, Any], expires_in: int) -> base.Transfer:
        if not 0 < expires_in <= MAX_EXPIRY:
            raise ValueError(f"a pre-signed URL lives 1 to {MAX_EXPIRY} seconds")
        try:
            url = self._s3.generate_presigned_url(
                operation, Params={"Bucket": self.bucket, **params}, ExpiresIn=expires_in
            )
        except BotoCoreError as exc:  # credentials that vanished since open()
            raise _unavailable(exc) from exc
        return base.Transfer(url, {}, expires_in)

    def upload_target(self, key: str, *, expires_in: int, size: int | None = None) -> base.Transfer:
        # Both signed headers of the URL: S3 refuses a PUT without them or with other values.
        # If-None-Match is ours to hand out; Content-Length every client sends for its body.
        params: dict[str, Any] = {"Key": base.check_key(key), **_CREATE_ONLY}
        if size is not None:
            params["ContentLength"] = size
        transfer = self._presign("put_object", params, expires_in)
        return base.Transfer(transfer.url, {"If-None-Match": "*"}, expires_in)

    def part_target(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: int,
        max_size: int | None = None,
    ) -> base.Transfer:
        # max_size cannot be signed (S3 signs an exact Content-Length): parts are bounded by
        # S3's own 5 GiB, and CommitFile checks the total.
        self._check_upload(key, upload_id)
        params = {
            "Key": key,
            "UploadId": upload_id,
            "PartNumber": base.check_part_number(part_number),
        }
        return self._presign("upload_part", params, expires_in)

    def download_target(self, key: str, *, expires_in: int) -> base.Transfer:
        return self._presign("get_object", {"Key": base.check_key(key)}, expires_in)

    def link(self, key: str, *, expires_in: int, media_type: str) -> str:
        params = {"Key": base.check_key(key), "ResponseContentType": media_type}
        return self._presign("get_object", params, expires_in).url
