"""AddPermission, UpdatePermission, DeletePermission, ListPermissions and BatchQueryRoles through
the official SDK (spec §6 I, docs/permissions.md): shapes, paging, who may manage grants,
temporary grants in APP spaces, and every bad input answered with its code and changing
nothing."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk
from tests.storage import Storage


def _user(server: LiveServer, tenant: Tenant, name: str) -> str:
    return server.run(server.services.identity.create_user(tenant.corp_id, name)).union_id


def _grants(st: Storage, space_id: str, dentry_id: str) -> set[tuple[str, str, str]]:
    return {(p.member.type, p.member.id, p.role.id) for p in st.permissions(space_id, dentry_id)}


def test_grants_are_listed_paged_and_filtered(st: Storage, server: LiveServer, tenant: Tenant):
    space = st.new_space()
    folder = st.add_folder(space.id, "docs")
    users = [_user(server, tenant, f"u{i}") for i in range(5)]
    st.add_permission(space.id, folder.id, "EDITOR", [("USER", u) for u in users[:3]])
    st.add_permission(space.id, folder.id, "READER", [("DEPT", "42", tenant.corp_id)])
    st.add_permission(space.id, folder.id, "DOWNLOADER", [("ORG", tenant.corp_id)])

    listed = st.permissions(space.id, folder.id, max_results=2)
    assert len(listed) == 5
    assert {(p.member.type, p.role.id) for p in listed} == {
        ("USER", "EDITOR"), ("DEPT", "READER"), ("ORG", "DOWNLOADER"),
    }  # fmt: skip
    editors = st.permissions(space.id, folder.id, roles=["EDITOR"])
    assert sorted(p.member.id for p in editors) == sorted(users[:3])
    assert st.permissions(space.id, "0") == []  # grants on the folder are not the space's

    body = st.raw_ok(
        "POST", f"/spaces/{space.id}/dentries/{folder.id}/permissions/query",
        json={"option": {"filterRoleIds": ["READER"]}},
    )  # fmt: skip
    (grant,) = body["permissions"]
    assert grant["member"] == {"type": "DEPT", "id": "42", "corpId": tenant.corp_id}
    assert grant["role"] == {"id": "READER", "name": "READER"}
    assert grant["duration"] == -1  # a USER space's grants are permanent
    assert grant["spaceId"] == space.id and grant["dentryId"] == folder.id
    assert grant["operatorId"] == st.union_id
    assert grant["createTime"].endswith("Z") and grant["modifiedTime"].endswith("Z")
    assert "nextToken" not in body


def test_update_sets_the_role_and_delete_revokes_it(st: Storage, server: LiveServer, tenant):
    space = st.new_space()
    bob, carol = _user(server, tenant, "bob"), _user(server, tenant, "carol")
    st.add_permission(space.id, "0", "READER", [("USER", bob)])
    st.add_permission(space.id, "0", "DOWNLOADER", [("USER", bob)])
    st.update_permission(space.id, "0", "EDITOR", [("USER", bob), ("USER", carol)])
    assert _grants(st, space.id, "0") == {("USER", bob, "EDITOR"), ("USER", carol, "EDITOR")}

    st.delete_permission(space.id, "0", "READER", [("USER", bob)])  # none such: nothing to do
    st.delete_permission(space.id, "0", "EDITOR", [("USER", bob)])
    assert _grants(st, space.id, "0") == {("USER", carol, "EDITOR")}
    assert st.batch_query_roles(space.id, ["0"]) == {"0": ["OWNER"]}  # the admin
    assert st.as_user(bob).batch_query_roles(space.id, ["0"]) == {"0": []}
    assert st.as_user(carol).batch_query_roles(space.id, ["0"]) == {"0": ["EDITOR"]}


def test_managing_grants_needs_manager_and_owner_for_high_roles(
    st: Storage, server: LiveServer, tenant: Tenant
) -> None:
    space = st.new_space(owner_type="USER")
    folder = st.add_folder(space.id, "f")
    bob, carol = _user(server, tenant, "bob"), _user(server, tenant, "carol")
    as_bob = st.as_user(bob)

    err = sdk_error(lambda: as_bob.add_permission(space.id, folder.id, "READER", [("USER", carol)]))
    assert (err.code, err.statusCode) == ("permissionDenied", 403)
    st.add_permission(space.id, "0", "EDITOR", [("USER", bob)])
    err = sdk_error(lambda: as_bob.add_permission(space.id, folder.id, "READER", [("USER", carol)]))
    assert err.code == "permissionDenied"  # EDITOR does not manage

    st.add_permission(space.id, "0", "MANAGER", [("USER", bob)])
    as_bob.add_permission(space.id, folder.id, "EDITOR", [("USER", carol)])
    for high in ("MANAGER", "OWNER"):
        err = sdk_error(
            lambda r=high: as_bob.add_permission(space.id, folder.id, r, [("USER", carol)])
        )
        assert err.code == "permissionDenied"
    err = sdk_error(lambda: as_bob.delete_permission(space.id, "0", "MANAGER", [("USER", bob)]))
    assert err.code == "permissionDenied"
    err = sdk_error(lambda: as_bob.update_permission(space.id, "0", "READER", [("USER", bob)]))
    assert err.code == "permissionDenied"  # it would replace a MANAGER grant
    assert _grants(st, space.id, folder.id) == {("USER", carol, "EDITOR")}
    assert _grants(st, space.id, "0") == {("USER", bob, "EDITOR"), ("USER", bob, "MANAGER")}

    st.add_permission(space.id, folder.id, "OWNER", [("USER", carol)])  # the admin owns it all
    st.as_user(carol).add_permission(space.id, folder.id, "MANAGER", [("USER", bob)])
    assert ("USER", bob, "MANAGER") in _grants(st, space.id, folder.id)
    assert st.as_user(carol).batch_query_roles(space.id, [folder.id, "0"]) == {
        folder.id: ["OWNER"], "0": [],
    }  # fmt: skip


@pytest.mark.own_server  # counts the expired grants of the whole store
def test_app_space_grants_are_temporary_and_expire(
    st: Storage, server: LiveServer, tenant: Tenant
) -> None:
    space = st.new_space(owner_type="APP")
    folder = st.add_folder(space.id, "f")
    bob, carol = _user(server, tenant, "bob"), _user(server, tenant, "carol")
    # the app that owns the space manages its grants, whoever the operator
    st.as_user(bob).add_permission(space.id, folder.id, "READER", [("USER", carol)])
    st.add_permission(space.id, folder.id, "EDITOR", [("USER", bob)], duration=60)
    (default,) = st.permissions(space.id, folder.id, roles=["READER"])
    assert 3590 <= default.duration <= 3600  # the most an APP space allows
    err = sdk_error(
        lambda: st.add_permission(space.id, folder.id, "READER", [("USER", bob)], duration=3601)
    )
    assert (err.code, err.statusCode) == ("paramError.duration", 400)

    # an operator short of MANAGER sees only the grants naming them
    assert {p.member.id for p in st.as_user(carol).permissions(space.id, folder.id)} == {carol}
    assert {p.member.id for p in st.permissions(space.id, folder.id)} == {bob, carol}

    assert st.as_user(bob).batch_query_roles(space.id, [folder.id]) == {folder.id: ["EDITOR"]}
    server.clock.advance(60.1)
    assert st.as_user(bob).batch_query_roles(space.id, [folder.id]) == {folder.id: []}
    assert {p.member.id for p in st.permissions(space.id, folder.id)} == {carol}
    assert server.run(server.services.permissions.purge_expired()) == 1


def test_user_space_ignores_duration(st: Storage, server: LiveServer, tenant: Tenant) -> None:
    space = st.new_space()
    bob = _user(server, tenant, "bob")
    st.add_permission(space.id, "0", "READER", [("USER", bob)], duration=5)
    (grant,) = st.permissions(space.id, "0")
    assert grant.duration == -1


def test_roles_inherit_and_reach_every_member_type(st: Storage, server: LiveServer, tenant):
    identity = server.services.identity
    space = st.new_space()
    top = st.add_folder(space.id, "top")
    sub = st.add_folder(space.id, "sub", parent_id=top.id)
    bob = _user(server, tenant, "bob")
    for kind, group in (("DEPT", "7"), ("TAG", "ops"), ("CONVERSATION", "cid9")):
        server.run(identity.add_to_group(tenant.corp_id, kind, group, bob))
    as_bob = st.as_user(bob)
    ids = ["0", top.id, sub.id]

    assert as_bob.batch_query_roles(space.id, ids) == {i: [] for i in ids}
    st.add_permission(space.id, "0", "READER", [("ORG", tenant.corp_id)])
    st.add_permission(space.id, top.id, "DOWNLOADER", [("TAG", "ops", tenant.corp_id)])
    st.add_permission(space.id, sub.id, "EDITOR", [("CONVERSATION", "cid9")])
    assert as_bob.batch_query_roles(space.id, ids) == {
        "0": ["READER"], top.id: ["DOWNLOADER"], sub.id: ["EDITOR"],
    }  # fmt: skip
    st.add_permission(space.id, top.id, "MANAGER", [("DEPT", "7", tenant.corp_id)])
    assert as_bob.batch_query_roles(space.id, [sub.id]) == {sub.id: ["MANAGER"]}
    err = sdk_error(lambda: st.add_permission(space.id, "0", "OWNER", [("DEPT", "7", "ding-x")]))
    assert (err.statusCode, err.code) == (400, "paramError.members")  # another org's dept
    assert as_bob.batch_query_roles(space.id, ["0"]) == {"0": ["READER"]}


def test_batch_query_roles_reads_a_json_array(st: Storage) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "f")
    assert st.batch_query_roles(space.id, [folder.id, "999999", folder.id]) == {
        folder.id: ["OWNER"], "999999": [],
    }  # fmt: skip
    st.delete(space.id, folder.id, to_recycle_bin=True)
    assert st.batch_query_roles(space.id, [folder.id, "0"]) == {folder.id: [], "0": ["OWNER"]}
    err = sdk_error(lambda: st.batch_query_roles("987654321", ["0"]))
    assert (err.code, err.statusCode) == ("spaceNotExist", 400)
    path = f"/spaces/{space.id}/dentries/permissions/roles/batchQuery"
    for bad in (None, "not json", "[]", '["1", 2]', "{}", str([str(i) for i in range(31)])):
        response = st.raw("POST", path, params=None if bad is None else {"dentryIdList": bad})
        assert response.status_code == 400, bad
        assert response.json()["code"] == "paramError.dentryIdList", bad


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"roleId": "ADMIN"}, "paramError.roleId"),
        ({"roleId": None}, "paramError.roleId"),
        ({"members": [{"type": "ROBOT", "id": "x"}]}, "paramError.permissionMemberType"),
        ({"members": [{"type": 5, "id": "x"}]}, "paramError.permissionMemberType"),
        ({"roleId": ["READER"]}, "paramError.roleId"),
        ({"members": [{"type": "DEPT", "id": "1"}]}, "paramError.members"),
        ({"members": [{"type": "USER", "id": "nobody"}]}, "paramError.members"),
        ({"members": [{"type": "ORG", "id": "ding-nowhere"}]}, "paramError.members"),
        ({"members": [{"type": "USER"}]}, "paramError.members"),
        ({"members": []}, "paramError.members"),
        ({"members": [{"type": "TAG", "id": f"t{i}", "corpId": "c"} for i in range(31)]},
         "paramError.members"),
    ],
)  # fmt: skip
def test_bad_grants_are_refused_and_change_nothing(
    st: Storage, tenant: Tenant, change: dict, code: str
) -> None:
    space = st.new_space()
    body = {"roleId": "READER", "members": [{"type": "ORG", "id": tenant.corp_id}], **change}
    body = {k: v for k, v in body.items() if v is not None}
    for method, suffix in (("POST", ""), ("PUT", ""), ("POST", "/remove")):
        response = st.raw(method, f"/spaces/{space.id}/dentries/0/permissions{suffix}", json=body)
        assert response.status_code == 400, response.text
        assert response.json()["code"] == code
    assert st.permissions(space.id, "0") == []


def test_missing_space_and_dentry_are_400(st: Storage, tenant: Tenant) -> None:
    space = st.new_space()
    members = [("ORG", tenant.corp_id)]
    err = sdk_error(lambda: st.add_permission("987654321", "0", "READER", members))
    assert (err.code, err.statusCode) == ("spaceNotExist", 400)
    err = sdk_error(lambda: st.add_permission(space.id, "987654321", "READER", members))
    assert (err.code, err.statusCode) == ("dentryNotExist", 400)
    err = sdk_error(lambda: st.permissions(space.id, "987654321"))
    assert (err.code, err.statusCode) == ("dentryNotExist", 400)
    err = sdk_error(lambda: st.add_permission(space.id, "x1", "READER", members))
    assert (err.code, err.statusCode) == ("paramError.dentryId", 400)
    err = sdk_error(lambda: st.permissions(space.id, "0", max_results=501))
    assert err.code == "paramError.maxResults"
    err = sdk_error(lambda: st.permissions(space.id, "0", roles=["OWNER", "KING"]))
    assert err.code == "paramError.roleId"
    err = sdk_error(lambda: st.permissions_page(space.id, "0", next_token="garbage"))
    assert err.code == "paramError.nextToken"


def test_listing_needs_reader_in_a_user_space(st: Storage, server: LiveServer, tenant) -> None:
    space = st.new_space()
    folder = st.add_folder(space.id, "f")
    bob = _user(server, tenant, "bob")
    err = sdk_error(lambda: st.as_user(bob).permissions(space.id, folder.id))
    assert (err.code, err.statusCode) == ("permissionDenied", 403)
    st.add_permission(space.id, folder.id, "READER", [("USER", bob)])
    assert _grants(st.as_user(bob), space.id, folder.id) == {("USER", bob, "READER")}


def test_another_orgs_ids_are_answered_as_unknown_ones(
    st: Storage, server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    """No org learns which users or orgs exist in another: naming another org's user, corpId
    or department answers exactly as an id nobody has, on every grant operation, and stores
    nothing."""
    other = new_tenant(server, sdk)
    space = st.new_space()
    path = f"/spaces/{space.id}/dentries/0/permissions"
    pairs = [
        ({"type": "USER", "id": other.admin_id}, {"type": "USER", "id": "nobody0000000000000"}),
        ({"type": "ORG", "id": other.corp_id}, {"type": "ORG", "id": "dingnowhere000000000"}),
        ({"type": "DEPT", "id": "1", "corpId": other.corp_id},
         {"type": "DEPT", "id": "1", "corpId": "dingnowhere000000000"}),
    ]  # fmt: skip
    for theirs, unknown in pairs:
        for method, suffix in (("POST", ""), ("PUT", ""), ("POST", "/remove")):
            answers = []
            for member in (theirs, unknown):
                body = {"roleId": "READER", "members": [member]}
                response = st.raw(method, path + suffix, json=body)
                message = response.json()["message"].replace(
                    member.get("corpId", member["id"]), "ID"
                )
                answers.append((response.status_code, response.json()["code"], message))
            assert answers[0] == answers[1] == (400, "paramError.members", answers[0][2]), answers
    assert st.permissions(space.id, "0") == []
