"""Uploads and downloads through the official SDK with the scale-out blob store: an S3 bucket on
moto's server, with the metadata database of each shape (SQLite beside S3 is a deployment too).
The bytes go to, and come from, the bucket's own pre-signed URLs, never through dingstore;
CommitFile checks them in the bucket; collected blobs leave it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import pytest

from tests.conftest import new_tenant, sdk_error
from tests.live import LiveServer, Sdk, http
from tests.s3 import MotoS3
from tests.storage import Storage

KB = 1024
MB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def storage_on(server: LiveServer) -> Storage:
    sdk = Sdk(server.endpoint)
    return Storage.of(server, sdk, new_tenant(server, sdk))


@pytest.fixture
def bucket_server(
    make_server: Callable[..., LiveServer], moto_s3: MotoS3, s3_bucket: str
) -> LiveServer:
    return make_server(blob_url=moto_s3.url(s3_bucket), blob_grace=0)


@pytest.fixture
def st(bucket_server: LiveServer) -> Storage:
    return storage_on(bucket_server)


def test_upload_and_download_go_straight_to_the_bucket(
    st: Storage, bucket_server: LiveServer, moto_s3: MotoS3, s3_bucket: str
) -> None:
    space = st.new_space()
    data = os.urandom(3 * MB + 17)
    info = st.upload_info(space.id)
    bucket_url = f"{moto_s3.endpoint}/{s3_bucket}/blobs/"
    assert info.header_signature_info.resource_urls[0].startswith(bucket_url)
    assert st.put(info, data).status_code == 200
    dentry = st.commit(space.id, info.upload_key, "photo.jpg", size=len(data))
    assert (dentry.size, dentry.category, st.used_quota(space.id)) == (
        len(data),
        "IMAGE",
        len(data),
    )

    download = st.download_info(space.id, dentry.id).header_signature_info
    assert download.resource_urls[0].startswith(bucket_url)
    whole = http.get(download.resource_urls[0], headers=download.headers)
    assert whole.status_code == 200 and sha(whole.content) == sha(data)
    ranged = http.get(
        download.resource_urls[0], headers={**download.headers, "Range": "bytes=10-19"}
    )
    assert (ranged.status_code, ranged.content) == (206, data[10:20])

    key = moto_s3.keys(s3_bucket)[0]
    assert http.get(f"{bucket_server.url}/_blobs/{key}").status_code == 404  # no data plane here


def test_multipart_upload_is_an_s3_multipart_upload(
    st: Storage, moto_s3: MotoS3, s3_bucket: str
) -> None:
    space = st.new_space()
    parts = [os.urandom(5 * MB), os.urandom(5 * MB), os.urandom(10 * KB)]
    info = st.upload_info(space.id, multipart=True)
    targets = st.part_infos(info.upload_key, [3, 1, 2])
    for number in (2, 3, 1):  # any order; assembled by part number
        target = targets[number]
        response = http.put(
            target.resource_urls[0], content=parts[number - 1], headers=target.headers
        )
        assert response.status_code == 200, response.text
    assert len(moto_s3.uploads(s3_bucket)) == 1 and moto_s3.keys(s3_bucket) == []
    whole = b"".join(parts)
    dentry = st.commit(space.id, info.upload_key, "big.zip", size=len(whole))
    assert dentry.size == len(whole)
    assert sha(st.download(space.id, dentry.id)) == sha(whole)
    assert moto_s3.uploads(s3_bucket) == [] and len(moto_s3.keys(s3_bucket)) == 1


def test_commit_checks_the_object_in_the_bucket(
    st: Storage, moto_s3: MotoS3, s3_bucket: str
) -> None:
    space = st.new_space()
    info = st.upload_info(space.id)
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "early.txt"))
    assert (err.statusCode, err.code) == (400, "dentryUploadError")  # nothing in the bucket yet
    assert st.put(info, b"z" * 100).status_code == 200
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "x.txt", size=99))
    assert (err.statusCode, err.code) == (400, "dentryUploadError")  # not the declared size
    moto_s3.client.delete_object(Bucket=s3_bucket, Key=moto_s3.keys(s3_bucket)[0])
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "x.txt", size=100))
    assert (err.statusCode, err.code) == (400, "dentryUploadError")  # gone from the bucket
    assert st.list_dentries(space.id) == [] and st.used_quota(space.id) == 0
    assert st.put(info, b"z" * 100).status_code == 200
    assert st.commit(space.id, info.upload_key, "x.txt", size=100).size == 100

    # Parts DingTalk accepts (100 KB and up) but S3 does not: every part but the last is 5 MiB.
    multi = st.upload_info(space.id, multipart=True)
    for target in st.part_infos(multi.upload_key, [1, 2]).values():
        data = os.urandom(200 * KB)
        response = http.put(target.resource_urls[0], content=data, headers=target.headers)
        assert response.status_code == 200, response.text
    err = sdk_error(lambda: st.commit(space.id, multi.upload_key, "small-parts.bin"))
    assert (err.statusCode, err.code) == (400, "dentryUploadError")
    assert "5120 KB" in err.message


def test_collected_blobs_leave_the_bucket(
    st: Storage, bucket_server: LiveServer, moto_s3: MotoS3, s3_bucket: str
) -> None:
    space = st.new_space()
    dentry = st.upload(space.id, b"short-lived bytes", "a.txt")
    assert len(moto_s3.keys(s3_bucket)) == 1
    st.delete(space.id, dentry.id)
    assert bucket_server.run(bucket_server.services.housekeeper.sweep())["blobs"] == 1
    assert moto_s3.keys(s3_bucket) == []


def test_expired_uploads_leave_the_bucket(
    make_server: Callable[..., LiveServer], moto_s3: MotoS3, s3_bucket: str
) -> None:
    server = make_server(blob_url=moto_s3.url(s3_bucket), upload_ttl=60)
    st = storage_on(server)
    space = st.new_space()
    single = st.upload_info(space.id)
    assert st.put(single, b"abandoned").status_code == 200
    multi = st.upload_info(space.id, multipart=True)
    target = st.part_infos(multi.upload_key, [1])[1]
    assert http.put(target.resource_urls[0], content=b"part", headers=target.headers).is_success
    assert len(moto_s3.keys(s3_bucket)) == 1 and len(moto_s3.uploads(s3_bucket)) == 1
    server.clock.advance(60.1)
    assert server.run(server.services.housekeeper.sweep())["uploads"] == 2
    assert moto_s3.keys(s3_bucket) == [] and moto_s3.uploads(s3_bucket) == []


def test_committed_bytes_cannot_be_replaced_through_their_upload_urls(
    st: Storage, moto_s3: MotoS3, s3_bucket: str
) -> None:
    space, other = st.new_space(), st.new_space()
    first = st.upload_info(space.id)
    put = st.put(first, b"original")
    assert put.headers["etag"] == f'"{hashlib.md5(b"original").hexdigest()}"'
    dentry = st.commit(space.id, first.upload_key, "a.txt")
    copy = st.copy(space.id, dentry.id, other.id).dentry
    st.upload(space.id, b"version two", "a.txt", overwrite_dentry_id=dentry.id)
    multi = st.upload_info(space.id, multipart=True)
    part = st.part_infos(multi.upload_key, [1])[1]
    assert http.put(part.resource_urls[0], content=b"part one", headers=part.headers).is_success
    assembled = st.commit(space.id, multi.upload_key, "m.bin")
    used, keys = st.used_quota(space.id), moto_s3.keys(s3_bucket)

    # A pre-signed URL cannot be revoked: the replay is refused by the object store itself.
    replay = st.put(first, b"tampered")
    assert replay.status_code == 412 and b"PreconditionFailed" in replay.content
    # The completed upload is gone: S3 answers 404 NoSuchUpload (moto 5.2 fails on a KeyError).
    replay = http.put(part.resource_urls[0], content=b"part two", headers=part.headers)
    assert replay.status_code in (404, 500) and not replay.is_success
    assert st.download(space.id, dentry.id) == b"version two"
    assert st.download(space.id, dentry.id, version=1) == b"original"
    assert st.download(other.id, copy.id) == b"original"
    assert st.download(space.id, assembled.id) == b"part one"
    assert (st.used_quota(space.id), moto_s3.keys(s3_bucket)) == (used, keys)
    assert moto_s3.uploads(s3_bucket) == []
