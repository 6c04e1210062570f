"""Crash safety of event delivery (issue 15): a ``dingstore serve`` process is SIGKILLed while a
20k-node copy emits its events and a Stream client (the official ``dingtalk-stream`` SDK,
``tests/stream_client.py``) receives them, and again while the rest wait, pending, in the
outbox; it is restarted on the same store each time. Every event of the outbox must reach the
client at least once (each eventId), the store must mark every one DELIVERED, and an event may
come twice only if it had already come before a kill (its ack may have died with the server).

The first kill leaves the client to the SDK's own reconnect (10 s after an abnormal close, the
SDK's fixed wait); the second kills the client with the server and starts a fresh one after
the restart (an integrator's process restarted with it), so the test stays near 30 s a shape.
"""

from __future__ import annotations

import queue
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.service import models
from dingstore.settings import Settings
from dingstore.store import base, schema
from tests import streams
from tests.engine import trees
from tests.engine.crashes import RUNNABLE, Server
from tests.engine.trees import Store
from tests.live import Sdk
from tests.storage import Storage

TREE = 20_000  # nodes copied, the top folder included: one create event each
CHUNK = 250  # nodes a copy step settles (and events it writes in one statement)
ACK_TIMEOUT = 3.0  # the killed process's claims (leases) come free this soon after the kill


@pytest.mark.heavy(60)
def test_every_event_is_delivered_through_sigkills(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STREAM_CLIENT_LOG_LEVEL", "WARNING")  # no SDK log line per frame
    began = time.monotonic()
    store = Store(Settings(data_dir=tmp_path, database_url=database_url))
    server = Server(tmp_path, database_url, workers=1, chunk=CHUNK)
    server.env["DINGSTORE_EVENT_ACK_TIMEOUT"] = str(ACK_TIMEOUT)
    clients: list[streams.StreamClient] = []
    try:
        run(store, server, clients, tmp_path, began)
    finally:
        for client in clients:
            client.stop()
        server.stop()
        store.close()


def run(
    store: Store,
    server: Server,
    clients: list[streams.StreamClient],
    tmp_path: Path,
    began: float,
) -> None:
    services, db = store.services, store.db
    identity = services.identity
    org = store.run(identity.create_org("Events"))
    admin = store.run(identity.create_user(org.corp_id, "alice", admin=True))
    creds = store.run(identity.create_app(org.corp_id, "listener"))
    app_key, app_secret, app_id = creds.app.app_key, creds.app_secret, creds.app.app_id
    assert app_key is not None
    acct = store.run(account(store, app_key, app_secret, admin.union_id))
    source = store.run(trees.new_space(services, acct, "from"))
    target = store.run(trees.new_space(services, acct, "to"))
    copied = store.run(trees.seed_tree(services, acct, source, "copied", TREE))
    seeded = time.monotonic()

    server.start()
    st = Storage(None, Sdk(server.endpoint), acct.token, acct.union_id)  # type: ignore[arg-type]
    assert st.subscribe_event("ORG", org.corp_id).success is True

    def client() -> streams.StreamClient:
        log = tmp_path / f"client-{len(clients)}.log"
        made = streams.StreamClient(f"http://{server.endpoint}", app_key, app_secret, "ok", log)
        clients.append(made)
        return made

    first = client()
    task_id = st.copy(str(source), str(copied.root_id), str(target)).task_id
    assert task_id

    # Kill 1: while the copy's steps write events and the client receives them.
    seen_at_kill: list[set[str]] = []  # what the client had heard at each kill
    acked_at_kill: list[tuple[int, set[str]]] = []  # the store's DELIVERED rows then, from where

    def after_kill() -> None:
        heard.drain(first)
        seen_at_kill.append(set(heard.ids))
        delivered = {
            format(int(r.id), "032x")
            for r in store.run(outbox(db, org.corp_id, app_id))
            if r.status == "DELIVERED"
        }
        acked_at_kill.append((len(heard.ids), delivered))

    heard = Heard()

    def copying() -> Any:
        return store.run(trees.task_rows(db))[int(task_id)]

    heard.wait(
        first,
        lambda: heard.count() >= 1 and copying().success_count >= TREE // 5,
        "the copy's first events",
    )
    assert copying().status in RUNNABLE, "copied too soon"
    server.kill()
    killed = time.monotonic()
    after_kill()
    done_at_kill = store.run(trees.task_rows(db))[int(task_id)].success_count
    server.start()  # the SDK reconnects on its own, 10 s after the abnormal close
    task = st.wait_task(task_id, timeout=60)
    copied_at = time.monotonic()
    assert (task.status, task.success_count) == ("SUCCESS", TREE), task.fail_message

    # Kill 2: the copy has ended; its events wait in the outbox or are on their way.
    total = len(store.run(outbox(db, org.corp_id, app_id)))
    assert total == TREE
    after_first = heard.count()
    heard.wait(
        first, lambda: heard.count() >= after_first + 1000, "the reconnected client's events"
    )
    assert heard.count() < total, "delivered before the second kill: nothing was pending"
    server.kill()
    killed_again = time.monotonic()
    first.stop()  # the integrator's process dies with it; a fresh one after the restart
    after_kill()
    server.start()
    second = client()

    # After the restart: every eventId at least once, every row DELIVERED.
    rows = wait_delivered(store, db, org.corp_id, app_id, heard, second)
    finished = time.monotonic()
    expected = {format(int(r.id), "032x") for r in rows}
    assert len(expected) == TREE
    assert expected <= set(heard.ids)
    assert set(heard.ids) <= expected  # nothing foreign (another app's, or made up)
    twice = {i for i, n in Counter(heard.ids).items() if n > 1}
    assert twice <= seen_at_kill[-1], "a duplicate of an event first sent after the last kill"
    for start, delivered in acked_at_kill:  # an ack the store kept is never undone
        assert not set(heard.ids[start:]) & delivered, "an event marked DELIVERED came again"
        assert delivered <= seen_at_kill[-1]
    assert second.quiet(1) == []
    after = [t for t in heard.times if t > killed_again]
    rate = len(after) / max(after[-1] - after[0], 0.001) if len(after) > 1 else 0
    print(
        f"\n{db.dialect}: seeded in {seeded - began:.1f} s; kill 1 at {done_at_kill}/{TREE} "
        f"nodes copied, {len(seen_at_kill[0])} events heard; copy done "
        f"{copied_at - killed:.1f} s later; kill 2 at {killed_again - killed:.1f} s, "
        f"{len(seen_at_kill[1])} heard; all {TREE} delivered {finished - killed:.1f} s after "
        f"kill 1 ({len(heard.ids) - TREE} duplicates); {rate:.0f} events/s after kill 2"
    )


class Heard:
    """The eventIds the clients handed to their handlers, in order (each delivery once), and
    when the test read each."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.times: list[float] = []
        self._distinct: set[str] = set()  # of ``ids``, kept as they come: a wait counts per line

    def count(self) -> int:
        return len(self._distinct)

    def take(self, client: streams.StreamClient, timeout: float) -> bool:
        try:
            line = client.lines.get(timeout=timeout)
        except queue.Empty:
            return False
        if line["kind"] == "event":
            self.ids.append(line["headers"]["eventId"])
            self._distinct.add(self.ids[-1])
            self.times.append(time.monotonic())
        return True

    def wait(self, client: streams.StreamClient, done: Any, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            assert time.monotonic() < deadline, f"{what}: {self.count()} heard\n{client.log()}"
            self.take(client, 0.05)

    def drain(self, client: streams.StreamClient) -> None:
        """What the client printed before it lost the server."""
        while self.take(client, 0.3):
            pass


def wait_delivered(
    store: Store,
    db: base.BaseDatabase,
    corp_id: str,
    app_id: str,
    heard: Heard,
    client: streams.StreamClient,
    timeout: float = 60,
) -> list[Any]:
    deadline = time.monotonic() + timeout
    heard.wait(client, lambda: heard.count() >= TREE, "every event", timeout)
    while True:
        rows = store.run(outbox(db, corp_id, app_id))
        if all(r.status == "DELIVERED" for r in rows):
            heard.drain(client)
            return rows
        left = sum(r.status != "DELIVERED" for r in rows)
        assert time.monotonic() < deadline, f"{left} undelivered, {heard.count()} heard"
        heard.take(client, 0.1)


async def account(store: Store, app_key: str, app_secret: str, union_id: str) -> trees.Account:
    services = store.services
    token = (await services.tokens.issue_for_app(app_key, app_secret)).access_token
    principal = await services.tokens.authenticate(token)
    operator = await services.identity.operator(principal.corp_id, union_id)
    return trees.Account(models.Actor(principal, operator, services.clock), token)


async def outbox(db: base.BaseDatabase, corp_id: str, app_id: str) -> list[Any]:
    e = schema.events.c
    query = sa.select(e.id, e.status, e.attempts).where(e.corp_id == corp_id, e.app_id == app_id)
    async with db.read() as conn:
        return list((await conn.execute(query)).all())
