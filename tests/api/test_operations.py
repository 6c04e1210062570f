"""Health, metrics and the OpenAPI document."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant, sdk_error
from tests.live import LiveServer, Sdk, http


def test_healthz(server: LiveServer, monkeypatch: pytest.MonkeyPatch) -> None:
    response = http.get(server.url + "/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})

    async def down() -> bool:
        return False

    monkeypatch.setattr(server.services.db, "ping", down)
    response = http.get(server.url + "/healthz")
    assert response.status_code == 503 and response.json()["code"] == "systemError"


def test_metrics_count_requests_by_route_and_status(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    sdk_error(lambda: sdk.get_task(tenant.token, "123", tenant.admin_id))
    http.get(server.url + "/nope")
    text = http.get(server.url + "/metrics").text
    labels = 'method="GET",route="/v1.0/storage/tasks/{taskId}",status="404"'
    assert f"dingstore_http_requests_total{{{labels}}} 1.0" in text
    assert 'route="unmatched",status="404"' in text
    assert "dingstore_http_request_duration_seconds_bucket" in text


def test_openapi_documents_every_route(server: LiveServer) -> None:
    doc = http.get(server.url + "/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/v1.0/storage/tasks/{taskId}"]) == {"get"}
    assert set(paths["/v1.0/oauth2/accessToken"]) == {"post"}
    assert set(paths["/v1.0/oauth2/corpAccessToken"]) == {"post"}
    assert set(paths["/healthz"]) == {"get"}
    get_task = paths["/v1.0/storage/tasks/{taskId}"]["get"]
    assert get_task["operationId"] == "GetTask"
    params = {p["name"]: p["in"] for p in get_task["parameters"]}
    # waitSeconds: the long-poll of docs/tasks.md (Extensions), optional, unseen by the SDK
    assert params == {"taskId": "path", "unionId": "query", "waitSeconds": "query"}
    schemas = doc["components"]["schemas"]
    assert set(schemas["Task"]["properties"]) == {
        "id",
        "status",
        "totalCount",
        "successCount",
        "failCount",
        "failMessage",
        "beginTime",
        "endTime",
    }
    assert set(schemas["AccessTokenResponse"]["properties"]) == {"accessToken", "expireIn"}
    assert set(schemas["Error"]["properties"]) == {
        "code",
        "message",
        "requestid",
        "accessdenieddetail",
    }
    assert (
        doc["components"]["securitySchemes"]["APIKeyHeader"]["name"]
        == "x-acs-dingtalk-access-token"
    )


def test_every_route_the_server_answers_is_documented(server: LiveServer) -> None:
    from fastapi.routing import APIRoute

    doc = http.get(server.url + "/openapi.json").json()
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}

    def walk(routes: list, prefix: str = "") -> set[tuple[str, str]]:  # type: ignore[type-arg]
        found: set[tuple[str, str]] = set()
        for route in routes:
            if isinstance(route, APIRoute) and route.include_in_schema:
                found |= {(prefix + route.path, m.lower()) for m in route.methods}
            elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.16x)
                found |= walk(route.original_router.routes, prefix + route.include_context.prefix)
        return found

    served = walk(server.app.routes)
    assert served == documented
