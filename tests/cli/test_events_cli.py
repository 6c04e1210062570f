"""``dingstore admin app set-callback`` and ``dingstore admin events list|redeliver``, run as an
operator runs them, on the store of a live server, with a receiver that checks every push."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from dingstore.service.events import crypto, retries
from tests.cli.test_admin import admin, command
from tests.conftest import Tenant
from tests.events import receiver as rx
from tests.events.outbox import emit, log, push_due
from tests.live import LiveServer


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    return make_server(workers=0)  # no dispatcher of its own: the test runs the passes


@pytest.fixture
def receiver(tenant: Tenant) -> Iterator[rx.Receiver]:
    with rx.receiving(tenant) as r:
        yield r


def app_key_of(tenant: Tenant) -> str:
    key = tenant.boot.credentials.app.app_key
    assert key is not None
    return key


def set_callback(server: LiveServer, tenant: Tenant, r: rx.Receiver) -> dict[str, object]:
    return admin(
        server.settings,
        "app",
        "set-callback",
        "--app-key",
        app_key_of(tenant),
        "--url",
        r.url,
        "--token",
        r.token,
        "--aes-key",
        r.aes_key,
    )


def where(server: LiveServer) -> list[str]:
    s = server.settings
    return ["--data-dir", str(s.data_dir), "--database-url", str(s.database_url)]


def test_set_callback_checks_the_url_then_pushes_go_there(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    saved = set_callback(server, tenant, receiver)
    assert saved == {
        "appKey": app_key_of(tenant),
        "appId": tenant.boot.credentials.app.app_id,
        "corpId": tenant.corp_id,
        "url": receiver.url,
        "mode": "push",
    }
    assert [p.message for p in receiver.pushes] == [{"EventType": "check_url"}]
    emit(server, tenant, 2)
    push_due(server)
    assert len(receiver.events()) == 2 and receiver.problems == []
    # --clear: back to Stream mode, nothing more is pushed
    cleared = admin(
        server.settings, "app", "set-callback", "--app-key", app_key_of(tenant), "--clear"
    )
    assert cleared == {"appKey": app_key_of(tenant), "cleared": True, "mode": "stream"}
    emit(server, tenant, 1, first_dentry=5000)
    push_due(server)
    assert len(receiver.events()) == 2


@pytest.mark.parametrize("mode", [rx.FAIL, rx.BAD_SIGNATURE, rx.HTTP_500, rx.DROP])
def test_set_callback_refuses_a_url_that_does_not_answer_success(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver, mode: str
) -> None:
    receiver.mode = mode
    args = ["--url", receiver.url, "--token", receiver.token, "--aes-key", receiver.aes_key]
    result = command(
        "admin", "app", "set-callback", "--app-key", app_key_of(tenant), *args, *where(server)
    )
    assert result.returncode == 2, result.stdout
    assert "check_url" in result.stderr and "nothing was saved" in result.stderr
    emit(server, tenant, 1)
    push_due(server)  # no callback: the app is in Stream mode, nothing is pushed
    assert receiver.events() == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--url", "http://127.0.0.1:9/cb", "--token", "t", "--aes-key", "x" * 42],
            "43 characters",
        ),
        (["--url", "http://127.0.0.1:9/cb", "--token", "t"], "needs --url, --token and --aes-key"),
        (["--clear", "--url", "http://127.0.0.1:9/cb"], "--clear takes no"),
    ],
)
def test_set_callback_refuses_bad_arguments(
    server: LiveServer, tenant: Tenant, args: list[str], message: str
) -> None:
    result = command(
        "admin", "app", "set-callback", "--app-key", app_key_of(tenant), *args, *where(server)
    )
    assert result.returncode == 2
    assert message in result.stderr


def test_a_closed_port_is_refused(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    receiver.stop()
    args = ["--url", receiver.url, "--token", "t", "--aes-key", crypto.random_text(43)]
    result = command(
        "admin", "app", "set-callback", "--app-key", app_key_of(tenant), *args, *where(server)
    )
    assert result.returncode == 2 and "Connection refused" in result.stderr


def test_events_list_and_redeliver(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    set_callback(server, tenant, receiver)
    key = app_key_of(tenant)
    emit(server, tenant, 2)
    receiver.mode = rx.HTTP_500
    # both events fail every attempt
    first, second = sorted(log(server, tenant), key=lambda d: d.event_id)
    for _ in range(retries.ATTEMPTS):
        push_due(server)
        server.clock.advance(12 * 3600)
    listed = admin(server.settings, "events", "list", "--app-key", key)
    assert [e["eventId"] for e in listed["events"]] == [second.event_id, first.event_id]
    for e in listed["events"]:
        assert e["status"] == "FAILED" and e["attempts"] == retries.ATTEMPTS
        assert e["lastError"] == "HTTP 500" and e["eventType"] == "storage_dentry_create"
        assert e["type"] == "FILE" and e["name"].endswith(".docx") and e["bornAt"].endswith("Z")
    failed_only = admin(server.settings, "events", "list", "--app-key", key, "--failed")
    assert len(failed_only["events"]) == 2

    # one named event again: only it goes
    receiver.mode = rx.OK
    receiver.pushes.clear()
    again = admin(
        server.settings, "events", "redeliver", "--app-key", key, "--event-id", first.event_id
    )
    assert again == {"appKey": key, "redelivered": 1}
    push_due(server)
    assert [m["eventId"] for m in receiver.events()] == [first.event_id]
    states = {
        e["eventId"]: e
        for e in admin(server.settings, "events", "list", "--app-key", key)["events"]
    }
    assert (
        states[first.event_id]["status"] == "DELIVERED" and states[first.event_id]["attempts"] == 1
    )
    assert states[first.event_id]["deliveredAt"] is not None
    assert states[second.event_id]["status"] == "FAILED"

    # every failed one
    assert (
        admin(server.settings, "events", "redeliver", "--app-key", key, "--failed")["redelivered"]
        == 1
    )
    push_due(server)
    assert sorted(m["eventId"] for m in receiver.events()) == sorted(
        [first.event_id, second.event_id]
    )
    assert admin(server.settings, "events", "list", "--app-key", key, "--failed")["events"] == []

    # the human table names them too
    shown = command("admin", "events", "list", "--app-key", key, *where(server))
    assert shown.returncode == 0 and first.event_id in shown.stdout and "delivered" in shown.stdout


def test_redeliver_refuses_what_it_cannot_do(server: LiveServer, tenant: Tenant) -> None:
    key = app_key_of(tenant)
    neither = command("admin", "events", "redeliver", "--app-key", key, *where(server))
    assert neither.returncode == 2 and "either --event-id" in neither.stderr
    unknown = command(
        "admin", "events", "redeliver", "--app-key", key, "--event-id", "f" * 32, *where(server)
    )
    assert unknown.returncode == 1 and "not events of" in unknown.stderr
    garbage = command(
        "admin", "events", "redeliver", "--app-key", key, "--event-id", "nope", *where(server)
    )
    assert garbage.returncode == 1 and "paramError" in garbage.stderr
    nobody = command("admin", "events", "list", "--app-key", "dingnosuchapp", *where(server))
    assert nobody.returncode == 1 and "appNotExist" in nobody.stderr
