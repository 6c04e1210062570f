"""GetOrg, GetCurrentApp, AddSpace and GetSpace (spec §6 A, B) through the official SDK."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def app_id(tenant: Tenant) -> str:
    return tenant.boot.credentials.app.app_id


def second_app(server: LiveServer, sdk: Sdk, tenant: Tenant) -> Storage:
    """Another app of the same org, acting as the same admin."""
    creds = server.run(server.services.identity.create_app(tenant.corp_id, "second"))
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    return Storage(server, sdk, token, tenant.admin_id)


def quota_of(partitions: list[Any]) -> tuple[Any, ...]:
    """The single partition as (partitionType, used, max, type)."""
    assert len(partitions) == 1
    p = partitions[0]
    return p.partition_type, p.quota.used, p.quota.max, p.quota.type


# --- GetOrg, GetCurrentApp --------------------------------------------------------------------


def test_org_usage_is_the_sum_of_its_spaces(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    org = st.get_org(tenant.corp_id)
    assert org.corp_id == tenant.corp_id
    assert quota_of(org.partitions) == ("PUBLIC_OSS_PARTITION", 0, None, "SHARE")

    mine, other = st.new_space(), second_app(server, sdk, tenant)
    st.upload(mine.id, b"x" * 1000, "a.bin")
    st.upload(st.new_space().id, b"y" * 24, "b.bin")
    other.upload(other.new_space().id, b"z" * 300, "c.bin")
    assert quota_of(st.get_org(tenant.corp_id).partitions)[1:] == (1324, None, "SHARE")

    raw = st.raw_ok("GET", f"/orgs/{tenant.corp_id}")
    assert raw == {
        "org": {
            "corpId": tenant.corp_id,
            "partitions": [
                {"partitionType": "PUBLIC_OSS_PARTITION", "quota": {"used": 1324, "type": "SHARE"}}
            ],
        }
    }


def test_org_capacity_when_the_deployment_caps_it(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(org_quota=5_000)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    st = Storage.of(server, sdk, tenant)
    st.upload(st.new_space().id, b"x" * 100, "a.bin")
    org = st.get_org(tenant.corp_id)
    assert quota_of(org.partitions) == ("PUBLIC_OSS_PARTITION", 100, 5_000, "PRIVATE")


def test_another_orgs_capacity_is_forbidden(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    other = new_tenant(server, sdk)
    assert st.get_org(tenant.corp_id).corp_id == tenant.corp_id
    for corp_id in (other.corp_id, "dingnosuchorg"):
        err = sdk_error(lambda c=corp_id: st.get_org(c))
        assert (err.statusCode, err.code) == (403, "permissionDenied")


def test_current_app_counts_only_its_own_spaces(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    app = st.current_app()
    assert (app.app_id, app.corp_id, app.name) == (app_id(tenant), tenant.corp_id, "app")
    assert ISO_Z.match(app.create_time) and ISO_Z.match(app.modified_time)
    assert quota_of(app.partitions) == ("PUBLIC_OSS_PARTITION", 0, None, "SHARE")

    other = second_app(server, sdk, tenant)
    space = st.new_space()
    st.upload(space.id, b"x" * 700, "a.bin")
    folder = st.add_folder(space.id, "f")
    st.upload(space.id, b"x" * 50, "b.bin", parent_id=folder.id)
    other.upload(other.new_space().id, b"z" * 9, "c.bin")

    assert quota_of(st.current_app().partitions)[1:] == (750, None, "SHARE")
    second = other.current_app()
    assert second.app_id != app.app_id and second.name == "second"
    assert quota_of(second.partitions)[1] == 9

    files = {d.name: d for d in st.list_dentries(space.id)}
    st.delete(space.id, files["a.bin"].id)
    assert quota_of(st.current_app().partitions)[1] == 50


# --- AddSpace -------------------------------------------------------------------------------


def test_add_space_defaults_and_idempotency(tenant: Tenant, st: Storage) -> None:
    space = st.add_space()
    assert space.id.isdigit()
    assert (space.corp_id, space.app_id) == (tenant.corp_id, app_id(tenant))
    assert (space.scene, space.scene_id) == ("default", "0")
    assert (space.owner_type, space.owner_id) == ("USER", tenant.admin_id)
    assert (space.creator_id, space.modifier_id) == (tenant.admin_id, tenant.admin_id)
    assert (space.quota, space.used_quota, space.status) == (-1, 0, "NORMAL")
    caps = space.capabilities
    assert (caps.can_search, caps.can_rename, caps.can_record_recent_file) == (False,) * 3
    assert quota_of(space.partitions) == ("PUBLIC_OSS_PARTITION", 0, None, "SHARE")
    assert ISO_Z.match(space.create_time) and ISO_Z.match(space.modified_time)
    assert space.name is None

    # (scene, sceneId) is the idempotency key: the same pair gives the same space, unchanged
    again = st.add_space(scene="default", scene_id="0", name="ignored", quota=5)
    assert again.to_map() == space.to_map()
    assert st.add_space().id == space.id
    other_scene_id = st.add_space(scene_id="1")
    other_scene = st.add_space(scene="photos")
    assert len({space.id, other_scene_id.id, other_scene.id}) == 3
    assert (other_scene_id.scene, other_scene_id.scene_id) == ("default", "1")
    assert (other_scene.scene, other_scene.scene_id) == ("photos", "0")
    assert st.add_space(scene="photos").id == other_scene.id


def test_scene_key_belongs_to_the_app(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    other = second_app(server, sdk, tenant)
    mine, theirs = st.add_space(), other.add_space()
    assert mine.id != theirs.id
    assert theirs.app_id != mine.app_id
    assert other.add_space().id == theirs.id


def test_owner_types(server: LiveServer, tenant: Tenant, st: Storage) -> None:
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    user_space = st.as_user(bob.union_id).new_space(owner_type="USER")
    assert (user_space.owner_type, user_space.owner_id) == ("USER", bob.union_id)
    assert user_space.creator_id == bob.union_id
    app_space = st.new_space(owner_type="APP")
    assert (app_space.owner_type, app_space.owner_id) == ("APP", app_id(tenant))
    assert st.get_space(app_space.id).owner_id == app_id(tenant)


def test_quota_and_capabilities(st: Storage) -> None:
    capped = st.new_space(name="capped", quota=10_000)
    assert (capped.name, capped.quota, capped.used_quota) == ("capped", 10_000, 0)
    assert quota_of(capped.partitions) == ("PUBLIC_OSS_PARTITION", 0, 10_000, "PRIVATE")
    st.upload(capped.id, b"x" * 2_500, "a.bin")
    got = st.get_space(capped.id)
    assert (got.quota, got.used_quota) == (10_000, 2_500)
    assert quota_of(got.partitions) == ("PUBLIC_OSS_PARTITION", 2_500, 10_000, "PRIVATE")

    for unlimited in (st.new_space(quota=-1), st.new_space()):
        assert unlimited.quota == -1
        assert quota_of(unlimited.partitions) == ("PUBLIC_OSS_PARTITION", 0, None, "SHARE")
        raw = st.raw_ok("GET", f"/spaces/{unlimited.id}")["space"]
        assert raw["quota"] == -1
        assert raw["partitions"] == [
            {"partitionType": "PUBLIC_OSS_PARTITION", "quota": {"used": 0, "type": "SHARE"}}
        ]

    caps = st.new_space(can_search=True, can_rename=False, can_record_recent_file=True)
    for space in (caps, st.get_space(caps.id)):
        c = space.capabilities
        assert (c.can_search, c.can_rename, c.can_record_recent_file) == (True, False, True)


@pytest.mark.parametrize(
    ("option", "code"),
    [
        ({"owner_type": "GROUP"}, "paramError.ownerType"),
        ({"owner_type": "user"}, "paramError.ownerType"),
        ({"scene": "s" * 129}, "paramError.scene"),
        ({"scene": ""}, "paramError.scene"),
        ({"scene_id": "9" * 129}, "paramError.sceneId"),
        ({"name": "n" * 257}, "paramError.name"),
        ({"quota": -2}, "paramError.quota"),
    ],
)
def test_add_space_refuses_bad_options(st: Storage, option: dict[str, Any], code: str) -> None:
    err = sdk_error(lambda: st.add_space(**option))
    assert (err.statusCode, err.code) == (400, code)
    # nothing was made: the default space is still a new one, and only one
    first = st.add_space()
    assert st.add_space().id == first.id


def test_limits_of_the_options_are_accepted(st: Storage) -> None:
    space = st.add_space(scene="s" * 128, scene_id="9" * 128, name="n" * 256, quota=0)
    assert (len(space.scene), len(space.scene_id), len(space.name), space.quota) == (
        128,
        128,
        256,
        0,
    )


# --- GetSpace -------------------------------------------------------------------------------


def test_get_space_is_what_add_space_made(st: Storage) -> None:
    made = st.new_space(name="team", quota=1_000, owner_type="APP", can_rename=True)
    got = st.get_space(made.id)
    assert got.to_map() == made.to_map()


def test_get_space_unknown_malformed_and_foreign(server: LiveServer, sdk: Sdk, st: Storage) -> None:
    other = Storage.of(server, sdk, new_tenant(server, sdk))
    theirs = other.new_space()
    assert other.get_space(theirs.id).id == theirs.id
    for space_id in ("123456", theirs.id):
        err = sdk_error(lambda s=space_id: st.get_space(s))
        assert (err.statusCode, err.code) == (404, "spaceNotExist")
    for space_id in ("abc", "-1", "0", "1.5", "99999999999999999999"):
        err = sdk_error(lambda s=space_id: st.get_space(s))
        assert (err.statusCode, err.code) == (400, "paramError.spaceId")
