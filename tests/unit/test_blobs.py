"""The blob-store seam: one conformance suite run against every store (S3 on moto's server),
then each store's quirks, the signer of the data plane, and choosing a store by URL."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from moto.server import ThreadedMotoServer

from dingstore import errors
from dingstore.blobs import base, local, memory, s3, signing, stores
from dingstore.clock import Clock
from dingstore.settings import ConfigError, Settings
from tests.live import free_port
from tests.s3 import REGION, MotoS3

MiB = 1024 * 1024
PUBLIC = "http://blobs.example:8080"


def make_store(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> base.BaseBlobStore:
    signer = signing.Signer("test-secret")
    if kind == "local":
        return local.LocalBlobStore(tmp_path / "blobs", signer, PUBLIC)
    if kind == "memory":
        return memory.MemoryBlobStore(signer, PUBLIC)
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    return s3.S3BlobStore(request.getfixturevalue("s3_bucket"), endpoint=moto.endpoint)


@pytest.fixture(params=["local", "memory", "s3"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[base.BaseBlobStore]:
    opened = make_store(request.param, request, tmp_path)
    await opened.open()
    yield opened
    await opened.close()


@pytest.fixture(params=["local", "memory"])
async def self_served(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[base.BaseBlobStore]:
    """The stores whose transfer targets are dingstore's own data plane."""
    opened = make_store(request.param, request, tmp_path)
    await opened.open()
    yield opened
    await opened.close()


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def failing(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part
    raise ConnectionResetError("client went away")


async def read_all(
    store: base.BaseBlobStore, key: str, start: int = 0, end: int | None = None
) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


# -- objects ----------------------------------------------------------------------------------


async def test_write_read_size_delete(store: base.BaseBlobStore) -> None:
    assert (await store.write("blobs/1", chunks(b"hello", b" ", b"world"))).size == 11
    assert await store.size("blobs/1") == 11
    assert await read_all(store, "blobs/1") == b"hello world"
    await store.delete("blobs/1")
    assert await store.size("blobs/1") is None
    await store.delete("blobs/1")  # idempotent
    with pytest.raises(base.NotFound):
        await read_all(store, "blobs/1")
    assert await store.size("blobs/never") is None


async def test_writing_again_replaces(store: base.BaseBlobStore) -> None:
    await store.write("blobs/1", chunks(b"first version"))
    await store.write("blobs/1", chunks(b"second"))
    assert await read_all(store, "blobs/1") == b"second"


async def test_an_exclusive_write_never_replaces(store: base.BaseBlobStore) -> None:
    assert (await store.write("blobs/1", chunks(b"first"), exclusive=True)).size == 5
    for again in (b"second", b""):
        with pytest.raises(base.ObjectExists):
            await store.write("blobs/1", chunks(again), exclusive=True)
    assert await read_all(store, "blobs/1") == b"first"
    assert (await store.write("blobs/2", chunks(b""), exclusive=True)).size == 0


def md5(data: bytes) -> hashlib._Hash:
    return hashlib.md5(data, usedforsecurity=False)


async def test_etags_are_the_md5s_s3_gives(store: base.BaseBlobStore) -> None:
    whole = f'"{md5(b"hello world").hexdigest()}"'
    assert await store.write("blobs/1", chunks(b"hello", b" world")) == base.Stored(11, whole)
    assert await store.etag("blobs/1") == whole
    assert await store.etag("blobs/none") is None
    parts = [os.urandom(max(store.min_part_size, 1000)), b"tail"]
    upload = await store.start_multipart("blobs/m")
    for n, part in enumerate(parts, 1):
        stored = await store.write_part("blobs/m", upload, n, chunks(part))
        assert stored == base.Stored(len(part), f'"{md5(part).hexdigest()}"')
    await store.complete_multipart("blobs/m", upload, [1, 2])
    of_parts = md5(b"".join(md5(part).digest() for part in parts)).hexdigest()
    assert await store.etag("blobs/m") == f'"{of_parts}-2"'
    await store.delete("blobs/1")
    assert await store.etag("blobs/1") is None


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, None, slice(None)),
        (10, 20, slice(10, 20)),
        (0, 0, slice(0, 0)),
        (2559, None, slice(2559, None)),
        (100, 10_000, slice(100, None)),  # an end past the size reads to the end
        (5000, None, slice(0, 0)),  # a start past the size reads nothing
    ],
)
async def test_ranges(
    store: base.BaseBlobStore, start: int, end: int | None, expected: slice
) -> None:
    data = bytes(range(256)) * 10
    await store.write("blobs/r", chunks(data))
    assert await read_all(store, "blobs/r", start, end) == data[expected]


@pytest.mark.parametrize(("start", "end"), [(-1, None), (10, 5)])
async def test_bad_ranges_refused(store: base.BaseBlobStore, start: int, end: int | None) -> None:
    await store.write("blobs/r", chunks(b"0123456789abcdef"))
    with pytest.raises(ValueError):
        await read_all(store, "blobs/r", start, end)


async def test_empty_object(store: base.BaseBlobStore) -> None:
    assert (await store.write("blobs/empty", chunks())).size == 0
    assert await store.size("blobs/empty") == 0
    assert await read_all(store, "blobs/empty") == b""


async def test_multi_mib_object_streams_in_chunks(store: base.BaseBlobStore) -> None:
    data = os.urandom(3 * MiB + 12_345)
    pieces = [data[i : i + 65_536] for i in range(0, len(data), 65_536)]
    assert (await store.write("blobs/big", chunks(*pieces))).size == len(data)
    got = [chunk async for chunk in store.read("blobs/big")]
    assert len(got) >= 4 and max(map(len, got)) <= base.CHUNK_SIZE
    assert hashlib.sha256(b"".join(got)).digest() == hashlib.sha256(data).digest()
    tail = await read_all(store, "blobs/big", MiB - 3, 2 * MiB + 7)
    assert tail == data[MiB - 3 : 2 * MiB + 7]


async def test_max_size_refusal_publishes_nothing(store: base.BaseBlobStore) -> None:
    assert (await store.write("blobs/fits", chunks(b"12345", b"67890"), max_size=10)).size == 10
    with pytest.raises(base.TooLarge):
        await store.write("blobs/big", chunks(b"12345", b"678901"), max_size=10)
    assert await store.size("blobs/big") is None
    with pytest.raises(base.TooLarge):  # a refused replacement leaves the old object whole
        await store.write("blobs/fits", chunks(b"x" * 11), max_size=10)
    assert await read_all(store, "blobs/fits") == b"1234567890"


async def test_a_failing_source_publishes_nothing(store: base.BaseBlobStore) -> None:
    with pytest.raises(ConnectionResetError):
        await store.write("blobs/cut", failing(b"x" * MiB, b"y" * MiB))
    assert await store.size("blobs/cut") is None


async def test_a_reader_never_sees_a_half_written_object(store: base.BaseBlobStore) -> None:
    await store.write("blobs/1", chunks(b"old"))
    half_way, release = asyncio.Event(), asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"a" * (2 * MiB)
        half_way.set()
        await release.wait()
        yield b"b"

    writing = asyncio.create_task(store.write("blobs/1", slow()))
    new = asyncio.create_task(store.write("blobs/2", slow()))
    await half_way.wait()
    await asyncio.sleep(0.05)
    assert await store.size("blobs/1") == 3 and await read_all(store, "blobs/1") == b"old"
    assert await store.size("blobs/2") is None
    with pytest.raises(base.NotFound):
        await read_all(store, "blobs/2")
    release.set()
    assert (await writing).size == (await new).size == 2 * MiB + 1
    assert await store.size("blobs/1") == await store.size("blobs/2") == 2 * MiB + 1


async def test_delete_prefix(store: base.BaseBlobStore) -> None:
    for key in ("uploads/x/1", "uploads/x/2", "uploads/x/sub/3", "uploads/xy/1", "blobs/1"):
        await store.write(key, chunks(key.encode()))
    assert await store.delete_prefix("uploads/x") == 3
    assert [await store.size(k) for k in ("uploads/x/1", "uploads/x/sub/3")] == [None, None]
    assert await store.size("uploads/xy/1") == len(b"uploads/xy/1")
    assert await store.delete_prefix("uploads/xy/") == 1
    assert await store.delete_prefix("nothing/here") == 0
    assert await store.size("blobs/1") is not None


# -- multipart --------------------------------------------------------------------------------


async def test_multipart_assembles_in_ascending_order_and_cleans_up(
    store: base.BaseBlobStore,
) -> None:
    n1, n2 = max(300_000, store.min_part_size), max(100, store.min_part_size)
    upload = await store.start_multipart("blobs/m")
    parts = {1: b"a" * n1, 2: b"b" * 200_000, 3: b"c" * 5}
    for n in (3, 1, 2):
        assert (await store.write_part("blobs/m", upload, n, chunks(parts[n]))).size == len(
            parts[n]
        )
    assert (await store.write_part("blobs/m", upload, 2, chunks(b"B" * n2))).size == n2  # replaced
    assert await store.part_sizes("blobs/m", upload) == {1: n1, 2: n2, 3: 5}
    assert await store.size("blobs/m") is None
    with pytest.raises(ValueError):
        await store.complete_multipart("blobs/m", upload, [3, 1, 2])
    assert await store.complete_multipart("blobs/m", upload, [1, 2, 3]) == n1 + n2 + 5
    assert await read_all(store, "blobs/m") == b"a" * n1 + b"B" * n2 + b"c" * 5
    with pytest.raises(base.UploadNotFound):
        await store.part_sizes("blobs/m", upload)
    with pytest.raises(base.UploadNotFound):
        await store.write_part("blobs/m", upload, 4, chunks(b"late"))


async def test_multipart_may_skip_part_numbers(store: base.BaseBlobStore) -> None:
    upload = await store.start_multipart("blobs/m")
    first = b"f" * max(1, store.min_part_size)
    await store.write_part("blobs/m", upload, 2, chunks(first))
    await store.write_part("blobs/m", upload, 7, chunks(b"last"))
    assert await store.complete_multipart("blobs/m", upload, [2, 7]) == len(first) + 4
    assert await read_all(store, "blobs/m") == first + b"last"


async def test_multipart_refusals(store: base.BaseBlobStore) -> None:
    upload = await store.start_multipart("blobs/m")
    await store.write_part("blobs/m", upload, 1, chunks(b"one"))
    with pytest.raises(base.TooLarge):
        await store.write_part("blobs/m", upload, 2, chunks(b"x" * 11), max_size=10)
    assert await store.part_sizes("blobs/m", upload) == {1: 3}
    with pytest.raises(base.NotFound):
        await store.complete_multipart("blobs/m", upload, [1, 2])
    with pytest.raises(ValueError):
        await store.complete_multipart("blobs/m", upload, [])
    with pytest.raises(ValueError):
        await store.complete_multipart("blobs/m", upload, [1, 1])
    with pytest.raises(base.InvalidKey):
        await store.write_part("blobs/m", upload, 0, chunks(b"x"))
    with pytest.raises(base.InvalidKey):
        await store.write_part("blobs/m", upload, 10_001, chunks(b"x"))
    if not isinstance(store, s3.S3BlobStore):  # S3 ties an upload to its key; moto does not
        with pytest.raises(base.UploadNotFound):
            await store.write_part("blobs/other", upload, 1, chunks(b"x"))
    with pytest.raises(base.UploadNotFound):
        await store.part_sizes("blobs/m", "0123456789abcdef")
    with pytest.raises(base.UploadNotFound):
        await store.complete_multipart("blobs/m", "0123456789abcdef", [1])
    assert await store.size("blobs/m") is None
    assert await store.complete_multipart("blobs/m", upload, [1]) == 3


async def test_abort_multipart(store: base.BaseBlobStore) -> None:
    upload = await store.start_multipart("blobs/m")
    await store.write_part("blobs/m", upload, 1, chunks(b"one"))
    await store.abort_multipart("blobs/m", upload)
    await store.abort_multipart("blobs/m", upload)  # idempotent
    with pytest.raises(base.UploadNotFound):
        await store.part_sizes("blobs/m", upload)
    with pytest.raises(base.UploadNotFound):
        await store.complete_multipart("blobs/m", upload, [1])
    assert await store.size("blobs/m") is None


# -- keys and targets -------------------------------------------------------------------------

BAD_KEYS = ["", "../x", "a/../b", "/abs", "a//b", "a/", "./a", ".tmp/x", "a/.parts", "sp ace", "é"]


@pytest.mark.parametrize("key", [*BAD_KEYS, "x" * 256, "x/" * 512 + "x"])
async def test_bad_keys_refused(store: base.BaseBlobStore, key: str) -> None:
    with pytest.raises(base.InvalidKey):
        await store.write(key, chunks(b"x"))
    with pytest.raises(base.InvalidKey):
        await store.size(key)
    with pytest.raises(base.InvalidKey):
        await read_all(store, key)
    with pytest.raises(base.InvalidKey):
        await store.delete(key)
    with pytest.raises(base.InvalidKey):
        await store.start_multipart(key)
    with pytest.raises(base.InvalidKey):
        store.upload_target(key, expires_in=60)


async def test_good_keys_accepted(store: base.BaseBlobStore) -> None:
    for key in ("blobs/10000000123", "uploads/abc-DEF_1.2", "a/b/c/d", "x" * 255):
        await store.write(key, chunks(b"k"))
        assert await store.size(key) == 1


async def test_transfer_targets_point_at_the_signed_data_plane(
    self_served: base.BaseBlobStore,
) -> None:
    store = self_served
    assert store.signer is not None
    up = store.upload_target("blobs/1", expires_in=900)
    assert up.url == f"{PUBLIC}/_blobs/blobs/1" and up.expires_in == 900
    assert set(up.headers) == {"Authorization", "x-dingstore-expires"}
    store.signer.verify("PUT", "/_blobs/blobs/1", [], up.headers)
    with pytest.raises(signing.SignatureMismatch):
        store.signer.verify("GET", "/_blobs/blobs/1", [], up.headers)
    down = store.download_target("blobs/1", expires_in=60)
    store.signer.verify("GET", "/_blobs/blobs/1", None, down.headers)
    sized = store.upload_target("blobs/1", expires_in=900, size=42)
    assert sized.url == f"{PUBLIC}/_blobs/blobs/1?size=42"
    store.signer.verify("PUT", "/_blobs/blobs/1", {"size": "42"}, sized.headers)
    with pytest.raises(signing.SignatureMismatch):  # the size is signed
        store.signer.verify("PUT", "/_blobs/blobs/1", {"size": "43"}, sized.headers)
    bounded = store.part_target("blobs/1", "abc123", 7, expires_in=60, max_size=9)
    assert bounded.url.endswith("?uploadId=abc123&partNumber=7&maxSize=9")
    part = store.part_target("blobs/1", "abc123", 7, expires_in=60)
    assert part.url == f"{PUBLIC}/_blobs/blobs/1?uploadId=abc123&partNumber=7"
    store.signer.verify(
        "PUT", "/_blobs/blobs/1", {"partNumber": "7", "uploadId": "abc123"}, part.headers
    )
    with pytest.raises(signing.SignatureMismatch):
        store.signer.verify(
            "PUT", "/_blobs/blobs/1", {"partNumber": "8", "uploadId": "abc123"}, part.headers
        )


# -- the local store's quirks -----------------------------------------------------------------


@pytest.fixture
async def files(tmp_path: Path) -> AsyncIterator[local.LocalBlobStore]:
    opened = local.LocalBlobStore(tmp_path / "blobs", signing.Signer("k"), PUBLIC)
    await opened.open()
    yield opened
    await opened.close()


def leftovers(files: local.LocalBlobStore) -> list[str]:
    return sorted(os.listdir(files.root / ".tmp"))


async def test_local_layout_and_no_temporary_files_left(files: local.LocalBlobStore) -> None:
    await files.write("blobs/1", chunks(b"one"))
    assert (files.root / "blobs" / "1").read_bytes() == b"one"
    with pytest.raises(base.TooLarge):
        await files.write("blobs/2", chunks(b"x" * 20), max_size=10)
    with pytest.raises(ConnectionResetError):
        await files.write("blobs/3", failing(b"x"))
    upload = await files.start_multipart("blobs/4")
    await files.write_part("blobs/4", upload, 1, chunks(b"p"))
    assert (files.root / ".parts" / upload / "1").read_bytes() == b"p"
    await files.complete_multipart("blobs/4", upload, [1])
    assert not (files.root / ".parts" / upload).exists()
    assert leftovers(files) == []
    assert sorted(os.listdir(files.root / "blobs")) == ["1", "4"]


async def test_local_cancelled_write_leaves_nothing(files: local.LocalBlobStore) -> None:
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"z" * MiB
            started.set()

    task = asyncio.create_task(files.write("blobs/c", endless()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await files.size("blobs/c") is None and leftovers(files) == []


async def test_local_paths_stay_inside_the_root(
    files: local.LocalBlobStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"secret")
    (files.root / "blobs").mkdir()
    (files.root / "blobs" / "evil").symlink_to(outside)
    with pytest.raises(base.InvalidKey):
        await files.write("blobs/evil/x", chunks(b"x"))
    with pytest.raises(base.InvalidKey):
        await read_all(files, "blobs/evil/secret")
    with pytest.raises(base.InvalidKey):
        await files.delete_prefix("blobs/evil")
    assert sorted(os.listdir(outside)) == ["secret"]


async def test_local_key_beside_its_folder_refused(files: local.LocalBlobStore) -> None:
    await files.write("a/b", chunks(b"x"))
    with pytest.raises(base.InvalidKey):
        await files.write("a", chunks(b"y"))
    assert await files.size("a") is None and leftovers(files) == []


async def test_local_open_sweeps_stale_temporary_files(files: local.LocalBlobStore) -> None:
    stale, fresh = files.root / ".tmp" / "stale", files.root / ".tmp" / "fresh"
    stale.write_bytes(b"crash")
    fresh.write_bytes(b"busy")
    old = time.time() - local.STALE_AFTER - 60
    os.utime(stale, (old, old))
    await files.open()
    assert leftovers(files) == ["fresh"]


async def test_local_io_failure_is_unavailable(files: local.LocalBlobStore) -> None:
    (files.root / ".tmp").rmdir()
    with pytest.raises(errors.Unavailable):
        await files.write("blobs/1", chunks(b"x"))


# -- the S3 store's quirks --------------------------------------------------------------------


@pytest.fixture
async def bucket(moto_s3: MotoS3, s3_bucket: str) -> AsyncIterator[s3.S3BlobStore]:
    opened = s3.S3BlobStore(s3_bucket, endpoint=moto_s3.endpoint, region=REGION)
    await opened.open()
    yield opened
    await opened.close()


def query_of(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


async def test_s3_presigned_put_then_size(
    bucket: s3.S3BlobStore, moto_s3: MotoS3, s3_bucket: str
) -> None:
    target = bucket.upload_target("blobs/1", expires_in=900)
    assert target.url.startswith(f"{moto_s3.endpoint}/{s3_bucket}/blobs/1?")
    assert query_of(target.url)["X-Amz-Expires"] == "900" and target.expires_in == 900
    assert bucket.signer is None  # signed in the query string, with the one header we hand out
    assert target.headers == {"If-None-Match": "*"}
    assert query_of(target.url)["X-Amz-SignedHeaders"] == "host;if-none-match"
    async with httpx.AsyncClient() as http:
        response = await http.put(target.url, content=b"hello s3", headers=target.headers)
        assert response.status_code == 200, response.text
        assert response.headers["etag"] == f'"{hashlib.md5(b"hello s3").hexdigest()}"'
        # A pre-signed URL cannot be revoked: replayed, it must not replace the object.
        replay = await http.put(target.url, content=b"replayed", headers=target.headers)
    assert replay.status_code == 412 and b"PreconditionFailed" in replay.content
    assert await bucket.size("blobs/1") == 8
    assert await read_all(bucket, "blobs/1") == b"hello s3"


async def test_s3_a_declared_size_is_signed_into_the_url(bucket: s3.S3BlobStore) -> None:
    target = bucket.upload_target("blobs/1", expires_in=60, size=8)
    # S3 refuses a body of another length (moto does not check signatures, so it is shown here).
    assert query_of(target.url)["X-Amz-SignedHeaders"] == "content-length;host;if-none-match"


async def test_s3_large_exclusive_writes_never_replace(
    bucket: s3.S3BlobStore, moto_s3: MotoS3, s3_bucket: str
) -> None:
    await bucket.write("blobs/big", chunks(b"small"))
    with pytest.raises(base.ObjectExists):  # more than a part: a multipart upload, conditional
        await bucket.write("blobs/big", chunks(b"x" * s3.PART_SIZE, b"y"), exclusive=True)
    assert await read_all(bucket, "blobs/big") == b"small"
    assert moto_s3.uploads(s3_bucket) == []


async def test_s3_presigned_parts_then_complete(
    bucket: s3.S3BlobStore, moto_s3: MotoS3, s3_bucket: str
) -> None:
    upload = await bucket.start_multipart("blobs/m")
    parts = {1: os.urandom(5 * MiB), 2: os.urandom(5 * MiB), 3: b"tail"}
    async with httpx.AsyncClient() as http:
        for n in (2, 3, 1):
            target = bucket.part_target("blobs/m", upload, n, expires_in=60)
            query = query_of(target.url)
            assert (query["uploadId"], query["partNumber"]) == (upload, str(n))
            response = await http.put(target.url, content=parts[n], headers=target.headers)
            assert response.status_code == 200, response.text
    assert moto_s3.uploads(s3_bucket) == ["blobs/m"]
    assert await bucket.part_sizes("blobs/m", upload) == {1: 5 * MiB, 2: 5 * MiB, 3: 4}
    assert await bucket.complete_multipart("blobs/m", upload, [1, 2, 3]) == 10 * MiB + 4
    whole = parts[1] + parts[2] + parts[3]
    assert hashlib.sha256(await read_all(bucket, "blobs/m")).digest() == (
        hashlib.sha256(whole).digest()
    )
    assert moto_s3.uploads(s3_bucket) == [] and moto_s3.keys(s3_bucket) == ["blobs/m"]


async def test_s3_presigned_get_honours_range(bucket: s3.S3BlobStore) -> None:
    data = bytes(range(256)) * 40
    await bucket.write("blobs/r", chunks(data))
    target = bucket.download_target("blobs/r", expires_in=60)
    async with httpx.AsyncClient() as http:
        whole = await http.get(target.url, headers=target.headers)
        part = await http.get(target.url, headers={**target.headers, "Range": "bytes=100-199"})
    assert (whole.status_code, whole.content) == (200, data)
    assert (part.status_code, part.content) == (206, data[100:200])
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"


async def test_s3_parts_below_the_minimum_refused(bucket: s3.S3BlobStore) -> None:
    assert bucket.min_part_size == 5 * MiB
    upload = await bucket.start_multipart("blobs/m")
    await bucket.write_part("blobs/m", upload, 1, chunks(b"x" * MiB))
    await bucket.write_part("blobs/m", upload, 2, chunks(b"y"))
    with pytest.raises(base.PartTooSmall):
        await bucket.complete_multipart("blobs/m", upload, [1, 2])
    assert await bucket.part_sizes("blobs/m", upload) == {1: MiB, 2: 1}  # nothing changed
    assert await bucket.size("blobs/m") is None
    assert await bucket.complete_multipart("blobs/m", upload, [1]) == MiB  # the last may be small


async def test_s3_large_writes_go_in_parts_and_leave_nothing_when_refused(
    bucket: s3.S3BlobStore, moto_s3: MotoS3, s3_bucket: str
) -> None:
    data = os.urandom(2 * s3.PART_SIZE + 1234)
    pieces = [data[i : i + MiB] for i in range(0, len(data), MiB)]
    assert (await bucket.write("blobs/big", chunks(*pieces))).size == len(data)
    assert hashlib.sha256(await read_all(bucket, "blobs/big")).digest() == (
        hashlib.sha256(data).digest()
    )
    whole_part = b"x" * s3.PART_SIZE
    with pytest.raises(base.TooLarge):  # refused after a part went up
        await bucket.write("blobs/2", chunks(whole_part, b"y" * 11), max_size=s3.PART_SIZE + 10)
    with pytest.raises(ConnectionResetError):
        await bucket.write("blobs/3", failing(whole_part, b"y"))
    assert moto_s3.uploads(s3_bucket) == [] and moto_s3.keys(s3_bucket) == ["blobs/big"]


async def test_s3_down_endpoint_is_unavailable(moto_s3: MotoS3) -> None:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    moto_s3.client.create_bucket(Bucket="dingstore-goes-down")  # moto's buckets are per process
    store = s3.S3BlobStore("dingstore-goes-down", endpoint=endpoint, max_attempts=1)
    await store.open()
    upload = await store.start_multipart("blobs/m")
    server.stop()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.size("blobs/1"),
        lambda: store.write("blobs/1", chunks(b"x")),
        lambda: read_all(store, "blobs/1"),
        lambda: store.delete("blobs/1"),
        lambda: store.delete_prefix("blobs"),
        lambda: store.start_multipart("blobs/m"),
        lambda: store.write_part("blobs/m", upload, 1, chunks(b"x")),
        lambda: store.part_sizes("blobs/m", upload),
        lambda: store.complete_multipart("blobs/m", upload, [1]),
        lambda: store.abort_multipart("blobs/m", upload),
    ]
    for call in calls:
        with pytest.raises(errors.Unavailable) as info:
            await call()
        assert (info.value.status, info.value.message) == (
            503,
            "the object store failed; retry later",
        )
    assert store.download_target("blobs/1", expires_in=60).url.startswith(endpoint)  # offline
    await store.close()
    with pytest.raises(errors.Unavailable, match="unreachable"):
        await s3.S3BlobStore("dingstore-goes-down", endpoint=endpoint, max_attempts=1).open()
    moto_s3.client.delete_bucket(Bucket="dingstore-goes-down")


async def test_s3_open_checks_bucket_and_credentials(
    moto_s3: MotoS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=r"'dingstore-none' .* does not exist"):
        await s3.S3BlobStore("dingstore-none", endpoint=moto_s3.endpoint).open()
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID"):
        await s3.S3BlobStore("dingstore-none", endpoint=moto_s3.endpoint).open()


async def test_s3_upload_ids_are_the_stores_own(bucket: s3.S3BlobStore) -> None:
    for bad in ("", "has space", "x" * 257, "tab\t"):
        with pytest.raises(base.InvalidKey):
            await bucket.part_sizes("blobs/m", bad)
        with pytest.raises(base.InvalidKey):
            bucket.part_target("blobs/m", bad, 1, expires_in=60)
    with pytest.raises(base.UploadNotFound):  # Ceph's shape: valid, unknown
        await bucket.part_sizes("blobs/m", "2~abcDEF_1.2-3")
    with pytest.raises(ValueError):
        bucket.upload_target("blobs/1", expires_in=s3.MAX_EXPIRY + 1)


# -- signing ----------------------------------------------------------------------------------

PATH = "/_blobs/blobs/1"


def test_signature_valid() -> None:
    signer = signing.Signer("secret")
    headers = signer.sign("PUT", PATH, [("uploadId", "u"), ("partNumber", "2")], 900)
    assert headers["Authorization"].startswith("DINGSTORE-HMAC-SHA256 ")
    assert int(headers["x-dingstore-expires"]) == pytest.approx(time.time() + 900, abs=2)
    signer.verify("PUT", PATH, {"partNumber": "2", "uploadId": "u"}, headers)  # any order
    signer.verify(
        "put",
        PATH,
        [("partNumber", "2"), ("uploadId", "u")],
        {
            k.upper(): v
            for k, v in headers.items()  # header names are case-insensitive
        },
    )


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", PATH, None),  # another method
        ("PUT", "/_blobs/blobs/2", None),  # another path
        ("PUT", PATH, {"partNumber": "1"}),  # another query
    ],
)
def test_signature_for_another_request(
    method: str, path: str, query: dict[str, str] | None
) -> None:
    signer = signing.Signer("secret")
    headers = signer.sign("PUT", PATH, None, 900)
    with pytest.raises(signing.SignatureMismatch):
        signer.verify(method, path, query, headers)


def test_signature_tampered_or_other_key() -> None:
    signer = signing.Signer("secret")
    headers = signer.sign("PUT", PATH, None, 900)
    digest = headers["Authorization"].split()[1]
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    tampered = {**headers, "Authorization": f"DINGSTORE-HMAC-SHA256 {flipped}"}
    later = {**headers, "x-dingstore-expires": str(int(headers["x-dingstore-expires"]) + 3600)}
    for bad in (tampered, later):
        with pytest.raises(signing.SignatureMismatch) as info:
            signer.verify("PUT", PATH, None, bad)
        assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(signing.SignatureMismatch):
        signing.Signer("another secret").verify("PUT", PATH, None, headers)


class StoppedClock(Clock):
    """A clock that moves only when told: expiry to the millisecond."""

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def now_ms(self) -> int:
        return self.ms


def test_signature_expired() -> None:
    clock = StoppedClock(1_700_000_000_000)
    signer = signing.Signer("secret", clock=clock)
    headers = signer.sign("GET", PATH, None, 60)
    clock.ms += 60_000
    signer.verify("GET", PATH, None, headers)
    clock.ms += 1
    with pytest.raises(signing.SignatureExpired) as info:
        signer.verify("GET", PATH, None, headers)
    assert info.value.code == "RequestTimeTooSkewed"
    with pytest.raises(ValueError):
        signer.sign("GET", PATH, None, 0)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-dingstore-expires": "9999999999"},
        {"Authorization": "DINGSTORE-HMAC-SHA256 " + "0" * 64},
        {"Authorization": "OSS ak:sig", "x-dingstore-expires": "9999999999"},
        {"Authorization": "DINGSTORE-HMAC-SHA256 xyz", "x-dingstore-expires": "9999999999"},
        {"Authorization": "DINGSTORE-HMAC-SHA256 " + "0" * 64, "x-dingstore-expires": "soon"},
    ],
)
def test_signature_missing_or_malformed(headers: dict[str, str]) -> None:
    with pytest.raises(signing.SignatureMissing) as info:
        signing.Signer("secret").verify("GET", PATH, None, headers)
    assert info.value.code == "AccessDenied"


def test_blob_signatures_use_their_own_key() -> None:
    import hmac

    headers = signing.Signer("secret").sign("GET", PATH, None, 60)
    message = f"GET\n{PATH}\n\n{headers['x-dingstore-expires']}".encode()
    plain = hmac.new(b"secret", message, hashlib.sha256).hexdigest()
    assert headers["Authorization"].split()[1] != plain


# -- choosing a store -------------------------------------------------------------------------


def test_store_chosen_by_url(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k")
    default = stores.blob_store_for(settings)
    assert (
        isinstance(default, local.LocalBlobStore) and default.root == (tmp_path / "blobs").resolve()
    )
    there = stores.blob_store_for(settings.model_copy(update={"blob_url": f"file://{tmp_path}/b"}))
    assert isinstance(there, local.LocalBlobStore) and there.root == (tmp_path / "b").resolve()
    mem = stores.blob_store_for(settings.model_copy(update={"blob_url": "memory://"}))
    assert isinstance(mem, memory.MemoryBlobStore)
    url = "s3://my-bucket.eu?endpoint=http://127.0.0.1:9000&region=eu-west-1"
    bucket = stores.blob_store_for(settings.model_copy(update={"blob_url": url}))
    assert isinstance(bucket, s3.S3BlobStore)
    assert (bucket.bucket, bucket.endpoint, bucket.region) == (
        "my-bucket.eu",
        "http://127.0.0.1:9000",
        "eu-west-1",
    )
    aws = stores.blob_store_for(settings.model_copy(update={"blob_url": "s3://my-bucket"}))
    assert isinstance(aws, s3.S3BlobStore) and (aws.endpoint, aws.region) == (None, "us-east-1")


def test_s3_store_refuses_transfer_urls_longer_than_s3_allows(tmp_path: Path) -> None:
    week = Settings(data_dir=tmp_path, secret_key="k", blob_url="s3://bucket")
    assert isinstance(
        stores.blob_store_for(week.model_copy(update={"transfer_expiry": 604_800})), s3.S3BlobStore
    )
    with pytest.raises(ConfigError, match="TRANSFER_EXPIRY"):
        stores.blob_store_for(week.model_copy(update={"transfer_expiry": 604_801}))


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://bucket/prefix", "names a bucket, not a path"),
        ("s3://Not_A_Bucket", "bucket name"),
        ("s3://ak:secret@bucket", "AWS_ACCESS_KEY_ID"),
        ("s3://bucket?endpoint=ftp://host", "not an http"),
        ("s3://bucket?endpoint=", "not an http"),
        ("s3://bucket?endpoint", "malformed"),
        ("s3://bucket?region=Mars_1", "not a region"),
        ("s3://bucket?bucket=other", "unknown parameters"),
        ("s3://bucket?region=a&region=b", "more than once"),
        ("https://s3.amazonaws.com/bucket", "s3://BUCKET"),
        ("file://relative/path", "absolute"),
        ("ftp://host/x", "not supported"),
        ("/just/a/path", "not supported"),
    ],
)
def test_unsupported_store_urls_refused(tmp_path: Path, url: str, says: str) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k", blob_url=url)
    with pytest.raises(ConfigError, match=says):
        stores.blob_store_for(settings)
