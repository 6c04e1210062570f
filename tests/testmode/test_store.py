"""Resetting one org or the whole store, and snapshots of the whole store, on both shapes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from dingstore.blobs.base import NotFound
from dingstore.blobs.keys import blob_key
from dingstore.store import schema
from dingstore.store.base import BaseDatabase
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.engine import trees
from tests.live import LiveServer, Sdk
from tests.storage import Storage
from tests.testmode.conftest import TEST_MODE, Controls


async def _blob_ids(db: BaseDatabase) -> list[int]:
    async with db.read() as conn:
        return [int(i) for i in (await conn.execute(sa.select(schema.blobs.c.id))).scalars()]


async def _multipart(db: BaseDatabase, corp_id: str) -> tuple[str, str]:
    """(key, multipart upload id) of the org's one upload in progress."""
    u = schema.uploads.c
    async with db.read() as conn:
        found = await conn.execute(sa.select(u.blob_id, u.multipart_id).where(u.corp_id == corp_id))
        [(blob_id, upload_id)] = found.all()
        return blob_key(int(blob_id)), str(upload_id)


async def _pending_blob_ids(db: BaseDatabase, corp_id: str) -> list[int]:
    u = schema.uploads.c
    async with db.read() as conn:
        found = await conn.execute(sa.select(u.blob_id).where(u.corp_id == corp_id))
        return [int(i) for i in found.scalars()]


def test_reset_of_one_org_empties_its_storage_and_keeps_the_others(
    server: LiveServer, sdk: Sdk, st: Storage, controls: Controls, tenant: Tenant
) -> None:
    other = Storage.of(server, sdk, new_tenant(server, sdk))
    mine, theirs = st.new_space(), other.new_space()
    kept = other.upload(theirs.id, b"theirs", "a.txt")
    st.upload(mine.id, b"mine", "b.txt")
    st.add_folder(mine.id, "dir")
    pending = st.upload_info(mine.id)  # sent, never committed
    assert st.put(pending, b"half-way").status_code == 200
    blobs = server.services.blobs
    pending_key = blob_key(server.run(_pending_blob_ids(server.services.db, tenant.corp_id))[0])
    assert server.run(blobs.size(pending_key)) == len(b"half-way")
    controls.inject("GetSpace", "x", times=None, corpId=tenant.corp_id)
    controls.task("pause", corpId=tenant.corp_id)

    controls.ok("POST", "reset", json={"corpId": tenant.corp_id})

    # the org's storage is gone, its faults too; its app and token still work
    assert sdk_error(lambda: st.get_space(mine.id)).code == "spaceNotExist"
    fresh = st.new_space()
    assert st.list_dentries(fresh.id) == []
    # and the pause is lifted: a copy runs to its end
    top = st.add_folder(fresh.id, "top")
    st.add_folder(fresh.id, "inner", top.id)
    copied = st.copy(fresh.id, top.id, fresh.id, conflict_strategy="AUTO_RENAME")
    assert st.wait_task(str(copied.task_id), timeout=10).status == "SUCCESS"
    assert controls.ok("GET", "faults", params={"corpId": tenant.corp_id}) == {"faults": []}
    # the bytes of its upload in progress went with its row: nothing would collect them
    assert server.run(blobs.size(pending_key)) is None
    # the other org is untouched
    assert other.download(theirs.id, kept.id) == b"theirs"
    assert [p for p in server.run(trees.problems(server.services.db)) if p.kind in (
        trees.Kind.BLOBS, trees.Kind.SIZES, trees.Kind.QUOTA)] == []  # fmt: skip

    unknown = controls.call("POST", "reset", json={"corpId": "nosuchorg"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "orgNotExist")


def test_reset_of_the_whole_store(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(**TEST_MODE)
    sdk, controls = Sdk(server.endpoint), Controls(server.url)
    tenant = new_tenant(server, sdk)
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    st.upload(space.id, b"bytes", "a.txt")
    st.upload_info(space.id, multipart=True)  # begun, never committed
    controls.inject("GetSpace", "x", times=None)
    blobs = server.services.blobs
    keys = [blob_key(i) for i in server.run(_blob_ids(server.services.db))]
    assert keys and all(server.run(blobs.size(k)) for k in keys)
    part_key, upload_id = server.run(_multipart(server.services.db, tenant.corp_id))
    assert server.run(blobs.part_sizes(part_key, upload_id)) == {}

    controls.ok("POST", "reset", json={})

    # the bytes go with the rows: nothing would ever collect them; the open multipart upload
    # (no object) is aborted
    assert [k for k in keys if server.run(blobs.size(k)) is not None] == []
    with pytest.raises(NotFound):
        server.run(blobs.part_sizes(part_key, upload_id))

    assert sdk_error(lambda: st.new_space()).code == "InvalidAuthentication"
    assert controls.ok("GET", "faults") == {"faults": []}
    assert server.run(server.services.identity.list_orgs()) == []
    # a new org works as on a new server
    made = controls.ok("POST", "orgs", json={"name": "again"})
    assert set(made) == {"corpId", "unionId", "appKey", "appSecret"}
    token = sdk.access_token(made["appKey"], made["appSecret"]).access_token
    again = Storage(server, sdk, token, made["unionId"])
    space = again.new_space()
    assert again.get_space(space.id).corp_id == made["corpId"]


def test_a_snapshot_restores_the_store_as_it_was(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(**TEST_MODE)
    sdk, controls = Sdk(server.endpoint), Controls(server.url)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space = st.new_space()
    kept = st.upload(space.id, b"before", "kept.txt")
    controls.ok("POST", "snapshots", json={"name": "base"})

    st.add_folder(space.id, "later")
    st.delete(space.id, kept.id)
    later = st.new_space()
    controls.ok("POST", "reset", json={})  # even the bytes are gone

    controls.ok("POST", "snapshots/base/restore")

    assert [d.name for d in st.list_dentries(space.id)] == ["kept.txt"]
    assert st.download(space.id, kept.id) == b"before"
    assert sdk_error(lambda: st.get_space(later.id)).code == "spaceNotExist"
    # ids handed out after the snapshot are not handed out again
    assert int(st.add_folder(space.id, "new").id) > int(later.id)
    assert server.run(trees.problems(server.services.db)) == []

    missing = controls.call("POST", "snapshots/nope/restore")
    assert (missing.status_code, missing.json()["code"]) == (404, "snapshotNotExist")

    # snapshots are listed, and dropped one by one
    controls.ok("POST", "snapshots", json={"name": "another"})
    assert controls.ok("GET", "snapshots") == {"snapshots": ["another", "base"]}
    assert controls.ok("DELETE", "snapshots/base") == {}
    assert controls.ok("GET", "snapshots") == {"snapshots": ["another"]}
    for gone in (
        controls.call("DELETE", "snapshots/base"),
        controls.call("POST", "snapshots/base/restore"),
    ):
        assert (gone.status_code, gone.json()["code"]) == (404, "snapshotNotExist")


@pytest.mark.shapes("embedded")
def test_new_orgs_users_and_apps(server: LiveServer, sdk: Sdk, controls: Controls) -> None:
    made = controls.ok("POST", "orgs", json={})
    corp = made["corpId"]
    user = controls.ok("POST", f"orgs/{corp}/users", json={"name": "bob"})["unionId"]
    app = controls.ok(
        "POST",
        f"orgs/{corp}/apps",
        json={"name": "fixed", "scopes": ["Storage.Space.Read"], "appKey": "dingFIXED" + corp,
              "appSecret": "s3cret"},
    )  # fmt: skip
    assert app == {"appKey": "dingFIXED" + corp, "appSecret": "s3cret"}
    token = sdk.access_token(app["appKey"], "s3cret").access_token
    # the app holds only the scope asked: a write is refused
    err = sdk_error(lambda: Storage(server, sdk, token, user).new_space())
    assert err.code == "Forbidden.AccessDenied.AccessTokenPermissionDenied"
    bad = controls.call("POST", f"orgs/{corp}/apps", json={"name": "x", "scopes": ["Nope"]})
    assert (bad.status_code, bad.json()["code"]) == (400, "paramError.scopes")
    nobody = controls.call("POST", "orgs/nosuchorg/users", json={"name": "x"})
    assert (nobody.status_code, nobody.json()["code"]) == (404, "orgNotExist")
