"""Stream mode (issue 15; ``shared/spec/events.md`` §2) through the unchanged official
``dingtalk-stream`` SDK, run as an integrator runs it (``tests/stream_client.py``, a process of
its own pointed at the server by ``DINGTALK_OPENAPI_ENDPOINT``)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets.sync.client as ws_client
from websockets.exceptions import InvalidStatus

from dingstore.settings import Settings
from tests import streams
from tests.conftest import Tenant
from tests.live import LiveServer, http

OPEN = "/v1.0/gateway/connections/open"
EVENT = [{"type": "EVENT", "topic": "*"}]


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[Callable[..., streams.StreamClient]]:
    """Start SDK clients; each is killed after the test."""
    started: list[streams.StreamClient] = []

    def start(server: LiveServer, tenant: Tenant, mode: str = "ok") -> streams.StreamClient:
        app = tenant.boot.credentials
        assert app.app.app_key is not None
        log = tmp_path / f"client-{len(started)}.log"
        client = streams.StreamClient(server.url, app.app.app_key, app.app_secret, mode, log)
        started.append(client)
        return client

    yield start
    for client in started:
        client.stop()


def key(tenant: Tenant) -> str:
    assert tenant.boot.credentials.app.app_key is not None
    return tenant.boot.credentials.app.app_key


def app_id(tenant: Tenant) -> str:
    return tenant.boot.credentials.app.app_id


def open_connection(server: LiveServer, tenant: Tenant, **body: Any) -> dict[str, Any]:
    sent = {
        "clientId": key(tenant),
        "clientSecret": tenant.boot.credentials.app_secret,
        "subscriptions": EVENT,
        "ua": "dingtalk-sdk-python/v0.24.3-union",
        "localIp": "",
        **body,
    }
    response = http.post(server.url + OPEN, json=sent)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


# --- the gateway ---------------------------------------------------------------------------------


def test_open_answers_a_websocket_endpoint_and_a_ticket(server: LiveServer, tenant: Tenant) -> None:
    found = open_connection(server, tenant)
    assert found["endpoint"] == f"ws://{server.endpoint}/v1.0/gateway/connect"
    assert re.fullmatch(r"[0-9a-f-]+", found["ticket"])
    assert re.match(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-", found["ticket"])  # a UUID first


@pytest.mark.parametrize(
    "body",
    [
        {"clientSecret": "wrong"},
        {"clientId": "dingnosuchapp", "clientSecret": "x"},
        {"clientSecret": ""},
    ],
)
def test_open_refuses_wrong_credentials(
    server: LiveServer, tenant: Tenant, body: dict[str, str]
) -> None:
    sent = {"clientId": key(tenant), "subscriptions": EVENT, **body}
    response = http.post(server.url + OPEN, json=sent)
    assert response.status_code == 400
    assert response.json()["code"] == "invalidClientIdOrSecret"


def test_a_ticket_opens_one_connection(server: LiveServer, tenant: Tenant) -> None:
    found = open_connection(server, tenant, subscriptions=[])
    url = f"{found['endpoint']}?ticket={found['ticket']}"
    with ws_client.connect(url) as first:
        streams.connected(server, key(tenant))
        with pytest.raises(InvalidStatus) as refused:
            ws_client.connect(url)
        assert refused.value.response.status_code == 400
        assert b"InvalidAuthentication" in refused.value.response.body
        first.send("not an ack")  # ignored
    forged = found["ticket"][:-1] + ("0" if found["ticket"][-1] != "0" else "1")
    with pytest.raises(InvalidStatus):
        ws_client.connect(f"{found['endpoint']}?ticket={forged}")


def test_a_ticket_expires_after_90_seconds(server: LiveServer, tenant: Tenant) -> None:
    found = open_connection(server, tenant)
    server.clock.advance(91)
    with pytest.raises(InvalidStatus):
        ws_client.connect(f"{found['endpoint']}?ticket={found['ticket']}")


def test_the_endpoint_follows_the_public_url(
    make_server: Callable[..., LiveServer], tenant_of: Callable[[LiveServer], Tenant]
) -> None:
    server = make_server(public_url="https://files.example.com/ds/")
    found = open_connection(server, tenant_of(server))
    assert found["endpoint"] == "wss://files.example.com/ds/v1.0/gateway/connect"


# --- events through the SDK ----------------------------------------------------------------------


def test_events_arrive_with_the_documented_headers_and_fields(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    client = clients(server, tenant)
    streams.connected(server, key(tenant))
    ids = streams.emit(server, tenant.corp_id, app_id(tenant), 3, space_id=42)
    got = client.events(3)
    assert [int(e["headers"]["eventId"], 16) for e in got] == ids
    row = streams.rows(server, tenant.corp_id, app_id(tenant))[ids[0]]
    h = got[0]["headers"]
    assert h["appId"] == h["eventUnifiedAppId"] == app_id(tenant)
    assert h["eventCorpId"] == tenant.corp_id
    assert h["contentType"] == "application/json"
    assert h["topic"] == "*"
    assert h["messageId"] == f"{ids[0]}.1"
    assert h["eventId"] == format(ids[0], "032x")
    assert h["eventType"] == "storage_dentry_create"
    assert h["eventBornTime"] == row.born_at
    assert abs(h["time"] - server.clock.now_ms()) < 60_000
    assert h["extensions"] == {"dingstoreSeq": str(ids[0])}
    assert re.fullmatch(r"[0-9a-f-]{36}", h["connectionId"])
    assert got[0]["data"] == {
        "spaceId": "42",
        "dentryId": str(row.dentry_id),
        "type": "FILE",
        "extension": "txt",
        "unionId": "u1",
        "eventScope": "ORG",
        "eventScopeId": tenant.corp_id,
        "dingstoreSeq": ids[0],
        "dingstoreAction": "add",
    }
    _settled(server, tenant, ids, "DELIVERED")
    assert client.quiet(1.5) == []  # acked: not sent again


@pytest.mark.parametrize("mode", ["404-once", "later-once"])
def test_a_refused_event_comes_again_with_its_event_id(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient], mode: str
) -> None:
    client = clients(server, tenant, mode)
    streams.connected(server, key(tenant))
    [row_id] = streams.emit(server, tenant.corp_id, app_id(tenant))
    first = client.next()
    _settled(server, tenant, [row_id], "PENDING", lambda r: r.last_error is not None)
    row = streams.rows(server, tenant.corp_id, app_id(tenant))[row_id]
    assert row.due_at > server.clock.now_ms() + 3000  # the schedule's first delay, ~5 s
    assert row.lease_owner is None
    server.clock.advance(6)
    again = client.next()
    assert again["headers"]["eventId"] == first["headers"]["eventId"]
    assert (first["headers"]["messageId"], again["headers"]["messageId"]) == (
        f"{row_id}.1",
        f"{row_id}.2",
    )
    _settled(server, tenant, [row_id], "DELIVERED")


def test_an_unacked_event_comes_again_after_the_ack_timeout(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    client = clients(server, tenant, "raise-once")  # the handler raises: the SDK sends no ack
    streams.connected(server, key(tenant))
    [row_id] = streams.emit(server, tenant.corp_id, app_id(tenant))
    first = client.next()
    assert client.quiet(1.5) == []  # not before the ack timeout
    server.clock.advance(Settings().event_ack_timeout)
    again = client.next()
    assert again["headers"]["eventId"] == first["headers"]["eventId"]
    assert again["headers"]["messageId"] == f"{row_id}.2"
    _settled(server, tenant, [row_id], "DELIVERED")


def test_a_connection_without_an_event_handler_gets_no_events(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    deaf = clients(server, tenant, "none")
    streams.connected(server, key(tenant))
    ids = streams.emit(server, tenant.corp_id, app_id(tenant), 2)
    assert deaf.quiet(2) == []
    assert {r.attempts for r in streams.rows(server, tenant.corp_id, app_id(tenant)).values()} == {0}
    listening = clients(server, tenant, "ok")
    assert sorted(int(e["headers"]["eventId"], 16) for e in listening.events(2)) == ids
    assert deaf.quiet(0.5) == []


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def tenant_of() -> Callable[[LiveServer], Tenant]:
    from tests.conftest import new_tenant
    from tests.live import Sdk

    def make(server: LiveServer) -> Tenant:
        return new_tenant(server, Sdk(server.endpoint))

    return make


def _settled(
    server: LiveServer,
    tenant: Tenant,
    ids: list[int],
    status: str,
    also: Callable[[Any], bool] = lambda row: True,
    timeout: float = 10,
) -> None:
    """Wait until each of the rows ``ids`` has ``status`` (and ``also`` holds of it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = streams.rows(server, tenant.corp_id, app_id(tenant))
        if all(found[i].status == status and also(found[i]) for i in ids):
            return
        assert time.monotonic() < deadline, [dict(found[i]) for i in ids]
        time.sleep(0.05)


def _unused(_: socket.socket) -> None:  # keep the import for the shutdown test below
    pass
