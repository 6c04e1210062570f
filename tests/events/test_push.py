"""HTTP push (service/events/push.py, callbacks.py) against a receiver that decrypts and checks
every push as DingTalk's integrators do: events arrive once and in DingTalk's shape; wrong,
late or missing answers are retried on the schedule, then FAILED; a URL that does not answer
``check_url`` correctly is refused.

Most tests drive the dispatcher one pass at a time (``push_due``) on a server without task
workers, moving its clock past each retry delay instead of waiting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from dingstore import errors
from dingstore.service.events import callbacks, crypto, messages, push, retries
from tests.conftest import Tenant
from tests.events import receiver as rx
from tests.events.outbox import SPACE_ID, emit, log, push_due, subscribe
from tests.live import LiveServer, Sdk


@pytest.fixture
def server(make_server: Callable[..., LiveServer]) -> LiveServer:
    """A server of the test's own without task workers, hence without a push dispatcher of its
    own: the test runs passes itself."""
    return make_server(workers=0)


@pytest.fixture
def receiver(tenant: Tenant) -> Iterator[rx.Receiver]:
    with rx.receiving(tenant) as r:
        yield r


def set_callback(server: LiveServer, tenant: Tenant, r: rx.Receiver) -> push.Callback:
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    return server.run(
        server.services.callbacks.set_callback(app_key, url=r.url, token=r.token, aes_key=r.aes_key)
    )


def test_events_are_pushed_once_in_dingtalks_shape(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    set_callback(server, tenant, receiver)
    assert [p.message for p in receiver.pushes] == [{"EventType": "check_url"}]
    emit(server, tenant, 3)
    push_due(server)
    assert receiver.problems == []
    got = receiver.events()
    assert len(got) == 3
    rows = sorted(log(server, tenant), key=lambda d: d.event_id)
    for message, row in zip(sorted(got, key=lambda m: m["eventId"]), rows, strict=True):
        assert message == {
            "EventType": "storage_dentry_create",
            "EventTime": row.born_at,
            "CorpId": tenant.corp_id,
            "BizId": row.event_id,
            "eventId": row.event_id,
            "spaceId": str(SPACE_ID),
            "dentryId": str(row.dentry_id),
            "type": "FILE",
            "extension": "docx",
            "unionId": tenant.admin_id,
            "eventScope": "ORG",
            "eventScopeId": tenant.corp_id,
            "dingstoreSeq": messages.parse_event_id(row.event_id),
            "dingstoreAction": "upload",
        }
        assert (row.status, row.attempts, row.last_error) == ("DELIVERED", 1, None)
        assert row.delivered_at is not None
    # every push carries both signatures, a millisecond timestamp and an 8-character nonce
    for p in receiver.pushes:
        assert p.query["msg_signature"] == p.query["signature"]
        assert len(p.query["nonce"]) == 8 and p.query["nonce"].isalnum()
    # delivered: never pushed again, however much later
    server.clock.advance(4 * 24 * 3600)
    push_due(server)
    assert len(receiver.events()) == 3


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        (rx.BAD_SIGNATURE, "bad signature"),
        (rx.HTTP_500, "HTTP 500"),
        (rx.FAIL, "not 'success'"),
        (rx.DROP, "connection closed before message completed"),
    ],
)
def test_wrong_answers_are_retried_on_the_schedule_then_failed(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver, mode: str, error: str
) -> None:
    set_callback(server, tenant, receiver)
    receiver.mode = mode
    emit(server, tenant, 1)
    for attempt in range(1, retries.ATTEMPTS + 1):
        before = receiver.requests
        push_due(server)
        assert receiver.requests == before + 1, f"attempt {attempt} was not pushed"
        (row,) = log(server, tenant)
        assert row.attempts == attempt and error in (row.last_error or "")
        if attempt == retries.ATTEMPTS:
            break
        assert row.status == "PENDING"
        base = retries.DELAYS_S[attempt - 1]
        # not before its delay (the shortest the jitter can draw)...
        server.clock.advance(base * (1 - retries.JITTER) - 0.5)
        push_due(server)
        assert receiver.requests == before + 1, f"attempt {attempt + 1} came early"
        # ...and at its end (the longest)
        server.clock.advance(base * 2 * retries.JITTER + 1)
    assert row.status == "FAILED"
    assert receiver.problems == []
    # given up: no more pushes, however long one waits
    server.clock.advance(30 * 24 * 3600)
    push_due(server)
    assert receiver.requests == retries.ATTEMPTS + 1  # + check_url
    # the operator redelivers, the receiver has been fixed: delivered, same eventId
    receiver.mode = rx.OK
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    assert server.run(server.services.callbacks.redeliver(app_key, failed=True)) == 1
    push_due(server)
    (again,) = log(server, tenant)
    assert (again.status, again.attempts, again.event_id) == ("DELIVERED", 1, row.event_id)
    assert {m["eventId"] for m in receiver.events()} == {row.event_id}


def test_a_late_answer_is_a_failure_and_is_retried(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    set_callback(server, tenant, receiver)
    receiver.mode = rx.LATE
    emit(server, tenant, 1)
    started = time.monotonic()
    push_due(server)
    assert time.monotonic() - started < 3.5  # it gave up at 1.5 s, not waiting for the answer
    (row,) = log(server, tenant)
    assert (row.status, row.attempts, row.last_error) == ("PENDING", 1, "timeout after 1500 ms")
    receiver.mode = rx.OK
    server.clock.advance(6)
    push_due(server)
    (row,) = log(server, tenant)
    assert (row.status, row.attempts) == ("DELIVERED", 2)
    assert len(receiver.events()) == 2  # the late one arrived, then its retry, one eventId
    assert len({m["eventId"] for m in receiver.events()}) == 1


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    set_callback(server, tenant, receiver)
    receiver.mode = rx.REDIRECT
    emit(server, tenant, 1)
    before = receiver.requests
    push_due(server)
    assert receiver.requests == before + 1  # the Location was not followed
    (row,) = log(server, tenant)
    assert (row.status, row.attempts, row.last_error) == ("PENDING", 1, "HTTP 302")


def test_no_receiver_at_all_is_retried(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    callback = set_callback(server, tenant, receiver)
    receiver.stop()  # the port now refuses connections
    emit(server, tenant, 2)
    push_due(server)
    rows = log(server, tenant)
    assert [(r.status, r.attempts) for r in rows] == [("PENDING", 1)] * 2
    assert all(r.last_error == "connection error: Connection refused (os error 111)" for r in rows)
    assert callback.url == receiver.url


def test_two_dispatchers_never_push_one_event_twice(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    """Two processes' dispatchers on one store: the claim's lease splits the events."""
    set_callback(server, tenant, receiver)
    emit(server, tenant, 60)
    svc = server.services
    others = [push.PushDispatcher(svc.db, clock=svc.clock, batch=7) for _ in range(2)]

    async def race() -> None:
        try:
            while any(await asyncio.gather(*(d.push_due() for d in others))):
                pass
        finally:
            for d in others:
                await d.close()

    server.run(race())
    ids = [m["eventId"] for m in receiver.events()]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert {r.status for r in log(server, tenant)} == {"DELIVERED"}


@pytest.mark.parametrize("mode", [rx.FAIL, rx.BAD_SIGNATURE, rx.HTTP_500])
def test_set_callback_refuses_a_url_that_does_not_answer_success(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver, mode: str
) -> None:
    receiver.mode = mode
    with pytest.raises(callbacks.CallbackRefused, match="check_url"):
        set_callback(server, tenant, receiver)
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    assert server.run(server.services.callbacks.get_callback(app_key)) is None
    # a wrong key: the receiver cannot even read the push
    receiver.mode = rx.OK
    other_key = crypto.random_text(43)
    with pytest.raises(callbacks.CallbackRefused):
        server.run(
            server.services.callbacks.set_callback(
                app_key, url=receiver.url, token=receiver.token, aes_key=other_key
            )
        )
    assert len(receiver.problems) == 1 and len(receiver.pushes) == 1  # the first check_url


def test_set_callback_checks_its_arguments(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    service = server.services.callbacks
    for bad in (
        dict(url=receiver.url, token="t", aes_key="short"),
        dict(url="ftp://example/cb", token="t", aes_key=receiver.aes_key),
        dict(url=receiver.url, token="", aes_key=receiver.aes_key),
    ):
        with pytest.raises(errors.BadRequest):
            server.run(service.set_callback(app_key, **bad))
    with pytest.raises(errors.NotFound):
        server.run(
            service.set_callback(
                "dingnosuchapp", url=receiver.url, token="t", aes_key=receiver.aes_key
            )
        )
    assert receiver.requests == 0


def test_the_background_dispatcher_pushes_as_changes_commit(
    make_server: Callable[..., LiveServer], tenant: Tenant, receiver: rx.Receiver
) -> None:
    """A server with task workers runs the dispatcher: a commit wakes it (no pass of the
    test's own)."""
    worker = make_server(workers=1, task_poll_interval=30)  # a poll would not come in time
    set_callback(worker, tenant, receiver)
    emit(worker, tenant, 5)
    deadline = time.monotonic() + 10
    while len(receiver.events()) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(receiver.events()) == 5
    assert receiver.problems == []


def test_a_slow_receiver_holds_up_no_other_app(
    make_server: Callable[..., LiveServer], tenant: Tenant, receiver: rx.Receiver
) -> None:
    worker = make_server(workers=1, task_poll_interval=30)
    set_callback(worker, tenant, receiver)
    receiver.mode = rx.LATE  # every push of this app takes 1.5 s and fails
    emit(worker, tenant, 40)
    creds = worker.run(worker.services.identity.create_app(tenant.corp_id, "fast"))
    assert creds.app.app_key is not None
    fast = rx.Receiver("t0ken2", crypto.random_text(43), creds.app.app_key).start()
    try:
        worker.run(
            worker.services.callbacks.set_callback(
                creds.app.app_key, url=fast.url, token=fast.token, aes_key=fast.aes_key
            )
        )
        started = time.monotonic()
        token = Sdk(worker.endpoint).access_token(creds.app.app_key, creds.app_secret)
        assert token.access_token is not None
        emit(worker, tenant, 5, first_dentry=9000, token=token.access_token)
        while len(fast.events()) < 5 and time.monotonic() - started < 10:
            time.sleep(0.01)
        assert len(fast.events()) == 5
        assert time.monotonic() - started < 1.0  # not behind the slow app's 1.5 s timeouts
        assert fast.problems == []
    finally:
        fast.stop()


@pytest.mark.shapes("scale-out")
def test_a_commit_in_another_process_wakes_the_dispatcher(
    server: LiveServer,
    make_server: Callable[..., LiveServer],
    tenant: Tenant,
    receiver: rx.Receiver,
) -> None:
    """PostgreSQL's NOTIFY: events written by a process without workers (``server``) reach the
    dispatcher of another at once, long before its poll."""
    make_server(workers=1, task_poll_interval=30)  # the worker: its dispatcher listens
    set_callback(server, tenant, receiver)
    time.sleep(0.2)  # the worker's listener is up
    started = time.monotonic()
    emit(server, tenant, 3)
    while len(receiver.events()) < 3 and time.monotonic() - started < 10:
        time.sleep(0.01)
    assert len(receiver.events()) == 3
    assert time.monotonic() - started < 2


def test_a_disabled_app_is_not_pushed_to_until_it_is_enabled_again(
    server: LiveServer, tenant: Tenant, receiver: rx.Receiver
) -> None:
    """``admin app disable``: its events wait in the outbox, untried; enabled again (within
    retention), they are pushed."""
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    set_callback(server, tenant, receiver)
    subscribe(server, tenant)  # while it may: a disabled app's token is refused
    server.run(server.services.identity.disable_app(app_key))
    emit(server, tenant, 2, subscribing=False)
    push_due(server)
    server.clock.advance(3600)
    push_due(server)
    assert receiver.events() == []
    assert [(d.status, d.attempts) for d in log(server, tenant)] == [("PENDING", 0)] * 2
    server.run(server.services.identity.disable_app(app_key, disabled=False))
    push_due(server)
    assert len(receiver.events()) == 2
    assert [(d.status, d.attempts) for d in log(server, tenant)] == [("DELIVERED", 1)] * 2
