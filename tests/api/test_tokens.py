"""Access tokens through the official SDK: issue, reuse, expiry, third-party suites, and what a
storage request does with a bad, missing or insufficient token."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk


def test_token_is_issued_and_reused_while_valid(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    creds = tenant.boot.credentials
    assert creds.app.app_key
    first = sdk.access_token(creds.app.app_key, creds.app_secret)
    second = sdk.access_token(creds.app.app_key, creds.app_secret)
    assert first.expire_in == 7200
    assert first.access_token == second.access_token == tenant.token
    assert len(first.access_token) == 32


def test_token_expires_and_a_new_one_is_issued(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(token_ttl=1, auth_cache_ttl=0.2)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    assert (
        sdk.access_token(
            tenant.boot.credentials.app.app_key, tenant.boot.credentials.app_secret
        ).expire_in
        == 1
    )
    server.clock.advance(1.3)
    err = sdk_error(lambda: sdk.get_task(tenant.token, "123", tenant.admin_id))
    assert (err.statusCode, err.code) == (400, "InvalidAuthentication")
    fresh = sdk.access_token(
        tenant.boot.credentials.app.app_key, tenant.boot.credentials.app_secret
    )
    assert fresh.access_token != tenant.token
    err = sdk_error(lambda: sdk.get_task(fresh.access_token, "123", tenant.admin_id))
    assert err.code == "taskNotExist"


@pytest.mark.parametrize(
    ("key", "secret"),
    [("nosuchkey", "whatever"), (None, "wrong-secret"), (None, None)],
)
def test_wrong_credentials(sdk: Sdk, tenant: Tenant, key: str | None, secret: str | None) -> None:
    app_key = key or tenant.boot.credentials.app.app_key
    assert app_key
    err = sdk_error(lambda: sdk.access_token(app_key, secret))
    assert (err.statusCode, err.code) == (400, "invalidClientIdOrSecret")


def test_disabled_app_and_rotated_secret(server: LiveServer, sdk: Sdk, tenant: Tenant) -> None:
    identity, creds = server.services.identity, tenant.boot.credentials
    assert creds.app.app_key
    rotated = server.run(identity.rotate_secret(creds.app.app_key))
    err = sdk_error(lambda: sdk.access_token(creds.app.app_key, creds.app_secret))  # type: ignore[arg-type]
    assert err.code == "invalidClientIdOrSecret"
    token = sdk.access_token(creds.app.app_key, rotated.app_secret).access_token
    assert token != tenant.token

    server.run(identity.disable_app(creds.app.app_key))
    err = sdk_error(lambda: sdk.access_token(creds.app.app_key, rotated.app_secret))  # type: ignore[arg-type]
    assert err.code == "invalidClientIdOrSecret"


def test_third_party_suite_token_flow(server: LiveServer, sdk: Sdk, tenant: Tenant) -> None:
    identity = server.services.identity
    suite_key, suite_secret = server.run(identity.create_suite("Partner"))
    ticket = server.run(identity.authorize_suite(suite_key, tenant.corp_id))

    first = sdk.corp_access_token(suite_key, suite_secret, tenant.corp_id, ticket)
    second = sdk.corp_access_token(suite_key, suite_secret, tenant.corp_id, ticket)
    assert first.expire_in == 7200
    assert first.access_token != second.access_token  # a new token on every call (spec §3.2)
    for token in (first.access_token, second.access_token):
        err = sdk_error(lambda t=token: sdk.get_task(t, "123", tenant.admin_id))
        assert err.code == "taskNotExist"  # authenticated, in the right org

    other_org = server.run(identity.create_org("Other"))
    cases = {
        "invalidSuiteKey": ("suitenope", suite_secret, tenant.corp_id, ticket),
        "invalidSuiteKey ": (suite_key, "bad-secret", tenant.corp_id, ticket),
        "invalidSuiteTicket": (suite_key, suite_secret, tenant.corp_id, "bad-ticket"),
        "invalidAuthInfo": (suite_key, suite_secret, other_org.corp_id, ticket),
    }
    for code, args in cases.items():
        err = sdk_error(lambda a=args: sdk.corp_access_token(*a))
        assert (err.statusCode, err.code) == (400, code.strip())


@pytest.mark.parametrize("token", [None, "", "not-a-token", "0" * 32])
def test_storage_call_without_a_valid_token(sdk: Sdk, tenant: Tenant, token: str | None) -> None:
    err = sdk_error(lambda: sdk.get_task(token, "123", tenant.admin_id))
    assert (err.statusCode, err.code) == (400, "InvalidAuthentication")


def test_json_quoted_token_is_accepted(sdk: Sdk, tenant: Tenant) -> None:
    err = sdk_error(lambda: sdk.get_task(f'"{tenant.token}"', "123", tenant.admin_id))
    assert err.code == "taskNotExist"


def test_missing_scope_is_403_with_required_scopes(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    creds = server.run(
        server.services.identity.create_app(tenant.corp_id, "narrow", ("Storage.File.Read",))
    )
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token  # type: ignore[arg-type]
    err = sdk_error(lambda: sdk.get_task(token, "123", tenant.admin_id))
    assert (err.statusCode, err.code) == (403, "Forbidden.AccessDenied.AccessTokenPermissionDenied")
    assert err.accessDeniedDetail == {"requiredScopes": ["Storage.Task.Read"]}


def test_missing_union_id_is_param_error(sdk: Sdk, tenant: Tenant) -> None:
    err = sdk_error(lambda: sdk.get_task(tenant.token, "123", None))
    assert (err.statusCode, err.code) == (400, "paramError")


@pytest.mark.parametrize("who", ["unknown", "other-org"])
def test_operator_outside_the_org_is_denied(
    server: LiveServer, sdk: Sdk, tenant: Tenant, who: str
) -> None:
    union_id = "nosuchuser"
    if who == "other-org":
        union_id = new_tenant(server, sdk).admin_id
    err = sdk_error(lambda: sdk.get_task(tenant.token, "123", union_id))
    assert (err.statusCode, err.code) == (403, "permissionDenied")
    assert union_id in err.data["message"]
