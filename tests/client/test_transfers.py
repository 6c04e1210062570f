"""Uploads and downloads through ``Client``, on both shapes (dingstore's data plane; S3's
pre-signed URLs): small in one PUT and multipart in parallel parts, compared by sha256."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from dingstore.client import Client, DingstoreError
from tests.client.conftest import SMALL_PARTS


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_small_upload_and_download_compare_by_sha256(client: Client, tmp_path: Path) -> None:
    space = client.create_space("transfers")
    data = os.urandom(70_000)
    seen: list[tuple[int, int]] = []
    made = client.upload(
        data, space, "blob.bin", progress=lambda done, total: seen.append((done, total))
    )
    assert (made.name, made.size, made.parent_id) == ("blob.bin", len(data), "0")
    assert seen[-1] == (len(data), len(data))

    assert sha(client.read(made)) == sha(data)
    got: list[tuple[int, int]] = []
    path = client.download(made, tmp_path, progress=lambda done, total: got.append((done, total)))
    assert path == tmp_path / "blob.bin"
    assert sha(path.read_bytes()) == sha(data)
    assert got[-1] == (len(data), len(data))
    assert list(tmp_path.iterdir()) == [path]  # the .part file is gone
    assert client.checksum(made) == hashlib.md5(data).hexdigest()


def test_multipart_upload_in_parallel_parts(
    connect: Callable[..., Client], shape: str, tmp_path: Path
) -> None:
    part = SMALL_PARTS[shape]
    wire = Records()
    client = connect(transport=wire, multipart_threshold=part + 1, part_size=part, parallel=3)
    space = client.create_space("multipart")
    folder = client.create_folder(space, "big")
    source = tmp_path / "source.bin"
    data = os.urandom(2 * part + 12_345)  # three parts, the last one short
    source.write_bytes(data)
    seen: list[int] = []
    made = client.upload(source, folder, progress=lambda done, total: seen.append(done))
    assert (made.name, made.size, made.parent_id) == ("source.bin", len(data), folder.id)
    assert max(seen) == len(data)
    # the documented multipart flow (spec 16-17), not GetFileUploadInfo's multipart flag
    assert any(p.endswith("/files/multiPartUploadInfos/init") for p in wire.paths)
    assert not any(p.endswith("/files/uploadInfos/query") for p in wire.paths)

    target = client.download(made, tmp_path / "copy.bin")
    assert sha(target.read_bytes()) == sha(data)
    # the ETag: the MD5 of the parts' MD5s, and their count
    assert client.transfers.part_size == part
    parts = [hashlib.md5(data[at : at + part]).digest() for at in range(0, len(data), part)]
    assert client.checksum(made) == f"{hashlib.md5(b''.join(parts)).hexdigest()}-3"


def test_a_file_at_the_threshold_goes_in_one_part(
    connect: Callable[..., Client], shape: str
) -> None:
    part = SMALL_PARTS[shape]
    client = connect(multipart_threshold=part, part_size=part)
    space = client.create_space()
    data = os.urandom(part)
    made = client.upload(data, space, "one.bin")
    assert sha(client.read(made)) == sha(data)


def test_versions_revert_and_download_of_an_old_version(client: Client) -> None:
    space = client.create_space()
    first = client.upload(b"one", space, "v.txt")
    second = client.upload(b"two", space, "v.txt", conflict="OVERWRITE")
    assert second.id == first.id
    third = client.upload(b"three", space, "ignored-name", overwrite=first)
    assert (third.id, third.name) == (first.id, "v.txt")

    versions = list(client.versions(first))
    assert [v.version for v in versions] == [3, 2, 1]
    assert client.read(first, version=1) == b"one"

    client.revert(first, 1)
    assert client.read(first) == b"one"
    assert next(iter(client.versions(first))).version == 4


def test_a_failed_transfer_raises_with_the_code(client: Client, tmp_path: Path) -> None:
    space = client.create_space()
    folder = client.create_folder(space, "f")
    with pytest.raises(DingstoreError) as info:
        client.read(folder)
    assert (info.value.code, info.value.status) == ("operationNotSupported", 400)
    with pytest.raises(ValueError):
        client.upload(b"x", space)
    missing = tmp_path / "nothing-here"
    with pytest.raises(FileNotFoundError):
        client.upload(missing, space)


class Records(httpx.HTTPTransport):
    """Notes the path of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return super().handle_request(request)


class LosesEveryOtherTransfer(httpx.HTTPTransport):
    """Drops the answer of every other request to the data plane (not the API) as if the
    connection broke after the server did its part."""

    def __init__(self) -> None:
        super().__init__()
        self.lost = 0
        self._odd = True

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if request.url.path.startswith(("/v1.0/", "/dingstore/")):
            return response
        self._odd = not self._odd
        if self._odd:
            return response
        self.lost += 1
        response.close()
        raise httpx.ReadError("connection lost", request=request)


def test_lost_answers_of_the_data_plane_are_made_again(
    connect: Callable[..., Client], shape: str
) -> None:
    part = SMALL_PARTS[shape]
    wire = LosesEveryOtherTransfer()
    client = connect(transport=wire, multipart_threshold=part + 1, part_size=part, parallel=1)
    space = client.create_space()
    small = client.upload(b"small", space, "s.txt")  # stored, then refused as stored: done
    assert client.read(small) == b"small"  # the GET again
    data = os.urandom(part + 10)
    big = client.upload(data, space, "b.bin")  # each part sent again: it replaces itself
    assert sha(client.read(big)) == sha(data)
    assert wire.lost == 5  # the PUT, a GET, two parts, a GET: each answered the second time
