"""SubscribeEvent and UnsubscribeEvent (spec §6 J, operations 40 and 41) through the official
SDK: what a subscription makes an app hear (read back through the pull feed), idempotency, and
every refusal."""

from __future__ import annotations

import threading
from typing import Any

from dingstore.service import scopes
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.emitted import emit, rows
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

SCOPE = "Storage.Event.Write"


def heard(st: Storage) -> list[tuple[str, str, str]]:
    """The (dentryId, eventScope, eventScopeId) of every event the app has, oldest first."""
    body = st.pull_events(maxResults=1000)
    return [(e["dentryId"], e["eventScope"], e["eventScopeId"]) for e in body["events"]]


def another_app(server: LiveServer, sdk: Sdk, tenant: Tenant, app_scopes: Any = None) -> Storage:
    """Another app of the tenant's org (every scope unless given), acting as its admin."""
    identity = server.services.identity
    args = (tenant.corp_id, "other") if app_scopes is None else (tenant.corp_id, "n", app_scopes)
    creds = server.run(identity.create_app(*args))
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    return Storage(server, sdk, token, tenant.admin_id)


def test_subscribe_to_the_org_is_idempotent_and_unsubscribe_stops_it(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    space = st.new_space()
    assert emit(server, tenant.corp_id, space.id, 1) == 0  # nobody subscribed
    for _ in range(2):
        assert st.subscribe_event("ORG", tenant.corp_id).success is True
    assert emit(server, tenant.corp_id, space.id, 2) == 1  # one subscription, one event
    assert heard(st) == [("2", "ORG", tenant.corp_id)]

    for _ in range(2):
        assert st.unsubscribe_event("ORG", tenant.corp_id).success is True
    assert emit(server, tenant.corp_id, space.id, 3) == 0
    assert heard(st) == [("2", "ORG", tenant.corp_id)]  # written events stay


def test_subscribe_to_a_space_hears_that_space_only(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    space, other = st.new_space(), st.new_space()
    assert st.subscribe_event("SPACE", space.id).success is True
    assert st.subscribe_event("SPACE", "0" + space.id).success is True  # the same space
    emit(server, tenant.corp_id, space.id, 1)
    emit(server, tenant.corp_id, other.id, 2)
    assert heard(st) == [("1", "SPACE", space.id)]

    # with the org too: one event a change, the space's scope named where both match
    st.subscribe_event("ORG", tenant.corp_id)
    emit(server, tenant.corp_id, space.id, 3)
    emit(server, tenant.corp_id, other.id, 4)
    assert heard(st)[1:] == [("3", "SPACE", space.id), ("4", "ORG", tenant.corp_id)]

    st.unsubscribe_event("SPACE", space.id)
    emit(server, tenant.corp_id, space.id, 5)
    assert heard(st)[-1] == ("5", "ORG", tenant.corp_id)
    st.unsubscribe_event("ORG", tenant.corp_id)
    assert emit(server, tenant.corp_id, space.id, 6) == 0


def test_a_subscription_belongs_to_the_calling_app(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    second = another_app(server, sdk, tenant)
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    emit(server, tenant.corp_id, space.id, 1)
    assert heard(st) == [("1", "SPACE", space.id)]
    assert heard(second) == []
    second.unsubscribe_event("SPACE", space.id)  # not its subscription: nothing changes
    assert emit(server, tenant.corp_id, space.id, 2) == 1
    app_ids = {r["app_id"] for r in rows(server, tenant.corp_id)}
    assert app_ids == {tenant.boot.credentials.app.app_id}

    # another org's app hears nothing of this org, and its own subscription only its own
    stranger_tenant = new_tenant(server, sdk)
    stranger = Storage.of(server, sdk, stranger_tenant)
    stranger.subscribe_event("ORG", stranger_tenant.corp_id)
    emit(server, tenant.corp_id, space.id, 3)
    assert heard(stranger) == []


def error_of(call: Any) -> tuple[int, str]:
    err = sdk_error(call)
    return err.statusCode, err.code


def test_bad_scopes_and_scope_ids_are_400(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    space = st.new_space()
    other_org = new_tenant(server, sdk)
    foreign = Storage.of(server, sdk, other_org).new_space()
    for call in (st.subscribe_event, st.unsubscribe_event):
        for scope in ("", "org", "FOLDER", "APP"):
            got = error_of(lambda c=call, s=scope: c(s, tenant.corp_id))
            assert got == (400, "paramError.scope"), scope
        bad = [
            ("ORG", ""),
            ("ORG", other_org.corp_id),
            ("ORG", "dingnosuchorg"),
            ("ORG", space.id),
            ("SPACE", ""),
            ("SPACE", "SPACE"),  # the spec's own example (§8.12)
            ("SPACE", "-1"),
            ("SPACE", "0"),
            ("SPACE", "1.5"),
            ("SPACE", "99999999999999999999"),
            ("SPACE", tenant.corp_id),
            ("SPACE", "987654321"),
            ("SPACE", foreign.id),
        ]
        for scope, scope_id in bad:
            got = error_of(lambda c=call, s=scope, i=scope_id: c(s, i))
            assert got == (400, "paramError.scopeId"), (scope, scope_id)
    assert rows(server, tenant.corp_id) == [] and emit(server, tenant.corp_id, space.id, 1) == 0

    # another org's space answers exactly as a space nobody has
    missing = st.raw("POST", "/events/subscribe", json={"scope": "SPACE", "scopeId": "987654321"})
    theirs = st.raw("POST", "/events/subscribe", json={"scope": "SPACE", "scopeId": foreign.id})
    assert missing.status_code == theirs.status_code == 400
    expected = {**missing.json(), "message": missing.json()["message"].replace("987654321", "X")}
    got = {**theirs.json(), "message": theirs.json()["message"].replace(foreign.id, "X")}
    assert {**got, "requestid": ""} == {**expected, "requestid": ""}


def test_missing_fields_and_bodies_are_400(st: Storage, tenant: Tenant) -> None:
    def code(response: Any) -> tuple[int, str]:
        return response.status_code, response.json()["code"]

    for path in ("/events/subscribe", "/events/unsubscribe"):
        assert code(st.raw("POST", path, json={"scopeId": tenant.corp_id})) == (
            400,
            "paramError.scope",
        )
        assert code(st.raw("POST", path, json={"scope": "ORG"})) == (400, "paramError.scopeId")
        assert code(st.raw("POST", path, json={"scope": "ORG", "scopeId": 7})) == (
            400,
            "paramError.scopeId",
        )
        assert code(st.raw("POST", path, json=["ORG"])) == (400, "paramError")
        assert code(st.raw("POST", path)) == (400, "Missingbody")
        # the operator is required, as on every storage operation
        no_operator = http.post(
            f"{st.server.url}/v1.0/storage{path}",
            json={"scope": "ORG", "scopeId": tenant.corp_id},
            headers={"x-acs-dingtalk-access-token": st.token},
        )
        assert code(no_operator) == (400, "paramError")


def test_the_operator_must_see_what_the_app_subscribes_to(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    bob = server.run(server.services.identity.create_user(tenant.corp_id, "bob"))
    as_bob = st.as_user(bob.union_id)
    space = st.new_space()
    for call in (as_bob.subscribe_event, as_bob.unsubscribe_event):
        # the org: its admins only
        assert error_of(lambda c=call: c("ORG", tenant.corp_id)) == (403, "permissionDenied")
        # a space: who holds a role anywhere in it
        assert error_of(lambda c=call: c("SPACE", space.id)) == (403, "permissionDenied")
    assert emit(server, tenant.corp_id, space.id, 1) == 0

    folder = st.add_folder(space.id, "shared")
    st.add_permission(space.id, folder.id, "READER", [("USER", bob.union_id)])
    assert as_bob.subscribe_event("SPACE", space.id).success is True
    assert emit(server, tenant.corp_id, space.id, 2) == 1
    assert ("2", "SPACE", space.id) in heard(st)  # the app's subscription, whoever made it
    assert as_bob.unsubscribe_event("SPACE", space.id).success is True


def test_an_app_without_event_write_is_refused(
    server: LiveServer, sdk: Sdk, tenant: Tenant, st: Storage
) -> None:
    narrow = another_app(server, sdk, tenant, tuple(s for s in scopes.ALL if s != SCOPE))
    space = narrow.new_space()
    for call, args in (
        (narrow.subscribe_event, ("ORG", tenant.corp_id)),
        (narrow.subscribe_event, ("SPACE", space.id)),
        (narrow.unsubscribe_event, ("ORG", tenant.corp_id)),
    ):
        err = sdk_error(lambda c=call, a=args: c(*a))
        assert (err.statusCode, err.code) == (
            403,
            "Forbidden.AccessDenied.AccessTokenPermissionDenied",
        )
        assert err.accessDeniedDetail == {"requiredScopes": [SCOPE]}
    response = narrow.pull_events_raw()
    assert response.status_code == 403
    assert response.json()["accessdenieddetail"] == {"requiredScopes": [SCOPE]}
    assert emit(server, tenant.corp_id, space.id, 1) == 0
    assert rows(server, tenant.corp_id) == []


def test_concurrent_identical_subscribes_all_succeed(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    space = st.new_space()
    results: list[Any] = []

    def subscribe() -> None:
        try:
            results.append(st.subscribe_event("SPACE", space.id).success)
        except Exception as exc:  # recorded: the assertion below shows it
            results.append(exc)

    threads = [threading.Thread(target=subscribe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [True] * 8
    assert emit(server, tenant.corp_id, space.id, 1) == 1
