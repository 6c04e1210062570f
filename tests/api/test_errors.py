"""DingTalk's error model on every path: unknown routes, wrong methods, malformed bodies,
unexpected exceptions, deadlines and rate limits — always ``{"code","message","requestid"}``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from dingstore import logs
from tests.conftest import Tenant, new_tenant, sdk_error
from tests.live import LiveServer, Sdk, http


def assert_envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "requestid"}
    assert body["code"] == code and body["message"]
    assert body["requestid"] == response.headers["x-acs-request-id"]
    return body  # type: ignore[no-any-return]


def test_unknown_route_is_404(server: LiveServer) -> None:
    for path in ("/v1.0/storage/nope", "/", "/v1.0/storage/tasks"):
        assert_envelope(http.get(server.url + path), 404, "NotFound")


def test_wrong_method_is_405(server: LiveServer) -> None:
    assert_envelope(http.delete(server.url + "/v1.0/storage/tasks/1"), 405, "MethodNotAllowed")
    assert_envelope(http.get(server.url + "/v1.0/oauth2/accessToken"), 405, "MethodNotAllowed")


def test_405_allows_every_method_of_the_path(server: LiveServer) -> None:
    storage = server.url + "/v1.0/storage/spaces/1/dentries"
    for method, path, allowed in (
        ("GET", f"{storage}/2/permissions", "POST, PUT"),  # AddPermission, UpdatePermission
        ("PATCH", f"{storage}/2", "DELETE"),
        ("POST", f"{storage}", "GET"),
        ("DELETE", server.url + "/_blobs/some/key", "GET, HEAD, PUT"),
    ):
        response = http.request(method, path)
        assert_envelope(response, 405, "MethodNotAllowed")
        assert response.headers["allow"] == allowed, path


def test_malformed_and_missing_bodies(server: LiveServer) -> None:
    url = server.url + "/v1.0/oauth2/accessToken"
    json_type = {"content-type": "application/json"}
    assert_envelope(http.post(url, content=b"{bad", headers=json_type), 400, "paramError")
    assert_envelope(http.post(url, content=b"[1, 2]", headers=json_type), 400, "paramError")
    assert_envelope(http.post(url), 400, "Missingbody")
    assert_envelope(http.post(url, json={"appSecret": "x"}), 400, "paramError.appKey")
    body = assert_envelope(http.post(url, json={"appKey": 5}), 400, "paramError.appKey")
    assert "appKey" in body["message"]


def test_unexpected_exception_is_500_without_a_trace(
    server: LiveServer,
    sdk: Sdk,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:

    async def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(server.services.tasks, "get", explode)
    err = sdk_error(lambda: sdk.get_task(tenant.token, "123", tenant.admin_id))
    assert (err.statusCode, err.code) == (500, "systemError")
    text = str(err.data)
    assert "secret internals" not in text and "Traceback" not in text and "RuntimeError" not in text
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert logged and logged[-1].exc_info is not None  # the trace went to the log instead
    assert logged[-1].requestid == err.data["requestid"]  # type: ignore[attr-defined]
    line = json.loads(logs.JsonFormatter().format(logged[-1]))
    assert line["requestid"] == err.data["requestid"] and "RuntimeError" in line["exception"]


def test_request_past_the_deadline_is_503(make_server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    server = make_server(request_timeout=0.3)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)

    async def slow(*args: object, **kwargs: object) -> None:
        await asyncio.sleep(2)

    monkeypatch.setattr(server.services.tasks, "get", slow)
    err = sdk_error(lambda: sdk.get_task(tenant.token, "123", tenant.admin_id))
    assert (err.statusCode, err.code) == (503, "operationTimeout")


def test_rate_limit_per_app_and_operation(make_server) -> None:  # type: ignore[no-untyped-def]
    server = make_server(rate_limits={"GetTask": 2})
    sdk = Sdk(server.endpoint)
    tenant, other = new_tenant(server, sdk), new_tenant(server, sdk)
    codes = []
    for _ in range(4):
        try:
            sdk.get_task(tenant.token, "123", tenant.admin_id)
        except Exception as exc:
            codes.append(sdk_error(lambda e=exc: (_ for _ in ()).throw(e)).code)
    assert codes[:2] == ["taskNotExist", "taskNotExist"]
    assert "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi" in codes[2:]
    # Another app has its own budget; token APIs are not limited.
    err = sdk_error(lambda: sdk.get_task(other.token, "123", other.admin_id))
    assert err.code == "taskNotExist"
    err = sdk_error(lambda: sdk.get_task(tenant.token, "123", tenant.admin_id))
    assert (err.statusCode, err.code) == (403, "Forbidden.AccessDenied.QpsLimitForAppkeyAndApi")


def test_rate_limit_is_off_by_default(sdk: Sdk, tenant: Tenant) -> None:
    for _ in range(30):
        err = sdk_error(lambda: sdk.get_task(tenant.token, "123", tenant.admin_id))
        assert err.code == "taskNotExist"
