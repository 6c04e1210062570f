"""Uploads, downloads, versions and app properties through the official SDK (spec §6 D, F, G),
with the bytes moved exactly as a client would move them (the returned URL and headers), to
dingstore's data plane or to the object store, whichever the shape's server hands out.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable

import httpx
import pytest
import sqlalchemy as sa
from alibabacloud_dingtalk.storage_1_0 import models as m

from dingstore.store.schema import dentries, uploads
from tests import backends
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

KB = 1024
MB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def blob_exists(server: LiveServer, blob_key: str) -> bool:
    return server.run(server.services.blobs.size(blob_key)) is not None


def _blob_key(server: LiveServer, blob_id: sa.Select[tuple[int]]) -> str:

    async def read() -> int:
        async with server.services.db.read() as conn:
            return int((await conn.execute(blob_id)).scalar_one())

    return f"blobs/{server.run(read())}"


def blob_of(server: LiveServer, dentry_id: str) -> str:
    """The object key of a file's current blob."""
    return _blob_key(server, sa.select(dentries.c.blob_id).where(dentries.c.id == int(dentry_id)))


def blob_of_upload(server: LiveServer, upload_key: str) -> str:
    """The object key an upload's bytes go to."""
    return _blob_key(server, sa.select(uploads.c.blob_id).where(uploads.c.upload_key == upload_key))


def min_part(server: LiveServer) -> int:
    """The fewest bytes a part but the last may hold: DingTalk's 100 KB, or the blob store's
    minimum when larger (S3: 5 MiB)."""
    return max(100 * KB, server.services.blobs.min_part_size)


@pytest.mark.parametrize("size", [0, 1, 10 * MB])
def test_upload_then_download_is_byte_identical(st: Storage, size: int) -> None:
    space = st.new_space()
    data = os.urandom(size)
    dentry = st.upload(space.id, data, "blob.bin")
    assert (dentry.type, dentry.name, dentry.size, dentry.version) == ("FILE", "blob.bin", size, 1)
    assert (dentry.extension, dentry.category, dentry.path) == ("bin", "OTHER", "/blob.bin")
    assert sha(st.download(space.id, dentry.id)) == sha(data)
    assert st.used_quota(space.id) == size


def test_three_part_multipart_upload(st: Storage) -> None:
    space = st.new_space()
    minimum = min_part(st.server)  # a part above it, one of exactly it, a small last one
    parts = [os.urandom(minimum + 50 * KB), os.urandom(minimum), os.urandom(10 * KB)]
    init = st._api.init_multipart_file_upload_with_options(
        space.id,
        m.InitMultipartFileUploadRequest(union_id=st.union_id),
        st._h(m.InitMultipartFileUploadHeaders),
        st._rt,
    ).body
    infos = st._api.get_multipart_file_upload_infos_with_options(
        m.GetMultipartFileUploadInfosRequest(
            union_id=st.union_id, upload_key=init.upload_key, part_numbers=[3, 1, 2]
        ),
        st._h(m.GetMultipartFileUploadInfosHeaders),
        st._rt,
    ).body.multipart_header_signature_infos
    by_number = {i.part_number: i.header_signature_info for i in infos}
    assert sorted(by_number) == [1, 2, 3]
    for number in (2, 3, 1):  # any order; assembled by part number
        info = by_number[number]
        response = http.put(info.resource_urls[0], content=parts[number - 1], headers=info.headers)
        assert response.status_code == 200, response.text
    whole = b"".join(parts)
    dentry = st.commit(space.id, init.upload_key, "big.zip", size=len(whole))
    assert (dentry.size, dentry.category) == (len(whole), "ARCHIVE")
    assert sha(st.download(space.id, dentry.id)) == sha(whole)


def test_multipart_errors(st: Storage) -> None:
    space = st.new_space()
    info = st.upload_info(space.id, multipart=True)
    assert info.header_signature_info is None  # parts come from GetMultipartFileUploadInfos

    def part_infos(numbers: list[int], key: str = info.upload_key) -> object:
        return st._api.get_multipart_file_upload_infos_with_options(
            m.GetMultipartFileUploadInfosRequest(
                union_id=st.union_id, upload_key=key, part_numbers=numbers
            ),
            st._h(m.GetMultipartFileUploadInfosHeaders),
            st._rt,
        )

    for numbers in ([], list(range(1, 32)), [0], [10_001], [1, 1]):
        err = sdk_error(lambda n=numbers: part_infos(n))
        assert (err.statusCode, err.code) == (400, "paramError.partNumbers")
    err = sdk_error(lambda: part_infos([1], "no-such-key"))
    assert err.code == "paramError.uploadKey"
    single = st.upload_info(space.id)
    assert sdk_error(lambda: part_infos([1], single.upload_key)).code == "paramError.uploadKey"

    # A part under the minimum that is not the last one is refused at commit.
    targets = part_infos([1, 2]).body.multipart_header_signature_infos  # type: ignore[attr-defined]
    for target, data in zip(targets, (b"x" * (min_part(st.server) - 1), b"y" * KB), strict=True):
        sig = target.header_signature_info
        assert http.put(sig.resource_urls[0], content=data, headers=sig.headers).status_code == 200
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "small.bin"))
    assert (err.statusCode, err.code) == (400, "dentryUploadError")


def test_download_ranges(st: Storage) -> None:
    space = st.new_space()
    data = os.urandom(100 * KB)
    dentry = st.upload(space.id, data, "r.bin")
    sig = st.download_info(space.id, dentry.id).header_signature_info
    assert sig.expiration_seconds == 900 and len(sig.resource_urls) == 1

    def get(range_header: str) -> httpx.Response:
        return http.get(sig.resource_urls[0], headers={**sig.headers, "Range": range_header})

    part = get("bytes=10-19")
    assert part.status_code == 206 and part.content == data[10:20]
    assert part.headers["content-range"] == f"bytes 10-19/{len(data)}"
    assert get("bytes=-5").content == data[-5:]
    whole = get("bytes=oops")
    assert whole.status_code == 200 and whole.content == data


def test_upload_errors_change_nothing(st: Storage, server: LiveServer) -> None:
    space = st.new_space(quota=10 * KB)

    def call_info(**kw: object) -> object:
        request = m.GetFileUploadInfoRequest(union_id=st.union_id, **kw)
        return st._api.get_file_upload_info_with_options(
            space.id, request, st._h(m.GetFileUploadInfoHeaders), st._rt
        )

    assert (
        sdk_error(lambda: call_info(protocol="FTP", multipart=False)).code == "paramError.protocol"
    )
    big = m.GetFileUploadInfoRequestOptionPreCheckParam(size=20 * KB)
    assert (
        sdk_error(lambda: st.upload_info(space.id, pre_check=big)).code == "spaceQuotaInsufficient"
    )
    bad_name = m.GetFileUploadInfoRequestOptionPreCheckParam(name="a|b")
    assert (
        sdk_error(lambda: st.upload_info(space.id, pre_check=bad_name)).code == "dentryNameIllegal"
    )
    driver = sdk_error(lambda: st.upload_info(space.id, storage_driver="FLOPPY"))
    assert driver.code == "paramError.storageDriver"

    info = st.upload_info(space.id)
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "early.txt"))
    assert (err.statusCode, err.code) == (400, "dentryUploadError")  # no bytes yet

    assert st.put(info, b"z" * (11 * KB)).status_code == 200
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "big.txt", size=5))
    assert err.code == "dentryUploadError"  # declared size differs
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "big.txt"))
    assert (err.statusCode, err.code) == (400, "spaceQuotaInsufficient")
    assert st.list_dentries(space.id) == [] and st.used_quota(space.id) == 0

    ok = st.upload(space.id, b"fits", "ok.txt")
    err = sdk_error(lambda: st.commit(space.id, info.upload_key, "again.txt"))
    assert err.code == "spaceQuotaInsufficient"  # still too big, still uncommitted
    assert [d.id for d in st.list_dentries(space.id)] == [ok.id]
    reused = st.upload_info(space.id)
    st.put(reused, b"1")
    st.commit(space.id, reused.upload_key, "one.txt")
    err = sdk_error(lambda: st.commit(space.id, reused.upload_key, "two.txt"))
    assert err.code == "paramError.uploadKey"  # single use
    assert sdk_error(lambda: st.commit(space.id, "nope", "n.txt")).code == "paramError.uploadKey"


@pytest.mark.shapes(backends.EMBEDDED)  # the data plane's signature; S3 checks its own
def test_a_tampered_upload_signature_stores_nothing(st: Storage) -> None:
    space = st.new_space()
    info = st.upload_info(space.id)
    sig = info.header_signature_info
    forged = {**sig.headers, "Authorization": sig.headers["Authorization"][:-4] + "0000"}
    assert http.put(sig.resource_urls[0], content=b"evil", headers=forged).status_code == 403
    assert (
        sdk_error(lambda: st.commit(space.id, info.upload_key, "x.txt")).code == "dentryUploadError"
    )


def test_commit_conflict_strategies(st: Storage) -> None:
    space = st.new_space()
    first = st.upload(space.id, b"one", "report.pdf")
    renamed = st.upload(space.id, b"two", "report.pdf")
    assert renamed.name == "report(1).pdf"
    assert st.upload(space.id, b"3", "report.pdf").name == "report(2).pdf"
    same = st.upload(space.id, b"four", "report.pdf", conflict_strategy="RETURN_DENTRY_IF_EXISTS")
    assert (same.id, same.version) == (first.id, 1)
    err = sdk_error(
        lambda: st.upload(space.id, b"5", "report.pdf", conflict_strategy="RETURN_ERROR_IF_EXISTS")
    )
    assert (err.statusCode, err.code) == (400, "dentryNameConflict")
    over = st.upload(space.id, b"overwritten", "report.pdf", conflict_strategy="OVERWRITE")
    assert (over.id, over.version, over.size) == (first.id, 2, len(b"overwritten"))
    assert st.download(space.id, first.id) == b"overwritten"
    # every stored version counts: 3 + 3 + 1 + 11 bytes (the discarded upload counts nothing)
    assert st.used_quota(space.id) == 3 + 3 + 1 + 11
    folder = st.add_folder(space.id, "docs")
    err = sdk_error(lambda: st.upload(space.id, b"f", "docs", conflict_strategy="OVERWRITE"))
    assert err.code == "dentryNameConflict"
    assert st.get_dentry(space.id, folder.id).type == "FOLDER"


def test_versions_revert_and_retention(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(version_retention=3)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space = st.new_space()
    v1 = st.upload(space.id, b"v1", "doc.txt")
    st.upload(space.id, b"v2-", "doc.txt", conflict_strategy="OVERWRITE")
    versions = st.versions(space.id, v1.id)
    assert [(v.version, v.size) for v in versions] == [(2, 3), (1, 2)]
    assert st.download(space.id, v1.id, version=1) == b"v1"

    reverted = st._api.revert_dentry_version_with_options(
        space.id, v1.id, "1", m.RevertDentryVersionRequest(union_id=st.union_id),
        st._h(m.RevertDentryVersionHeaders), st._rt,
    ).body  # fmt: skip
    assert reverted.success is True
    assert st.get_dentry(space.id, v1.id).version == 3
    assert st.download(space.id, v1.id) == b"v1"
    assert st.used_quota(space.id) == 2 + 3 + 2

    st.upload(space.id, b"v4--", "doc.txt", conflict_strategy="OVERWRITE")  # keeps 3 versions
    assert [v.version for v in st.versions(space.id, v1.id)] == [4, 3, 2]
    assert st.used_quota(space.id) == 4 + 2 + 3
    page = st.versions_page(space.id, v1.id, max_results=2)
    assert [v.version for v in page.dentries] == [4, 3] and page.next_token
    err = sdk_error(
        lambda: st._api.revert_dentry_version_with_options(
            space.id, v1.id, "1", m.RevertDentryVersionRequest(union_id=st.union_id),
            st._h(m.RevertDentryVersionHeaders), st._rt,
        )
    )  # fmt: skip
    assert (err.statusCode, err.code) == (400, "paramError")  # version 1 was pruned
    err = sdk_error(lambda: st.versions_page(space.id, v1.id, max_results=101))
    assert err.code == "paramError.maxResults"


def test_overwrite_dentry_id_and_download_errors(st: Storage) -> None:
    space = st.new_space()
    doc = st.upload(space.id, b"old", "a.txt")
    info = st.upload_info(space.id)
    st.put(info, b"newer")
    updated = st.commit(space.id, info.upload_key, "ignored.txt", overwrite_dentry_id=doc.id)
    assert (updated.id, updated.name, updated.version) == (doc.id, "a.txt", 2)
    folder = st.add_folder(space.id, "f")
    err = sdk_error(lambda: st.download_info(space.id, folder.id))
    assert (err.statusCode, err.code) == (400, "operationNotSupported")
    assert sdk_error(lambda: st.download_info(space.id, "999")).code == "dentryNotExist"
    assert (
        sdk_error(lambda: st.download_info(space.id, doc.id, version=9)).code
        == "paramError.version"
    )


def test_copies_share_bytes_and_deleted_bytes_are_collected(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(blob_grace=0)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    sweep = server.services.housekeeper.sweep
    space, other = st.new_space(), st.new_space()
    original = st.upload(space.id, b"shared bytes", "s.txt")
    copy = st.copy(space.id, original.id, other.id).dentry
    key = blob_of(server, original.id)
    assert blob_of(server, copy.id) == key  # a copy adds a reference, never bytes
    assert st.used_quota(other.id) == len(b"shared bytes")

    st.delete(space.id, original.id)
    server.run(sweep())
    assert blob_exists(server, key)  # the copy still needs them
    assert st.download(other.id, copy.id) == b"shared bytes"
    st.delete(other.id, copy.id)
    assert st.used_quota(space.id) == st.used_quota(other.id) == 0
    server.run(sweep())
    assert not blob_exists(server, key)


def test_uncommitted_uploads_expire_and_their_bytes_go(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(upload_ttl=60)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space = st.new_space()
    info = st.upload_info(space.id)
    st.put(info, b"abandoned")
    key = blob_of_upload(server, info.upload_key)
    assert blob_exists(server, key)
    server.clock.advance(60.1)
    removed = server.run(server.services.housekeeper.sweep())
    assert removed["uploads"] == 1 and not blob_exists(server, key)
    assert sdk_error(lambda: st.commit(space.id, info.upload_key, "late.txt")).code == (
        "paramError.uploadKey"
    )


def test_app_properties_visibility_and_limits(server: LiveServer, sdk: Sdk, tenant: Tenant) -> None:
    st = Storage.of(server, sdk, tenant)
    creds = server.run(server.services.identity.create_app(tenant.corp_id, "other"))
    other_token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token  # type: ignore[arg-type]
    other = Storage(server, sdk, other_token, tenant.admin_id)
    mine = st.current_app().app_id
    space = st.new_space()
    doc = st.upload(space.id, b"x", "p.txt", app_properties=[("secret", "1", "PRIVATE")])

    def update(storage: Storage, props: list[tuple[str, str, str]]) -> object:
        request = m.UpdateDentryAppPropertiesRequest(
            union_id=storage.union_id,
            app_properties=[
                m.UpdateDentryAppPropertiesRequestAppProperties(name=n, value=v, visibility=vis)
                for n, v, vis in props
            ],
        )
        return storage._api.update_dentry_app_properties_with_options(
            space.id, doc.id, request, storage._h(m.UpdateDentryAppPropertiesHeaders), storage._rt
        ).body

    assert update(st, [("shared", "a", "PUBLIC"), ("secret", "2", "PRIVATE")]).success is True  # type: ignore[attr-defined]
    assert st.raw_dentry(space.id, doc.id)["appProperties"] == {
        mine: [
            {"name": "secret", "value": "2", "visibility": "PRIVATE"},
            {"name": "shared", "value": "a", "visibility": "PUBLIC"},
        ]
    }
    assert other.raw_dentry(space.id, doc.id)["appProperties"] == {
        mine: [{"name": "shared", "value": "a", "visibility": "PUBLIC"}]
    }
    err = sdk_error(lambda: update(st, [("third", "3", "PUBLIC"), ("fourth", "4", "PUBLIC")]))
    assert (err.statusCode, err.code) == (400, "dentryAppPropertiesNumberExceedsLimit")
    update(other, [("theirs", "t", "PRIVATE")])  # limits are per app

    removed = st._api.delete_dentry_app_properties_with_options(
        space.id, doc.id,
        m.DeleteDentryAppPropertiesRequest(union_id=st.union_id, property_names=["secret", "nope"]),
        st._h(m.DeleteDentryAppPropertiesHeaders), st._rt,
    ).body  # fmt: skip
    assert removed.success is True
    props = st.raw_dentry(space.id, doc.id)["appProperties"]
    assert props == {mine: [{"name": "shared", "value": "a", "visibility": "PUBLIC"}]}
    narrowed = st.raw_ok(
        "POST",
        f"/spaces/{space.id}/dentries/{doc.id}/query",
        json={"option": {"appIdsForAppProperties": ["someone-else"]}},
    )
    assert narrowed["dentry"]["appProperties"] == {}
