"""The pull feed (dingstore's own ``GET /v1.0/storage/events``, docs/events.md): pages in commit
order that never skip nor repeat, ``latest``, the long-poll (woken by the commit, one listener a
process), the bad parameters, and the retention housekeeping applies to events."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import sqlalchemy as sa

from dingstore.service.events import feed
from dingstore.store import database, events
from tests import backends
from tests.conftest import Tenant, new_tenant
from tests.emitted import emit, emit_rows, rows, settled
from tests.live import DingstoreProcess, LiveServer, Sdk, free_port, http
from tests.storage import Storage

HEX32 = re.compile(r"^[0-9a-f]{32}$")
# How soon a woken long-poll must answer. On PostgreSQL the feed holds an event back while an
# older transaction of the database runs (store/xact.py): allow for the server's own (its
# housekeeping, its event deliveries). Far below the 60 s recheck the tests set, so only the
# wake-up (and the held-back rechecks) can answer.
PROMPT_S = {backends.EMBEDDED: 1.0, backends.SCALE_OUT: 2.0}
ANSWER_S = 25.0


def dentries(body: dict[str, Any]) -> list[str]:
    return [e["dentryId"] for e in body["events"]]


def read_on(st: Storage, cursor: str, count: int) -> list[str]:
    """The dentry ids of the next ``count`` events after ``cursor``, read page by page as they
    become readable."""
    found: list[str] = []
    deadline = time.monotonic() + 20
    while len(found) < count and time.monotonic() < deadline:
        page = st.pull_events(cursor=cursor, waitSeconds=5)
        found += dentries(page)
        cursor = page["cursor"]
    return found


class Pull(threading.Thread):
    """A feed request made in a thread, with when it answered."""

    def __init__(self, st: Storage, **params: Any) -> None:
        super().__init__(daemon=True)
        self.st, self.params = st, params
        self.body: dict[str, Any] | None = None
        self.status: int | None = None
        self.answered_at = 0.0

    def run(self) -> None:
        response = self.st.pull_events_raw(**self.params)
        self.answered_at = time.monotonic()
        self.status, self.body = response.status_code, response.json()

    def answered(self, timeout: float) -> dict[str, Any]:
        self.join(timeout)
        assert not self.is_alive(), "the long-poll did not answer"
        assert self.status == 200 and self.body is not None, self.body
        return self.body


@contextlib.contextmanager
def running_transaction(server: LiveServer, *, elsewhere: bool = False) -> Iterator[None]:
    """A transaction that has an id and writes nothing (so announces nothing when it ends),
    open until the block ends: of the server's database, or ``elsewhere``, of another database
    of the same PostgreSQL server."""
    began, release = threading.Event(), threading.Event()

    async def hold(execute: Callable[[str], Awaitable[object]]) -> None:
        await execute("SELECT pg_current_xact_id()")  # it has an id now
        began.set()
        while not release.is_set():  # the loop serves the test's requests meanwhile
            await asyncio.sleep(0.01)

    async def run() -> None:
        if elsewhere:
            conn = await asyncpg.connect(f"{backends.PG}/postgres")
            try:
                async with conn.transaction():
                    await hold(conn.execute)
            finally:
                await conn.close()
        else:
            async with server.services.db.write() as writer:
                await hold(lambda sql: writer.execute(sa.text(sql)))

    running = asyncio.run_coroutine_threadsafe(run(), server.loop)
    try:
        assert began.wait(10)
        yield
    finally:
        release.set()
        running.result(timeout=20)


def test_events_carry_the_delivery_fields(server: LiveServer, tenant: Tenant, st: Storage) -> None:
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    before = server.clock.now_ms()
    emit(server, tenant.corp_id, space.id, 11)
    emit(server, tenant.corp_id, space.id, 12, event_type=events.DELETE, union_id="u-2")
    body = st.pull_events()
    assert body["hasMore"] is False
    first, second = body["events"]
    assert HEX32.match(first["eventId"]) and first["eventId"] < second["eventId"]
    assert before <= first["eventBornTime"] <= server.clock.now_ms()
    del first["eventId"], first["eventBornTime"]
    assert first == {
        "eventType": "storage_dentry_create",
        "corpId": tenant.corp_id,
        "spaceId": space.id,
        "dentryId": "11",
        "type": "FILE",
        "extension": "pdf",
        "unionId": "u-emitter",
        "eventScope": "SPACE",
        "eventScopeId": space.id,
        "dingstoreSeq": first["dingstoreSeq"],
        "dingstoreAction": "add",
    }
    assert (second["eventType"], second["unionId"]) == ("storage_dentry_delete", "u-2")
    assert int(second["eventId"], 16) == second["dingstoreSeq"] > first["dingstoreSeq"]


def test_a_real_change_reaches_the_feed(server: LiveServer, tenant: Tenant, st: Storage) -> None:
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    folder = st.add_folder(space.id, "docs")
    settled(server)
    (event,) = st.pull_events()["events"]
    assert (event["eventType"], event["dingstoreAction"]) == ("storage_dentry_create", "add")
    assert (event["dentryId"], event["type"], event["extension"]) == (folder.id, "FOLDER", "")
    assert (event["unionId"], event["spaceId"]) == (tenant.admin_id, space.id)


def test_pages_follow_the_cursor_without_skipping_or_repeating(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    empty = st.pull_events()
    assert (empty["events"], empty["hasMore"]) == ([], False)
    space = st.new_space()
    st.subscribe_event("ORG", tenant.corp_id)
    emit(server, tenant.corp_id, space.id, *range(1, 8))
    # from the start, by the first empty page's cursor, by none: the same pages
    seen: list[str] = []
    cursor = empty["cursor"]
    while True:
        page = st.pull_events(cursor=cursor, maxResults=3)
        seen += dentries(page)
        assert page["cursor"] != cursor or not page["events"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    assert seen == [str(n) for n in range(1, 8)]
    assert dentries(st.pull_events(maxResults=3)) == ["1", "2", "3"]  # no cursor: the oldest
    again = st.pull_events(cursor=cursor)  # the end: an empty page keeps the cursor
    assert (again["events"], again["cursor"], again["hasMore"]) == ([], cursor, False)
    emit(server, tenant.corp_id, space.id, 8)
    assert dentries(st.pull_events(cursor=cursor)) == ["8"]

    # a page of exactly what is left says there is no more
    page = st.pull_events(maxResults=8)
    assert (len(page["events"]), page["hasMore"]) == (8, False)
    page = st.pull_events(maxResults=7)
    assert (len(page["events"]), page["hasMore"]) == (7, True)


def test_latest_starts_after_the_newest_event(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    emit(server, tenant.corp_id, space.id, 1, 2)
    now = st.pull_events(cursor="latest")
    assert now["events"] == [] and now["hasMore"] is False
    emit(server, tenant.corp_id, space.id, 3)
    assert dentries(st.pull_events(cursor="latest")) == []
    assert dentries(st.pull_events(cursor=now["cursor"])) == ["3"]


def test_the_feed_reads_and_changes_no_delivery_state(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    emit(server, tenant.corp_id, space.id, 1, 2)
    before = rows(server, tenant.corp_id)
    for _ in range(2):
        assert dentries(st.pull_events()) == ["1", "2"]
    assert rows(server, tenant.corp_id) == before
    assert {(r["status"], r["attempts"], r["lease_owner"]) for r in before} == {
        ("PENDING", 0, None)
    }


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"cursor": "abc"}, "paramError.cursor"),
        ({"cursor": "12"}, "paramError.cursor"),
        ({"cursor": "1.x"}, "paramError.cursor"),
        ({"cursor": "-2.0"}, "paramError.cursor"),
        ({"cursor": "1_0.2"}, "paramError.cursor"),
        ({"cursor": " 1.2"}, "paramError.cursor"),
        ({"cursor": "1.-2"}, "paramError.cursor"),
        ({"cursor": "9223372036854775808.1"}, "paramError.cursor"),
        ({"cursor": "LATEST"}, "paramError.cursor"),
        ({"maxResults": 0}, "paramError.maxResults"),
        ({"maxResults": 1001}, "paramError.maxResults"),
        ({"maxResults": "x"}, "paramError.maxResults"),
        ({"waitSeconds": -1}, "paramError.waitSeconds"),
        ({"waitSeconds": 31}, "paramError.waitSeconds"),
    ],
)
def test_bad_parameters_are_400(st: Storage, params: dict[str, Any], code: str) -> None:
    response = st.pull_events_raw(**params)
    assert (response.status_code, response.json()["code"]) == (400, code), response.text


def test_a_bad_token_is_refused(st: Storage) -> None:
    response = Storage(st.server, st.sdk, "nope", st.union_id).pull_events_raw()
    assert (response.status_code, response.json()["code"]) == (400, "InvalidAuthentication")


@pytest.mark.quiet
def test_the_long_poll_wakes_on_the_commit(
    server: LiveServer,
    tenant: Tenant,
    st: Storage,
    monkeypatch: pytest.MonkeyPatch,
    shape: str,
) -> None:
    monkeypatch.setattr(feed, "RECHECK_S", 60.0)  # only the wake-up can end the wait early
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    cursor = st.pull_events(cursor="latest")["cursor"]
    pull = Pull(st, cursor=cursor, waitSeconds=30)
    pull.start()
    time.sleep(0.3)
    assert pull.is_alive()  # waiting
    emitted_at = time.monotonic()
    emit(server, tenant.corp_id, space.id, 5, settle=False)
    body = pull.answered(ANSWER_S)
    assert dentries(body) == ["5"]
    assert pull.answered_at - emitted_at < PROMPT_S[shape]
    # another org's event wakes the wait, which looks, finds nothing of its own and waits on
    stranger = new_tenant(server, st.sdk)
    theirs = Storage.of(server, st.sdk, stranger)
    their_space = theirs.new_space()
    theirs.subscribe_event("ORG", stranger.corp_id)
    pull = Pull(st, cursor=body["cursor"], waitSeconds=2)
    pull.start()
    time.sleep(0.3)
    assert emit(server, stranger.corp_id, their_space.id, 6, settle=False) == 1
    began = time.monotonic()
    body = pull.answered(ANSWER_S)
    assert body["events"] == [] and pull.answered_at - began > 1.2


def test_a_wait_with_nothing_new_ends_empty(st: Storage) -> None:
    began = time.monotonic()
    body = st.pull_events(cursor="latest", waitSeconds=1)
    assert body["events"] == [] and time.monotonic() - began >= 0.9
    began = time.monotonic()
    assert st.pull_events(waitSeconds=0)["events"] == []
    assert time.monotonic() - began < 0.5


def test_the_wait_ends_before_the_request_deadline(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(request_timeout=2.5)
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    began = time.monotonic()
    body = st.pull_events(cursor="latest", waitSeconds=30)  # 200, not 503 operationTimeout
    assert body["events"] == [] and 1.2 <= time.monotonic() - began < 2.5


@pytest.mark.quiet
def test_many_waiters_share_one_listener(
    make_server: Callable[..., LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed, "RECHECK_S", 60.0)  # only the wake-up can end the wait early
    server = make_server(workers=0)
    db = server.services.db
    listening: list[str] = []
    listen = db.listen

    async def counted(channel: str, notified: Any) -> None:
        listening.append(channel)
        await listen(channel, notified)

    monkeypatch.setattr(db, "listen", counted)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    apps = [Storage.of(server, sdk, tenant), Storage.of(server, sdk, new_tenant(server, sdk))]
    spaces = [st.new_space() for st in apps]
    for st, space in zip(apps, spaces, strict=True):
        st.subscribe_event("SPACE", space.id)
    pulls = [Pull(apps[n % 2], cursor="latest", waitSeconds=30) for n in range(6)]
    for pull in pulls:
        pull.start()
    time.sleep(0.5)
    assert all(p.is_alive() for p in pulls)
    corp_ids = [tenant.corp_id, apps[1].actor().corp_id]
    for corp_id, space in zip(corp_ids, spaces, strict=True):
        emit(server, corp_id, space.id, 1, settle=False)
    for pull in pulls:
        assert dentries(pull.answered(ANSWER_S)) == ["1"]
    assert listening == [events.CHANNEL]


@pytest.mark.quiet
@pytest.mark.shapes(backends.SCALE_OUT)
def test_another_process_commit_wakes_the_wait(
    server: LiveServer, tenant: Tenant, st: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL an event written by another process (another database object here: its
    commits reach this server only through ``NOTIFY``) ends the wait at once."""
    monkeypatch.setattr(feed, "RECHECK_S", 60.0)
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    cursor = st.pull_events(cursor="latest")["cursor"]
    pull = Pull(st, cursor=cursor, waitSeconds=30)
    pull.start()
    time.sleep(0.5)

    async def elsewhere() -> None:
        other = await database.open_database(server.settings.resolved_database_url)
        try:
            now = server.clock.now_ms()
            await emit_rows(other, tenant.corp_id, space.id, (9,), now=now)
        finally:
            await other.close()

    emitted = time.monotonic()
    server.run(elsewhere())
    assert dentries(pull.answered(ANSWER_S)) == ["9"]
    assert pull.answered_at - emitted < PROMPT_S[backends.SCALE_OUT]


@pytest.mark.shapes(backends.SCALE_OUT)
def test_an_event_committed_late_with_a_smaller_id_is_not_skipped(
    server: LiveServer, tenant: Tenant, st: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two transactions: A writes its event first (the smaller id) but commits last. A reader
    between the two commits must not see B's event, or its cursor would pass A's."""
    monkeypatch.setattr(feed, "SETTLE_S", 0.5)
    db = server.services.db
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    start = st.pull_events()["cursor"]
    a_wrote, release = threading.Event(), threading.Event()

    async def transaction_a() -> None:
        async with db.write() as conn:
            change = events.Change(events.CREATE, "add", 1, "FILE", "a.txt")
            await events.emit(
                conn, corp_id=tenant.corp_id, space_id=int(space.id), union_id="u",
                now=server.clock.now_ms(), changes=[change],
            )  # fmt: skip
            a_wrote.set()
            while not release.is_set():  # the loop serves the test's requests meanwhile
                await asyncio.sleep(0.01)

    running = asyncio.run_coroutine_threadsafe(transaction_a(), server.loop)
    try:
        assert a_wrote.wait(10)
        emit(server, tenant.corp_id, space.id, 2, settle=False)  # B: committed while A is open
        asked = time.monotonic()
        between = st.pull_events(cursor=start)
        assert (between["events"], between["cursor"]) == ([], start)
        # the read waited for A to end, as long as it allows, then answered what was readable
        assert feed.SETTLE_S <= time.monotonic() - asked < feed.SETTLE_S + 1.5
    finally:
        release.set()
        running.result(timeout=20)
    assert read_on(st, start, 2) == ["1", "2"]


@pytest.mark.shapes(backends.SCALE_OUT)
def test_a_held_back_event_ends_the_wait_when_the_older_transaction_ends(
    server: LiveServer, tenant: Tenant, st: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An older transaction that writes no event (so announces nothing when it ends) holds a
    new event back; the waiter sees it held back, looks again soon, and answers once it ends."""
    monkeypatch.setattr(feed, "RECHECK_S", 60.0)  # not the once-a-second look
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    cursor = st.pull_events(cursor="latest")["cursor"]
    with running_transaction(server):
        pull = Pull(st, cursor=cursor, waitSeconds=30)
        pull.start()
        time.sleep(0.3)
        emit(server, tenant.corp_id, space.id, 1, settle=False)  # committed, rings, held back
        time.sleep(0.5)
        assert pull.is_alive()
        released = time.monotonic()
    assert dentries(pull.answered(ANSWER_S)) == ["1"]
    assert pull.answered_at - released < PROMPT_S[backends.SCALE_OUT]


@pytest.mark.shapes(backends.SCALE_OUT)
def test_a_read_shows_the_events_committed_before_it(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    """A read that does not wait still waits for an event already committed but held back by
    an older transaction of the database, and shows it once that transaction ends."""
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    cursor = st.pull_events(cursor="latest")["cursor"]
    with running_transaction(server):
        emit(server, tenant.corp_id, space.id, 1, settle=False)  # committed, held back
        pull = Pull(st, cursor=cursor)  # no waitSeconds
        pull.start()
        time.sleep(0.5)
        assert pull.is_alive()
        released = time.monotonic()
    assert dentries(pull.answered(ANSWER_S)) == ["1"]
    assert pull.answered_at - released < 1.0


@pytest.mark.shapes(backends.SCALE_OUT)
def test_another_databases_transaction_holds_nothing_back(
    server: LiveServer, tenant: Tenant, st: Storage
) -> None:
    """Transaction ids are the PostgreSQL server's, but a transaction of another database can
    write no event of this one: it does not hold the feed back however long it runs."""
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    cursor = st.pull_events(cursor="latest")["cursor"]
    with running_transaction(server, elsewhere=True):
        emit(server, tenant.corp_id, space.id, 1, settle=False)
        asked = time.monotonic()
        assert dentries(st.pull_events(cursor=cursor)) == ["1"]
        assert time.monotonic() - asked < 0.5


def test_events_go_after_their_retention(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(event_retention_days=7, workers=0)
    sdk = Sdk(server.endpoint)
    tenant = new_tenant(server, sdk)
    st = Storage.of(server, sdk, tenant)
    space = st.new_space()
    st.subscribe_event("SPACE", space.id)
    emit(server, tenant.corp_id, space.id, 1)
    server.clock.advance(6 * 86_400)
    emit(server, tenant.corp_id, space.id, 2)
    assert server.run(server.services.housekeeper.sweep())["events"] == 0
    server.clock.advance(1.5 * 86_400)  # the first is 7.5 days old, the second 1.5
    assert server.run(server.services.housekeeper.sweep())["events"] == 1
    assert [r["dentry_id"] for r in rows(server, tenant.corp_id)] == [2]
    app = tenant.boot.credentials
    assert app.app.app_key is not None
    token = sdk.access_token(app.app.app_key, app.app_secret).access_token  # days went by
    assert dentries(Storage(server, sdk, token, tenant.admin_id).pull_events()) == ["2"]
    server.clock.advance(6 * 86_400)
    assert server.run(server.services.housekeeper.sweep())["events"] == 1
    assert rows(server, tenant.corp_id) == []


def test_the_default_retention_is_seven_days() -> None:
    from dingstore.settings import Settings

    assert Settings().event_retention_days == 7


def test_a_shutdown_answers_the_waiting_long_polls_at_once(tmp_path: Path) -> None:
    """SIGTERM: uvicorn waits for the requests in flight; a long-poll answers its empty page at
    once instead of holding the shutdown for its wait."""
    port = free_port()
    args = ["serve", "--data-dir", str(tmp_path), "--port", str(port)]
    env = {"DINGSTORE_LOG_LEVEL": "WARNING"}
    process = DingstoreProcess("serve", args, env, tmp_path, port=port).start()
    try:
        process.wait_ready(timeout=30, interval=0.1)
        fields = dict(re.findall(r"│ (unionId|appKey|appSecret)\s+(\S+)", process.output()))
        sdk = Sdk(process.endpoint)
        token = sdk.access_token(fields["appKey"], fields["appSecret"]).access_token
        got: dict[str, Any] = {}

        def pull() -> None:
            response = http.get(
                f"http://{process.endpoint}/v1.0/storage/events",
                params={"cursor": "latest", "waitSeconds": 25},
                headers={"x-acs-dingtalk-access-token": token},
                timeout=40,
            )
            got.update(status=response.status_code, body=response.json(), at=time.monotonic())

        waiting = threading.Thread(target=pull)
        waiting.start()
        time.sleep(1.0)
        assert waiting.is_alive()
        stopping = time.monotonic()
        assert process.stop() in (0, -signal.SIGTERM), process.log()
        stopped = time.monotonic()
        waiting.join(10)
    finally:
        process.kill()
    assert got["status"] == 200 and got["body"]["events"] == [], got
    assert got["at"] - stopping < 5 and stopped - stopping < 10, process.log()
