"""Stream mode (issue 15; ``shared/spec/events.md`` §2) through the unchanged official
``dingtalk-stream`` SDK, run as an integrator runs it (``tests/stream_client.py``, a process of
its own pointed at the server by ``DINGTALK_OPENAPI_ENDPOINT``)."""

from __future__ import annotations

import contextlib
import json
import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import websockets.sync.client as ws_client
from websockets.exceptions import ConnectionClosed, InvalidStatus

from dingstore.clock import ManualClock
from dingstore.settings import Settings
from dingstore.store import events, postgres
from tests import emitted, streams
from tests.api import test_change_events as changes
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage

OPEN = "/v1.0/gateway/connections/open"
EVENT = [{"type": "EVENT", "topic": "*"}]


@pytest.fixture
def clients(tmp_path: Path) -> Iterator[Callable[..., streams.StreamClient]]:
    """Start SDK clients; each is killed after the test."""
    started: list[streams.StreamClient] = []

    def start(
        server: LiveServer,
        tenant: Tenant | None,
        mode: str = "ok",
        credentials: tuple[str, str] | None = None,
    ) -> streams.StreamClient:
        if credentials is None:
            assert tenant is not None
            credentials = key(tenant), tenant.boot.credentials.app_secret
        log = tmp_path / f"client-{len(started)}.log"
        client = streams.StreamClient(server.url, *credentials, mode, log)
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


def test_a_ticket_from_one_process_opens_a_connection_on_another(
    make_server: Callable[..., LiveServer], tenant_of: Callable[[LiveServer], Tenant]
) -> None:
    """Processes behind one address share no memory: the ticket is signed, not stored."""
    opening, serving = make_server(), make_server()
    tenant = tenant_of(opening)
    found = open_connection(opening, tenant)
    [row_id] = streams.emit(opening, tenant)
    with ws_client.connect(
        f"ws://{serving.endpoint}/v1.0/gateway/connect?ticket={found['ticket']}"
    ) as ws:
        frame = _next_event(ws)
        assert frame["headers"]["messageId"] == f"{row_id}.1"
        ws.send(_ack(frame["headers"]["messageId"]))
        _settled(serving, tenant, [row_id], "DELIVERED")


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
    ids = streams.emit(server, tenant, 3, space_id=42)
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


def test_a_dentrys_events_arrive_in_commit_order_one_at_a_time(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    client = clients(server, tenant, "404-first")  # the first is refused: the rest wait for it
    streams.connected(server, key(tenant))
    ids = [row_id for _ in range(3) for row_id in streams.emit(server, tenant, dentry_id=77)]
    first = client.next()
    assert client.quiet(1) == []  # the dentry's next events wait while the first is undelivered
    server.clock.advance(6)
    got = [first, *client.events(3)]
    assert [int(e["headers"]["eventId"], 16) for e in got] == [ids[0], *ids]
    _settled(server, tenant, ids, "DELIVERED")


def test_changes_made_through_the_storage_sdk_reach_the_stream_sdk(
    st: Storage, server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    """End to end: the storage SDK changes the tree, the outbox records it in the change's
    transaction, and the Stream SDK hears it, in order, with the §6 J fields."""
    space = st.new_space()
    streams.subscribe(server, tenant, "SPACE", space.id)
    client = clients(server, tenant)
    streams.connected(server, key(tenant))
    folder = st.add_folder(space.id, "Reports")
    doc = st.upload(space.id, b"hello", "q3.pdf", parent_id=folder.id)
    st.rename(space.id, doc.id, "q3-final.pdf")
    st.delete(space.id, doc.id)
    got = client.events(4)
    seen = [(e["headers"]["eventType"], e["data"]["dentryId"], e["data"]["type"]) for e in got]
    assert seen == [
        ("storage_dentry_create", folder.id, "FOLDER"),
        ("storage_dentry_create", doc.id, "FILE"),
        ("storage_dentry_update", doc.id, "FILE"),
        ("storage_dentry_delete", doc.id, "FILE"),
    ]
    for e in got:
        assert e["data"]["spaceId"] == space.id
        assert e["data"]["unionId"] == tenant.admin_id
        assert (e["data"]["eventScope"], e["data"]["eventScopeId"]) == ("SPACE", space.id)
        assert e["headers"]["eventCorpId"] == tenant.corp_id
    assert [e["data"]["extension"] for e in got] == ["", "pdf", "pdf", "pdf"]
    seqs = [e["data"]["dingstoreSeq"] for e in got]
    assert seqs == sorted(seqs) and len(set(seqs)) == 4
    assert client.quiet(1) == []


def test_every_operation_that_emits_reaches_the_stream_sdk(
    st: Storage, server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    """Issue 15's list of operations, each through the storage SDK, with the app subscribed to
    its org through SubscribeEvent: each event reaches the Stream SDK, with its type, action,
    eventId and the §6 J fields (docs/events.md, "Which operations emit what")."""
    assert st.subscribe_event("ORG", tenant.corp_id).success is True
    client = clients(server, tenant)
    streams.connected(server, key(tenant))
    a, b = st.new_space(), st.new_space()
    bin_id = st.get_recycle_bin(tenant.corp_id).id
    want: list[tuple[str, str, str, str, str, str]] = []  # type, action, space, dentry, kind, ext

    def expect(kind: str, action: str, space: str, dentry: str, dentry_type: str) -> None:
        extension = "" if dentry_type == "FOLDER" else "txt"
        want.append((f"storage_dentry_{kind}", action, space, dentry, dentry_type, extension))

    docs = st.add_folder(a.id, "docs")
    expect("create", "add", a.id, docs.id, "FOLDER")
    doc = st.upload(a.id, b"v1", "a.txt", parent_id=docs.id)
    expect("create", "upload", a.id, doc.id, "FILE")
    st.upload(a.id, b"v2", "a.txt", parent_id=docs.id, conflict_strategy="OVERWRITE")
    expect("update", "version", a.id, doc.id, "FILE")
    st.rename(a.id, doc.id, "b.txt")
    expect("update", "rename", a.id, doc.id, "FILE")
    changes._revert(st, a.id, doc.id, 1)
    expect("update", "revert", a.id, doc.id, "FILE")
    changes._set_property(st, a.id, doc.id, "k", "v")
    expect("update", "properties", a.id, doc.id, "FILE")
    changes._drop_properties(st, a.id, doc.id, ["k"])
    expect("update", "properties", a.id, doc.id, "FILE")
    st.move(a.id, doc.id, a.id, "0")  # within the space
    expect("update", "move", a.id, doc.id, "FILE")
    sub = st.add_folder(a.id, "sub", docs.id)
    expect("create", "add", a.id, sub.id, "FOLDER")
    copied = st.copy(a.id, docs.id, b.id)  # a folder and its child: one create per node made
    if copied.async_:
        assert st.wait_task(copied.task_id).status == "SUCCESS"
    top = next(d for d in st.list_dentries(b.id) if d.name == "docs")
    [inner] = st.list_dentries(b.id, top.id)
    expect("create", "copy", b.id, top.id, "FOLDER")
    expect("create", "copy", b.id, inner.id, "FOLDER")
    st.move(a.id, doc.id, b.id, "0")  # across spaces: gone from one, new in the other
    expect("delete", "move", a.id, doc.id, "FILE")
    expect("create", "move", b.id, doc.id, "FILE")
    st.delete(b.id, doc.id, to_recycle_bin=True)
    expect("delete", "recycle", b.id, doc.id, "FILE")
    [item] = [i for i in st.recycle_items(bin_id) if i.dentry_id == doc.id]
    st.restore_recycle_item(bin_id, item.id)
    expect("create", "restore", b.id, doc.id, "FILE")
    st.delete(b.id, doc.id, to_recycle_bin=True)
    expect("delete", "recycle", b.id, doc.id, "FILE")
    [item] = [i for i in st.recycle_items(bin_id) if i.dentry_id == doc.id]
    st.delete_recycle_item(bin_id, item.id)
    expect("delete", "purge", b.id, doc.id, "FILE")
    st.delete(a.id, sub.id, to_recycle_bin=False)
    expect("delete", "delete", a.id, sub.id, "FOLDER")

    got = sorted(client.events(len(want)), key=lambda e: int(e["headers"]["eventId"], 16))
    seen = [
        (
            e["headers"]["eventType"],
            e["data"]["dingstoreAction"],
            e["data"]["spaceId"],
            e["data"]["dentryId"],
            e["data"]["type"],
            e["data"]["extension"],
        )
        for e in got
    ]
    assert seen == want  # and in the order the changes committed
    for e in got:
        h, data = e["headers"], e["data"]
        assert (data["unionId"], data["eventScope"], data["eventScopeId"]) == (
            tenant.admin_id, "ORG", tenant.corp_id,
        )  # fmt: skip
        assert (h["eventCorpId"], h["appId"]) == (tenant.corp_id, app_id(tenant))
        assert h["extensions"] == {"dingstoreSeq": str(data["dingstoreSeq"])}
        assert re.fullmatch(r"[0-9a-f]{32}", h["eventId"])
    assert len({e["headers"]["eventId"] for e in got}) == len(want)
    assert client.quiet(1) == []  # each once: acked


def test_only_the_subscribed_scopes_reach_the_stream_sdk(
    st: Storage,
    server: LiveServer,
    sdk: Sdk,
    tenant: Tenant,
    clients: Callable[..., streams.StreamClient],
) -> None:
    """SPACE vs ORG scope, UnsubscribeEvent, an unsubscribed space and another org, all through
    the SDKs: what the Stream client hears is exactly what its app is subscribed to."""
    from tests.conftest import new_tenant

    watched, unwatched = st.new_space(), st.new_space()
    stranger_tenant = new_tenant(server, sdk)
    stranger = Storage.of(server, sdk, stranger_tenant)
    assert stranger.subscribe_event("ORG", stranger_tenant.corp_id).success is True
    theirs = stranger.new_space()
    client = clients(server, tenant)
    streams.connected(server, key(tenant))

    def heard(count: int) -> list[tuple[str, str, str, str]]:
        got = sorted(client.events(count), key=lambda e: int(e["headers"]["eventId"], 16))
        assert client.quiet(1) == []  # nothing else: another org's and unwatched changes
        return [
            (e["data"]["spaceId"], e["data"]["dentryId"], e["data"]["eventScope"],
             e["data"]["eventScopeId"])
            for e in got
        ]  # fmt: skip

    assert st.subscribe_event("SPACE", watched.id).success is True
    seen = st.add_folder(watched.id, "seen")
    st.add_folder(unwatched.id, "unseen")
    stranger.add_folder(theirs.id, "theirs")  # its own app's event, never this one's
    assert heard(1) == [(watched.id, seen.id, "SPACE", watched.id)]

    assert st.subscribe_event("ORG", tenant.corp_id).success is True
    both = st.add_folder(watched.id, "both")  # one event, the space's scope named
    org_only = st.add_folder(unwatched.id, "org-only")
    stranger.add_folder(theirs.id, "theirs-2")
    assert heard(2) == [
        (watched.id, both.id, "SPACE", watched.id),
        (unwatched.id, org_only.id, "ORG", tenant.corp_id),
    ]

    assert st.unsubscribe_event("ORG", tenant.corp_id).success is True
    assert st.unsubscribe_event("SPACE", watched.id).success is True
    st.add_folder(watched.id, "after")
    st.add_folder(unwatched.id, "after")
    assert heard(0) == []
    # the stranger's own app heard its two changes (its org, its subscription)
    assert [r["name"] for r in emitted.rows(server, stranger_tenant.corp_id)] == [
        "theirs", "theirs-2",
    ]  # fmt: skip


@pytest.mark.parametrize("mode", ["404-once", "later-once"])
def test_a_refused_event_comes_again_with_its_event_id(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient], mode: str
) -> None:
    client = clients(server, tenant, mode)
    streams.connected(server, key(tenant))
    [row_id] = streams.emit(server, tenant)
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


def test_several_refusals_each_come_again(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    """Refusals gathered in one write (one ``retry_many`` per app): each refused row is due
    again on its own attempt, none lost or settled twice."""
    client = clients(server, tenant, "404-once")
    streams.connected(server, key(tenant))
    rows = streams.emit(server, tenant, 6)
    first = [client.next() for _ in rows]
    assert sorted(int(e["headers"]["messageId"].split(".")[0]) for e in first) == rows
    _settled(server, tenant, rows, "PENDING", lambda r: "code 404" in (r.last_error or ""))
    found = streams.rows(server, tenant.corp_id, app_id(tenant))
    assert all(found[i].attempts == 1 and found[i].lease_owner is None for i in rows)
    server.clock.advance(6)
    again = [client.next() for _ in rows]
    assert sorted(e["headers"]["messageId"] for e in again) == sorted(f"{i}.2" for i in rows)
    _settled(server, tenant, rows, "DELIVERED")


@pytest.mark.parametrize(
    ("code", "data", "message", "error"),
    [
        (200, '{"status": "LATER"}', "", "stream ack LATER"),
        (404, "{}", "not implement", "stream ack code 404: not implement"),
    ],
)
def test_a_refusal_is_logged_as_docs_events_md_names_it(
    server: LiveServer, tenant: Tenant, code: int, data: str, message: str, error: str
) -> None:
    found = open_connection(server, tenant)
    [row_id] = streams.emit(server, tenant)
    with ws_client.connect(f"{found['endpoint']}?ticket={found['ticket']}") as ws:
        frame = _next_event(ws)
        headers = {"contentType": "application/json", "messageId": frame["headers"]["messageId"]}
        ws.send(json.dumps({"code": code, "headers": headers, "message": message, "data": data}))
        _settled(server, tenant, [row_id], "PENDING", lambda r: r.last_error is not None)
    assert streams.rows(server, tenant.corp_id, app_id(tenant))[row_id].last_error == error


def test_an_unacked_event_comes_again_after_the_ack_timeout(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    client = clients(server, tenant, "raise-once")  # the handler raises: the SDK sends no ack
    streams.connected(server, key(tenant))
    [row_id] = streams.emit(server, tenant)
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
    ids = streams.emit(server, tenant, 2)
    assert deaf.quiet(2) == []
    assert {r.attempts for r in streams.rows(server, tenant.corp_id, app_id(tenant)).values()} == {
        0
    }
    listening = clients(server, tenant, "ok")
    assert sorted(int(e["headers"]["eventId"], 16) for e in listening.events(2)) == ids
    assert deaf.quiet(0.5) == []


def test_an_app_in_push_mode_gets_no_events_on_stream(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    db, now = server.services.db, server.clock.now_ms()

    async def callback(url: str | None) -> None:
        async with db.write() as conn:
            if url is None:
                await events.clear_callback(conn, tenant.corp_id, app_id(tenant))
            else:
                await events.set_callback(
                    conn, tenant.corp_id, app_id(tenant), url=url, token="t", aes_key="k" * 43,
                    now=now,
                )  # fmt: skip

    server.run(callback("http://127.0.0.1:9/nowhere"))
    client = clients(server, tenant)
    streams.connected(server, key(tenant))
    ids = streams.emit(server, tenant, 2)
    assert client.quiet(1.5) == []
    server.run(callback(None))  # back to Stream mode
    server.clock.advance(6)  # past the delay of a failed push, if one was tried meanwhile
    assert sorted(int(e["headers"]["eventId"], 16) for e in client.events(2)) == ids


def test_a_disabled_app_opens_no_connection(server: LiveServer, tenant: Tenant) -> None:
    """``admin app disable``: no ticket, and a ticket issued before opens nothing."""
    identity = server.services.identity
    found = open_connection(server, tenant)
    server.run(identity.disable_app(key(tenant)))
    try:
        sent = {"clientId": key(tenant), "clientSecret": tenant.boot.credentials.app_secret}
        response = http.post(server.url + OPEN, json={**sent, "subscriptions": EVENT})
        assert response.status_code == 400
        assert response.json()["code"] == "invalidClientIdOrSecret"
        with pytest.raises(InvalidStatus) as refused:
            ws_client.connect(f"{found['endpoint']}?ticket={found['ticket']}")
        assert refused.value.response.status_code == 400
    finally:
        server.run(identity.disable_app(key(tenant), disabled=False))
    found = open_connection(server, tenant)  # enabled again: it connects
    with ws_client.connect(f"{found['endpoint']}?ticket={found['ticket']}"):
        streams.connected(server, key(tenant))


def test_a_disabled_apps_open_connection_gets_nothing_until_it_is_enabled_again(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    """Its events wait in the outbox and come once it is enabled again (within retention)."""
    identity = server.services.identity
    streams.subscribe(server, tenant)  # while it may: a disabled app's token is refused
    client = clients(server, tenant)
    streams.connected(server, key(tenant))
    server.run(identity.disable_app(key(tenant)))
    try:
        ids = streams.write(server, tenant.corp_id, app_id(tenant), 2)
        assert client.quiet(1.5) == []
    finally:
        server.run(identity.disable_app(key(tenant), disabled=False))
    assert sorted(int(e["headers"]["eventId"], 16) for e in client.events(2)) == ids


def test_a_suites_connection_carries_the_events_of_every_org_that_installed_it(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    identity = server.services.identity
    suite_key, suite_secret = server.run(identity.create_suite("Partner"))
    other = server.run(identity.create_org("Other"))
    tickets = {
        corp_id: server.run(identity.authorize_suite(suite_key, corp_id))
        for corp_id in (tenant.corp_id, other.corp_id)
    }
    admins = {
        tenant.corp_id: tenant.admin_id,
        other.corp_id: server.run(identity.create_user(other.corp_id, "bo", admin=True)).union_id,
    }
    apps = {
        a.corp_id: a.app_id
        for corp_id in (tenant.corp_id, other.corp_id)
        for a in server.run(identity.list_apps(corp_id))
        if a.suite_key == suite_key
    }
    client = clients(server, None, credentials=(suite_key, suite_secret))
    streams.connected(server, suite_key)
    sdk = Sdk(server.endpoint)
    for corp_id, ticket in tickets.items():  # each org's suite app subscribes, with its token
        token = sdk.corp_access_token(suite_key, suite_secret, corp_id, ticket).access_token
        assert token is not None
        Storage(server, sdk, token, admins[corp_id]).subscribe_event("ORG", corp_id)
    ids = {corp_id: streams.write(server, corp_id, app, 2) for corp_id, app in apps.items()}
    got = client.events(4)
    by_org = {
        corp_id: sorted(
            int(e["headers"]["eventId"], 16) for e in got if e["headers"]["eventCorpId"] == corp_id
        )
        for corp_id in apps
    }
    assert by_org == ids
    assert {e["headers"]["appId"] for e in got} == set(apps.values())
    for corp_id, app in apps.items():
        _settled(server, tenant, ids[corp_id], "DELIVERED", corp_id=corp_id, app=app)
    assert (
        http.post(
            server.url + OPEN, json={"clientId": suite_key, "clientSecret": "wrong"}
        ).status_code
        == 400
    )


def test_a_connection_gets_system_pings(
    make_server: Callable[..., LiveServer],
    tenant_of: Callable[[LiveServer], Tenant],
    clients: Callable[..., streams.StreamClient],
) -> None:
    server = make_server(stream_ping_interval=0.2)
    client = clients(server, tenant_of(server), "none")
    ping = client.next("system")
    assert ping["topic"] == "ping" and set(ping["data"]) == {"opaque"}
    assert client.next("system")["data"] != ping["data"]  # acked, and the next one comes


def test_two_connections_of_an_app_share_its_events_each_on_one(
    make_server: Callable[..., LiveServer],
    tenant_of: Callable[[LiveServer], Tenant],
    clients: Callable[..., streams.StreamClient],
) -> None:
    server = make_server(stream_window=8)
    tenant = tenant_of(server)
    pair = [clients(server, tenant), clients(server, tenant)]
    streams.connected(server, key(tenant), 2)
    ids = streams.emit(server, tenant, 200)
    first, second = _gather(pair, 200)
    assert sorted(first + second) == ids  # every event once, none on both
    assert first and second  # both connections carried some
    assert [c.quiet(0.5) for c in pair] == [[], []]
    _settled(server, tenant, ids, "DELIVERED")


def test_a_dead_connections_events_go_to_another_at_once(
    server: LiveServer, tenant: Tenant, clients: Callable[..., streams.StreamClient]
) -> None:
    silent = clients(server, tenant, "raise")  # never acks
    streams.connected(server, key(tenant))
    ids = streams.emit(server, tenant, 5)
    assert sorted(int(e["headers"]["eventId"], 16) for e in silent.events(5)) == ids
    healthy = clients(server, tenant, "ok")
    streams.connected(server, key(tenant), 2)
    assert healthy.quiet(1) == []  # leased to the silent one
    began = time.monotonic()
    silent.stop()  # SIGKILL: no close frame
    got = healthy.events(5)
    assert time.monotonic() - began < 10  # its leases were given back, not waited out (30 s)
    assert sorted(int(e["headers"]["eventId"], 16) for e in got) == ids
    assert {e["headers"]["messageId"].split(".")[1] for e in got} == {"2"}
    _settled(server, tenant, ids, "DELIVERED")


def test_an_ack_counts_on_the_apps_next_connection(server: LiveServer, tenant: Tenant) -> None:
    [row_id] = streams.emit(server, tenant)
    with _raw(server, tenant) as first:
        sent = _next_event(first)
    assert sent["headers"]["messageId"] == f"{row_id}.1"
    # closed unacked: its lease is given back at once, and the next connection gets it
    with _raw(server, tenant) as second:
        again = _next_event(second)
        assert again["headers"]["messageId"] == f"{row_id}.2"
        assert again["headers"]["eventId"] == sent["headers"]["eventId"]
        second.send(_ack(sent["headers"]["messageId"]))  # the first attempt's ack, late
        _settled(server, tenant, [row_id], "DELIVERED")


@pytest.mark.heavy(12)
def test_shutdown_tells_clients_to_disconnect_and_the_sdk_reconnects(
    tmp_path: Path,
    database_url: str,
    blob_url: str | None,
    tenant_of: Callable[[LiveServer], Tenant],
    clients: Callable[..., streams.StreamClient],
) -> None:
    listener = _reusable_socket(0)
    port = listener.getsockname()[1]
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, blob_url=blob_url, port=port, log_json=False
    )
    old = LiveServer(settings, ManualClock(), listener).start()
    try:
        tenant = tenant_of(old)
        client = clients(old, tenant)
        streams.connected(old, key(tenant))
        streams.emit(old, tenant)
        before = client.next()
        began = time.monotonic()
    finally:
        old.stop()
    assert time.monotonic() - began < 5  # the client closed at once, as told
    assert client.next("system")["topic"] == "disconnect"
    # the same address again (a restart): the SDK opens its next connection there
    new = LiveServer(settings, old.clock, _reusable_socket(port)).start()
    try:
        streams.connected(new, key(tenant), timeout=30)
        [row_id] = streams.emit(new, tenant)
        after = client.next()
        assert int(after["headers"]["eventId"], 16) == row_id
        assert after["headers"]["connectionId"] != before["headers"]["connectionId"]
    finally:
        new.stop()


def _reusable_socket(port: int) -> socket.socket:
    """A loopback socket on ``port`` that a later one may bind again once it is closed (its
    connections' TIME_WAIT notwithstanding)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def test_acks_are_taken_after_disconnect_until_the_client_closes(
    make_server: Callable[..., LiveServer], tenant_of: Callable[[LiveServer], Tenant]
) -> None:
    server = make_server()
    tenant = tenant_of(server)
    [row_id] = streams.emit(server, tenant)
    with _raw(server, tenant) as raw:
        sent = _next_event(raw)
        stopping = threading.Thread(target=server.stop)
        stopping.start()
        frame = json.loads(raw.recv(timeout=10))
        assert (frame["type"], frame["headers"]["topic"]) == ("SYSTEM", "disconnect")
        assert json.loads(frame["data"]) == {"reason": "server shutdown"}
        raw.send(_ack(sent["headers"]["messageId"]))
    stopping.join(timeout=30)
    again = make_server()  # the same store
    _settled(again, tenant, [row_id], "DELIVERED")


def test_a_client_that_stays_after_disconnect_is_closed(
    make_server: Callable[..., LiveServer], tenant_of: Callable[[LiveServer], Tenant]
) -> None:
    server = make_server()
    tenant = tenant_of(server)
    [row_id] = streams.emit(server, tenant)
    with _raw(server, tenant) as raw:
        _next_event(raw)  # and never acked
        server.run(server.services.stream.drain(timeout=0.5))
        frame = json.loads(raw.recv(timeout=10))
        assert frame["headers"]["topic"] == "disconnect"
        with pytest.raises(ConnectionClosed) as closed:
            raw.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    row = streams.rows(server, tenant.corp_id, app_id(tenant))[row_id]
    assert (row.status, row.lease_owner) == ("PENDING", None)  # given back for the next one
    refused = http.post(server.url + OPEN, json={"clientId": key(tenant), "clientSecret": "x"})
    assert refused.status_code == 503  # draining: the client opens its next one elsewhere


def test_an_event_written_by_another_process_arrives(
    shape: str,
    make_server: Callable[..., LiveServer],
    tenant_of: Callable[[LiveServer], Tenant],
    clients: Callable[..., streams.StreamClient],
) -> None:
    """PostgreSQL's NOTIFY wakes the connection's process at once (its polling is off here);
    SQLite tells other processes nothing, and polling finds the event."""
    notified = shape == "scale-out"
    serving = make_server(stream_poll_interval=60 if notified else 0.2)
    writing = make_server()
    tenant = tenant_of(serving)
    client = clients(serving, tenant)
    streams.connected(serving, key(tenant))
    client.quiet(0.3)  # its listener is up
    began = time.monotonic()
    [row_id] = streams.emit(writing, tenant)
    assert int(client.next(timeout=10)["headers"]["eventId"], 16) == row_id
    assert time.monotonic() - began < 2
    if notified:  # ONE listening connection per server (process), for all its listeners:
        # serving's workers, push dispatcher and Stream hub; writing's workers and pushes
        assert _listening_connections(writing) == 2


def _listening_connections(server: LiveServer) -> int:
    db = server.services.db

    async def count() -> int:
        async with db.read() as conn:
            found = await conn.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": postgres.LISTENER_NAME},
            )
            return int(found.scalar_one())

    return server.run(count())


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture
def tenant_of() -> Callable[[LiveServer], Tenant]:
    from tests.conftest import new_tenant
    from tests.live import Sdk

    def make(server: LiveServer) -> Tenant:
        return new_tenant(server, Sdk(server.endpoint))

    return make


@contextlib.contextmanager
def _raw(server: LiveServer, tenant: Tenant) -> Iterator[ws_client.ClientConnection]:
    """A connection of the tenant's app subscribed to EVENT, by hand (acks are the test's)."""
    found = open_connection(server, tenant)
    with ws_client.connect(f"{found['endpoint']}?ticket={found['ticket']}") as connection:
        yield connection


def _next_event(connection: ws_client.ClientConnection) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(connection.recv(timeout=10))
        if frame["type"] == "EVENT":
            return frame


def _ack(message_id: str, code: int = 200) -> str:
    headers = {"contentType": "application/json", "messageId": message_id}
    return json.dumps({"code": code, "headers": headers, "message": "OK", "data": "{}"})


def _settled(
    server: LiveServer,
    tenant: Tenant,
    ids: list[int],
    status: str,
    also: Callable[[Any], bool] = lambda row: True,
    timeout: float = 10,
    corp_id: str | None = None,
    app: str | None = None,
) -> None:
    """Wait until each of the rows ``ids`` (of the tenant's app, or ``app`` of ``corp_id``)
    has ``status`` (and ``also`` holds of it)."""
    deadline = time.monotonic() + timeout
    while True:
        found = streams.rows(server, corp_id or tenant.corp_id, app or app_id(tenant))
        if all(found[i].status == status and also(found[i]) for i in ids):
            return
        assert time.monotonic() < deadline, [dict(found[i]) for i in ids]
        time.sleep(0.05)


def _gather(
    clients: list[streams.StreamClient], count: int, timeout: float = 30
) -> list[list[int]]:
    """The row ids of the next ``count`` events, spread over ``clients``: each one's."""
    got: list[list[int]] = [[] for _ in clients]
    deadline = time.monotonic() + timeout
    while sum(map(len, got)) < count:
        assert time.monotonic() < deadline, [len(g) for g in got]
        for i, client in enumerate(clients):
            with contextlib.suppress(queue.Empty):
                line = client.lines.get(timeout=0.01)
                if line["kind"] == "event":
                    got[i].append(int(line["headers"]["eventId"], 16))
    return got
