"""Request bodies have a limit known before they are read (``DINGSTORE_MAX_BODY_SIZE``): over
it, ``413 RequestEntityTooLarge`` whether the size is declared or the body is chunked, nothing
changed; the access token is checked before any body is read; the data plane is exempt."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

from dingstore.settings import Settings
from tests.api.test_errors import assert_envelope
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

LIMIT = 4096
BAD_TOKEN = {"x-acs-dingtalk-access-token": "not-a-token"}


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    return make_server(max_body_size=LIMIT)


def chunked(size: int, chunk: int = 1024) -> Iterator[bytes]:
    """``size`` bytes as a generator: httpx sends it chunked, with no Content-Length."""
    for start in range(0, size, chunk):
        yield b" " * min(chunk, size - start)


def padded(obj: dict[str, object], size: int) -> bytes:
    """``obj`` as JSON of exactly ``size`` bytes (trailing whitespace)."""
    raw = json.dumps(obj).encode()
    return raw + b" " * (size - len(raw))


def test_the_default_limit_is_1_mib() -> None:
    assert Settings().max_body_size == 1024**2


def test_bodies_over_the_limit_are_refused_and_change_nothing(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    storage = Storage.of(server, sdk, tenant)
    space = storage.new_space()
    path = f"{server.url}/v1.0/storage/spaces/{space.id}/dentries/0/folders"
    params = {"unionId": tenant.admin_id}
    headers = {"x-acs-dingtalk-access-token": tenant.token, "content-type": "application/json"}

    declared = padded({"name": "big"}, LIMIT + 1)
    response = http.post(path, params=params, headers=headers, content=declared)
    body = assert_envelope(response, 413, "RequestEntityTooLarge")
    assert str(LIMIT) in body["message"]
    response = http.post(path, params=params, headers=headers, content=chunked(10 * LIMIT))
    assert_envelope(response, 413, "RequestEntityTooLarge")
    assert storage.raw_children(space.id) == []

    at_limit = padded({"name": "fits"}, LIMIT)
    response = http.post(path, params=params, headers=headers, content=at_limit)
    assert response.status_code == 200, response.text
    assert [c["name"] for c in storage.raw_children(space.id)] == ["fits"]


def test_token_apis_are_limited_too(server: LiveServer) -> None:
    url = server.url + "/v1.0/oauth2/accessToken"
    secret = {"appKey": "ding", "appSecret": "x" * LIMIT}
    assert_envelope(http.post(url, json=secret), 413, "RequestEntityTooLarge")
    assert_envelope(http.post(url, content=chunked(10 * LIMIT)), 413, "RequestEntityTooLarge")
    fits = padded({"appKey": "ding", "appSecret": "x"}, LIMIT)
    assert_envelope(http.post(url, content=fits), 400, "invalidClientIdOrSecret")


def test_the_connection_serves_on_after_a_refusal(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        url = "/v1.0/oauth2/accessToken"
        for _ in range(3):
            too_big = client.post(url, content=chunked(100 * LIMIT))
            assert_envelope(too_big, 413, "RequestEntityTooLarge")
            assert client.get("/healthz").status_code == 200


def _operations_with_a_body(server: LiveServer) -> list[APIRoute]:
    """The storage operations (all take a token) that read a JSON body."""
    return [
        route
        for route in server.app.routes
        if isinstance(route, APIRoute)
        and route.path.startswith("/v1.0/storage/")
        and route.body_field is not None
    ]


def test_the_token_is_checked_before_the_body_is_read(server: LiveServer) -> None:
    """Over HTTP, every storage operation that takes a body: a bad token and a chunked body
    over the limit answer ``InvalidAuthentication`` (reading the body first would answer 413)."""
    routes = _operations_with_a_body(server)
    assert len(routes) >= 20
    for route in routes:
        path = route.path.format(**{name: "1" for name in route.param_convertors})
        for method in route.methods:
            response = http.request(
                method,
                server.url + path,
                params={"unionId": "u"},
                headers=BAD_TOKEN,
                content=chunked(10 * LIMIT),
            )
            assert_envelope(response, 400, "InvalidAuthentication")


def test_a_refused_token_reads_no_byte_of_the_body(server: LiveServer) -> None:
    """In process: the app asks for no body at all when the token fails."""
    pulled = 0

    async def receive() -> dict[str, object]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": b" " * 1024, "more_body": pulled < 100}

    sent: list[dict[str, object]] = []

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1.0/storage/spaces/1/dentries/batchCopy",
        "raw_path": b"/v1.0/storage/spaces/1/dentries/batchCopy",
        "query_string": b"unionId=u",
        "root_path": "",
        "headers": [(b"x-acs-dingtalk-access-token", b"not-a-token")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
        "app": server.app,
    }
    server.run(asyncio.wait_for(server.app(scope, receive, send), 10))
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["code"] == "InvalidAuthentication"  # type: ignore[arg-type]
    assert pulled == 0


def test_the_data_plane_is_not_limited_by_the_api_limit(
    server: LiveServer, sdk: Sdk, tenant: Tenant
) -> None:
    storage = Storage.of(server, sdk, tenant)
    space = storage.new_space()
    data = bytes(range(256)) * (4 * LIMIT // 256)
    dentry = storage.upload(space.id, data, "big.bin")
    assert storage.download(space.id, dentry.id) == data
