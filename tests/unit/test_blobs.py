"""The blob-store seam: one conformance suite run against every store, then each store's quirks,
the signer of the data plane, and choosing a store by URL."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from dingstore.blobs import base, local, memory, signing, stores
from dingstore.settings import Settings

MiB = 1024 * 1024
PUBLIC = "http://blobs.example:8080"


@pytest.fixture(params=["local", "memory"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[base.BaseBlobStore]:
    signer = signing.Signer("test-secret")
    opened: base.BaseBlobStore
    if request.param == "local":
        opened = local.LocalBlobStore(tmp_path / "blobs", signer, PUBLIC)
    else:
        opened = memory.MemoryBlobStore(signer, PUBLIC)
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
    assert await store.write("blobs/1", chunks(b"hello", b" ", b"world")) == 11
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
    assert await store.write("blobs/empty", chunks()) == 0
    assert await store.size("blobs/empty") == 0
    assert await read_all(store, "blobs/empty") == b""


async def test_multi_mib_object_streams_in_chunks(store: base.BaseBlobStore) -> None:
    data = os.urandom(3 * MiB + 12_345)
    pieces = [data[i : i + 65_536] for i in range(0, len(data), 65_536)]
    assert await store.write("blobs/big", chunks(*pieces)) == len(data)
    got = [chunk async for chunk in store.read("blobs/big")]
    assert len(got) >= 4 and max(map(len, got)) <= base.CHUNK_SIZE
    assert hashlib.sha256(b"".join(got)).digest() == hashlib.sha256(data).digest()
    tail = await read_all(store, "blobs/big", MiB - 3, 2 * MiB + 7)
    assert tail == data[MiB - 3 : 2 * MiB + 7]


async def test_max_size_refusal_publishes_nothing(store: base.BaseBlobStore) -> None:
    assert await store.write("blobs/fits", chunks(b"12345", b"67890"), max_size=10) == 10
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
    assert await writing == await new == 2 * MiB + 1
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
        assert await store.write_part("blobs/m", upload, n, chunks(parts[n])) == len(parts[n])
    assert await store.write_part("blobs/m", upload, 2, chunks(b"B" * n2)) == n2  # replaced
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
    with pytest.raises(base.UploadNotFound):  # an upload belongs to its key
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


async def test_transfer_targets_point_at_the_signed_data_plane(store: base.BaseBlobStore) -> None:
    assert store.signer is not None
    up = store.upload_target("blobs/1", expires_in=900)
    assert up.url == f"{PUBLIC}/_blobs/blobs/1" and up.expires_in == 900
    assert set(up.headers) == {"Authorization", "x-dingstore-expires"}
    store.signer.verify("PUT", "/_blobs/blobs/1", [], up.headers)
    with pytest.raises(signing.SignatureMismatch):
        store.signer.verify("GET", "/_blobs/blobs/1", [], up.headers)
    down = store.download_target("blobs/1", expires_in=60)
    store.signer.verify("GET", "/_blobs/blobs/1", None, down.headers)
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
    from dingstore import errors

    (files.root / ".tmp").rmdir()
    with pytest.raises(errors.Unavailable):
        await files.write("blobs/1", chunks(b"x"))


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


def test_signature_expired() -> None:
    now = [1_700_000_000.0]
    signer = signing.Signer("secret", clock=lambda: now[0])
    headers = signer.sign("GET", PATH, None, 60)
    now[0] += 60
    signer.verify("GET", PATH, None, headers)
    now[0] += 1
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


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("s3://bucket/prefix", "not supported yet"),
        ("file://relative/path", "absolute"),
        ("ftp://host/x", "not supported"),
        ("/just/a/path", "not supported"),
    ],
)
def test_unsupported_store_urls_refused(tmp_path: Path, url: str, says: str) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="k", blob_url=url)
    with pytest.raises(stores.UnsupportedBlobUrl, match=says):
        stores.blob_store_for(settings)
