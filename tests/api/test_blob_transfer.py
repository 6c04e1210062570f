"""The data plane through real HTTP: signed PUTs and GETs against ``/_blobs/{key}``, with the
targets the blob store hands out (what GetFileUploadInfo / GetFileDownloadInfo will return).

Only the embedded shape has this data plane; in the scale-out shape the object store answers
transfers itself (``tests/test_s3_files.py``)."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from alibabacloud_dingtalk.storage_1_0 import models as m

from dingstore.api import protocol
from dingstore.api.routes.blobs import RangeNotSatisfiable, parse_range
from dingstore.blobs import base, signing
from dingstore.clock import ManualClock
from tests import backends
from tests.conftest import Tenant, new_tenant
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

# the tests write to fixed blob keys, so each needs a store of its own
pytestmark = [pytest.mark.shapes(backends.EMBEDDED), pytest.mark.own_server]

MB = 1_000_000


def store(server: LiveServer) -> base.BaseBlobStore:
    return server.services.blobs


def stored(server: LiveServer, key: str) -> bytes | None:
    blobs = store(server)

    async def read() -> bytes | None:
        if await blobs.size(key) is None:
            return None
        return b"".join([chunk async for chunk in blobs.read(key)])

    return server.run(read())


def put(
    target: base.Transfer, content: Any, headers: dict[str, str] | None = None
) -> httpx.Response:
    return http.put(target.url, content=content, headers=headers or target.headers, timeout=60)


def get(target: base.Transfer, **headers: str) -> httpx.Response:
    return http.get(target.url, headers={**target.headers, **headers}, timeout=60)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put_object(server: LiveServer, key: str, data: bytes) -> None:
    response = put(store(server).upload_target(key, expires_in=60), data)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("size", [0, 1, 10 * MB])
def test_upload_then_download_byte_for_byte(server: LiveServer, size: int) -> None:
    data = os.urandom(size)
    target = store(server).upload_target("blobs/1", expires_in=900)
    response = put(target, data)
    assert response.status_code == 200
    assert response.json() == {"key": "blobs/1", "size": size}
    kept = stored(server, "blobs/1")
    assert kept is not None and sha(kept) == sha(data)

    download = get(store(server).download_target("blobs/1", expires_in=900))
    assert download.status_code == 200
    assert download.headers["content-length"] == str(size)
    assert download.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == f'"{hashlib.md5(data).hexdigest()}"'  # as OSS and S3
    assert download.headers["etag"] == response.headers["etag"]
    assert sha(download.content) == sha(data)


def _tampered(headers: dict[str, str]) -> dict[str, str]:
    digest = headers["Authorization"][-64:]
    flipped = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    return {**headers, "Authorization": headers["Authorization"][:-64] + flipped}


def _expired(server: LiveServer, method: str, key: str) -> dict[str, str]:
    past = ManualClock()
    past.advance(-3600)
    signer = signing.Signer(server.settings.resolved_secret_key(), clock=past)
    return signer.sign(method, f"/_blobs/{key}", None, 900)


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("tampered", "SignatureDoesNotMatch"),
        ("other key", "SignatureDoesNotMatch"),
        ("download signature", "SignatureDoesNotMatch"),
        ("expired", "RequestTimeTooSkewed"),
        ("missing", "AccessDenied"),
    ],
)
def test_bad_upload_signatures_store_nothing(server: LiveServer, case: str, code: str) -> None:
    blobs = store(server)
    target = blobs.upload_target("blobs/1", expires_in=900)
    headers: dict[str, str] = {
        "tampered": lambda: _tampered(target.headers),
        "other key": lambda: blobs.upload_target("blobs/2", expires_in=900).headers,
        "download signature": lambda: blobs.download_target("blobs/1", expires_in=900).headers,
        "expired": lambda: _expired(server, "PUT", "blobs/1"),
        "missing": lambda: {"Content-Type": "application/octet-stream"},
    }[case]()
    response = put(target, b"payload", headers)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == code and body["message"] and body["requestid"]
    assert stored(server, "blobs/1") is None and stored(server, "blobs/2") is None


def test_bad_download_signatures_and_missing_objects(server: LiveServer) -> None:
    blobs = store(server)
    put_object(server, "blobs/1", b"secret bytes")
    target = blobs.download_target("blobs/1", expires_in=900)
    refused = {
        "SignatureDoesNotMatch": _tampered(target.headers),
        "RequestTimeTooSkewed": _expired(server, "GET", "blobs/1"),
    }
    for code, headers in refused.items():
        response = http.get(target.url, headers=headers)
        assert (response.status_code, response.json()["code"]) == (403, code)
    upload_headers = blobs.upload_target("blobs/1", expires_in=900).headers
    assert http.get(target.url, headers=upload_headers).status_code == 403
    missing = get(blobs.download_target("blobs/none", expires_in=900))
    assert (missing.status_code, missing.json()["code"]) == (404, "NoSuchKey")
    other = http.post(target.url, headers=target.headers)
    assert (other.status_code, other.json()["code"]) == (405, "MethodNotAllowed")


DATA = bytes(range(256)) * 4  # 1,024 bytes


@pytest.mark.parametrize(
    ("headers", "status", "served"),
    [
        ({"Range": "bytes=0-99"}, 206, (0, 100)),
        ({"Range": "bytes=1000-"}, 206, (1000, 1024)),
        ({"Range": "bytes=-24"}, 206, (1000, 1024)),
        ({"Range": "bytes=10-19,30-39"}, 206, (10, 20)),  # only the first range
        ({"Range": "bytes=abc"}, 200, None),  # bad syntax: whole object
        ({"Range": "items=0-9"}, 200, None),
        ({"Range": "bytes=9-5"}, 200, None),
        ({"Range": "bytes=0-1024"}, 200, None),  # past the end: whole object
        ({"Range": "bytes=1024-"}, 200, None),
        ({"Range": "bytes=-2000"}, 200, None),
        ({"Range": "bytes=500-5000", "x-oss-range-behavior": "standard"}, 206, (500, 1024)),
        ({"Range": "bytes=-2000", "x-oss-range-behavior": "standard"}, 206, (0, 1024)),
    ],
)
def test_download_ranges(
    server: LiveServer, headers: dict[str, str], status: int, served: tuple[int, int] | None
) -> None:
    put_object(server, "blobs/r", DATA)
    response = get(store(server).download_target("blobs/r", expires_in=900), **headers)
    assert response.status_code == status
    start, end = served or (0, len(DATA))
    assert response.content == DATA[start:end]
    assert response.headers["content-length"] == str(end - start)
    if served:
        assert response.headers["content-range"] == f"bytes {start}-{end - 1}/{len(DATA)}"
    else:
        assert "content-range" not in response.headers


def test_standard_range_past_the_end_is_416(server: LiveServer) -> None:
    put_object(server, "blobs/r", DATA)
    target = store(server).download_target("blobs/r", expires_in=900)
    response = get(target, Range="bytes=1024-2000", **{"x-oss-range-behavior": "standard"})
    assert response.status_code == 416
    assert response.json()["code"] == "InvalidRange"
    assert response.headers["content-range"] == "bytes */1024"


def test_head_answers_headers_only(server: LiveServer) -> None:
    put_object(server, "blobs/r", DATA)
    target = store(server).download_target("blobs/r", expires_in=900)
    response = http.head(target.url, headers={**target.headers, "Range": "bytes=0-9"})
    assert response.status_code == 206 and response.content == b""
    assert response.headers["content-length"] == "10"
    assert response.headers["content-range"] == "bytes 0-9/1024"


def test_multipart_parts_then_complete(server: LiveServer) -> None:
    blobs = store(server)
    upload = server.run(blobs.start_multipart("blobs/m"))
    parts = {1: os.urandom(150_000), 2: os.urandom(120_000), 3: b"tail"}
    for n in (2, 3, 1):
        response = put(blobs.part_target("blobs/m", upload, n, expires_in=900), parts[n])
        assert response.status_code == 200, response.text
        assert response.json() == {
            "key": "blobs/m",
            "uploadId": upload,
            "partNumber": n,
            "size": len(parts[n]),
        }
        assert response.headers["etag"] == f'"{hashlib.md5(parts[n]).hexdigest()}"'
    # a part's signature is for its own part number
    target = blobs.part_target("blobs/m", upload, 4, expires_in=900)
    forged = http.put(
        target.url.replace("partNumber=4", "partNumber=1"), content=b"x", headers=target.headers
    )
    assert forged.status_code == 403
    assert server.run(blobs.part_sizes("blobs/m", upload)) == {n: len(p) for n, p in parts.items()}
    assert server.run(blobs.complete_multipart("blobs/m", upload, [1, 2, 3])) == 270_004
    download = get(blobs.download_target("blobs/m", expires_in=900))
    assert sha(download.content) == sha(parts[1] + parts[2] + parts[3])
    of_parts = b"".join(hashlib.md5(parts[n]).digest() for n in (1, 2, 3))
    assert download.headers["etag"] == f'"{hashlib.md5(of_parts).hexdigest()}-3"'  # as S3
    late = put(blobs.part_target("blobs/m", upload, 4, expires_in=900), b"late")
    assert (late.status_code, late.json()["code"]) == (404, "NoSuchUpload")


def test_bodies_over_the_limit_store_nothing(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(blob_max_object_size=1000, blob_max_part_size=500)
    blobs = store(server)

    def streamed(size: int) -> Iterator[bytes]:  # no Content-Length: chunked
        yield b"x" * (size // 2)
        yield b"x" * (size - size // 2)

    assert put(blobs.upload_target("blobs/ok", expires_in=900), b"x" * 1000).status_code == 200
    for body in (b"x" * 1001, streamed(1001)):
        response = put(blobs.upload_target("blobs/big", expires_in=900), body)
        assert (response.status_code, response.json()["code"]) == (400, "EntityTooLarge")
    assert stored(server, "blobs/big") is None
    upload = server.run(blobs.start_multipart("blobs/m"))
    for body in (b"x" * 501, streamed(501)):
        response = put(blobs.part_target("blobs/m", upload, 1, expires_in=900), body)
        assert (response.status_code, response.json()["code"]) == (400, "EntityTooLarge")
    assert server.run(blobs.part_sizes("blobs/m", upload)) == {}


def test_a_body_shorter_than_its_content_length_stores_nothing(server: LiveServer) -> None:
    target = store(server).upload_target("blobs/cut", expires_in=900)
    path = target.url.removeprefix(server.url)
    head = f"PUT {path} HTTP/1.1\r\nHost: {server.endpoint}\r\nContent-Length: 100000\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in target.headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.settings.port), timeout=10) as sock:
        sock.sendall(head.encode() + b"x" * 50_000)
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(65536):
            pass
    time.sleep(0.2)
    assert stored(server, "blobs/cut") is None
    assert put(target, b"y" * 10).status_code == 200  # the server is fine


def test_slow_transfers_are_not_cut_by_the_request_deadline(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(request_timeout=0.3)

    def slowly() -> Iterator[bytes]:
        for _ in range(3):
            time.sleep(0.2)
            yield b"z" * 1000

    response = put(store(server).upload_target("blobs/slow", expires_in=900), slowly())
    assert response.status_code == 200
    assert stored(server, "blobs/slow") == b"z" * 3000


def streamed(body: bytes) -> Iterator[bytes]:  # no Content-Length: chunked
    yield body[: len(body) // 2]
    yield body[len(body) // 2 :]


def error_of(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["message"] and body["requestid"]
    return response.status_code, body["code"]


def test_an_upload_target_takes_bytes_once(server: LiveServer) -> None:
    target = store(server).upload_target("blobs/1", expires_in=900)
    assert put(target, b"first").status_code == 200
    for body in (b"again", streamed(b"other bytes"), b""):
        assert error_of(put(target, body)) == (409, "FileAlreadyExists")
    assert stored(server, "blobs/1") == b"first"


def test_a_committed_upload_cannot_be_replayed(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    st = Storage.of(server, sdk, tenant)
    space, other = st.new_space(), st.new_space()
    first = st.upload_info(space.id)
    assert st.put(first, b"original").status_code == 200
    dentry = st.commit(space.id, first.upload_key, "a.txt")
    copy = st.copy(space.id, dentry.id, other.id).dentry
    st.upload(space.id, b"version two", "a.txt", overwrite_dentry_id=dentry.id)
    used = st.used_quota(space.id)

    assert error_of(st.put(first, b"tampered")) == (409, "FileAlreadyExists")
    assert st.download(space.id, dentry.id) == b"version two"
    assert st.download(space.id, dentry.id, version=1) == b"original"
    assert st.download(other.id, copy.id) == b"original"
    assert st.used_quota(space.id) == used


def test_a_committed_multipart_upload_takes_no_more_parts(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    info = st.upload_info(space.id, multipart=True)
    part = st.part_infos(info.upload_key, [1])[1]
    assert http.put(part.resource_urls[0], content=b"part one", headers=part.headers).is_success
    dentry = st.commit(space.id, info.upload_key, "m.bin")
    replay = http.put(part.resource_urls[0], content=b"part two", headers=part.headers)
    assert error_of(replay) == (404, "NoSuchUpload")
    assert st.download(space.id, dentry.id) == b"part one"


def test_an_upload_url_dies_with_its_upload(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(upload_ttl=1)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    info = st.upload_info(st.new_space().id)
    assert info.header_signature_info.expiration_seconds == 1  # not DINGSTORE_TRANSFER_EXPIRY
    server.clock.advance(2.1)
    assert server.run(server.services.housekeeper.sweep())["uploads"] == 1
    assert error_of(st.put(info, b"late")) == (403, "RequestTimeTooSkewed")
    key = info.header_signature_info.resource_urls[0].split("/_blobs/")[1]
    assert stored(server, key) is None


def declared(size: int) -> m.GetFileUploadInfoRequestOptionPreCheckParam:
    return m.GetFileUploadInfoRequestOptionPreCheckParam(size=size)


def test_a_put_carries_exactly_the_declared_size(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    info = st.upload_info(space.id, pre_check=declared(100))
    for body, code in [
        (b"x" * 101, "EntityTooLarge"),
        (streamed(b"x" * 101), "EntityTooLarge"),
        (b"x" * 99, "IncompleteBody"),
        (streamed(b"x" * 99), "IncompleteBody"),
    ]:
        assert error_of(st.put(info, body)) == (400, code)
    assert st.put(info, b"y" * 100).status_code == 200
    assert st.commit(space.id, info.upload_key, "a.txt").size == 100


def test_a_declared_size_is_checked_before_any_byte_is_read(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    st = Storage.of(server, sdk, tenant)
    signature = st.upload_info(st.new_space().id, pre_check=declared(100)).header_signature_info
    path = signature.resource_urls[0].removeprefix(server.url)
    head = f"PUT {path} HTTP/1.1\r\nHost: {server.endpoint}\r\nContent-Length: 1000000\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in signature.headers.items()) + "\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", server.settings.port), timeout=5) as sock:
        sock.sendall(head.encode())  # and not one byte of the body
        while b"}" not in answer and (received := sock.recv(65536)):
            answer += received
    assert answer.startswith(b"HTTP/1.1 400") and b"EntityTooLarge" in answer


def test_no_part_is_larger_than_the_declared_size(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    st = Storage.of(server, sdk, tenant)
    info = st.upload_info(st.new_space().id, multipart=True, pre_check=declared(1000))
    part = st.part_infos(info.upload_key, [1])[1]
    for body in (b"x" * 1001, streamed(b"x" * 1001)):
        response = http.put(part.resource_urls[0], content=body, headers=part.headers)
        assert error_of(response) == (400, "EntityTooLarge")
    assert http.put(part.resource_urls[0], content=b"x" * 1000, headers=part.headers).is_success


@pytest.mark.parametrize(
    ("header", "size", "standard", "expected"),
    [
        (None, 10, False, None),
        ("bytes=0-0", 10, False, (0, 1)),
        ("bytes = 2 - 4", 10, False, (2, 5)),
        ("BYTES=5-", 10, False, (5, 10)),
        ("bytes=-", 10, False, None),
        ("bytes=-0", 10, False, None),
        ("bytes=" + "9" * 30 + "-", 10, False, None),
        ("bytes=0-", 0, False, None),
        ("bytes=-5", 0, False, None),
        ("bytes=0-20", 10, True, (0, 10)),
    ],
)
def test_parse_range(
    header: str | None, size: int, standard: bool, expected: tuple[int, int] | None
) -> None:
    assert parse_range(header, size, standard=standard) == expected


@pytest.mark.parametrize(("header", "size"), [("bytes=0-", 0), ("bytes=-5", 0), ("bytes=10-", 10)])
def test_parse_range_unsatisfiable_in_standard_mode(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, size, standard=True)


def test_downloads_are_sent_by_the_kernel_and_keep_the_connection(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: list[int] = []
    sendfile = os.sendfile

    def counting(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        n = sendfile(out_fd, in_fd, offset, count)
        sent.append(n)
        return n

    monkeypatch.setattr(protocol.os, "sendfile", counting)
    data = os.urandom(3 * MB)
    put_object(server, "blobs/z", data)
    target = store(server).download_target("blobs/z", expires_in=900)
    with httpx.Client(timeout=60) as client:  # one keep-alive connection
        whole = client.get(target.url, headers=target.headers)
        part = client.get(target.url, headers={**target.headers, "Range": "bytes=10-19"})
        head = client.head(target.url, headers=target.headers)
    assert whole.status_code == 200 and sha(whole.content) == sha(data)
    assert part.status_code == 206 and part.content == data[10:20]
    assert head.status_code == 200 and head.headers["content-length"] == str(len(data))
    assert sum(sent) == len(data) + 10


def test_a_client_leaving_mid_download_leaves_the_server_serving(server: LiveServer) -> None:
    put_object(server, "blobs/z", os.urandom(20 * MB))
    target = store(server).download_target("blobs/z", expires_in=900)
    for _ in range(3):
        with http.stream("GET", target.url, headers=target.headers, timeout=60) as response:
            assert response.status_code == 200
            next(response.iter_raw(65536))  # then the connection is closed, unread
    again = get(target)
    assert again.status_code == 200 and len(again.content) == 20 * MB
