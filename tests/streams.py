"""Stream-mode test helpers: the official SDK's client as a process of its own
(``tests/stream_client.py``), read line by line; subscriptions made through SubscribeEvent;
and events written straight into the outbox (no operation behind them)."""

from __future__ import annotations

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from dingstore.store import events
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk
from tests.storage import Storage

CLIENT = Path(__file__).with_name("stream_client.py")
_DENTRIES = itertools.count(1_000_000)  # a dentry of its own for each event emit writes


class StreamClient:
    """``tests/stream_client.py`` run against ``server``: its events and SYSTEM frames, in the
    order its handler saw them. Its log (the SDK's) goes to ``log_path``."""

    def __init__(self, url: str, app_key: str, app_secret: str, mode: str, log_path: Path) -> None:
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.seen: list[dict[str, Any]] = []
        self.log_path = log_path
        self._log = log_path.open("wb")
        env = {
            **os.environ,
            "DINGTALK_OPENAPI_ENDPOINT": url,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        self.process = subprocess.Popen(
            [sys.executable, str(CLIENT), app_key, app_secret, mode],
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(json.loads(raw))

    def next(self, kind: str = "event", timeout: float = 15) -> dict[str, Any]:
        """The next line of ``kind`` (others are kept in ``seen`` too)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(left, 0.001))
            except queue.Empty:
                raise AssertionError(f"no {kind} within {timeout} s:\n{self.log()}") from None
            self.seen.append(line)
            if line["kind"] == kind:
                return line

    def events(self, count: int, timeout: float = 15) -> list[dict[str, Any]]:
        return [self.next("event", timeout) for _ in range(count)]

    def quiet(self, seconds: float) -> list[dict[str, Any]]:
        """The events that arrive within ``seconds`` (a test expects none)."""
        found = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            self.seen.append(line)
            if line["kind"] == "event":
                found.append(line)
        return found

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        self._log.close()


def connected(server: LiveServer, client_id: str, count: int = 1, timeout: float = 15) -> None:
    """Wait until ``server`` holds ``count`` Stream connections of ``client_id``."""
    hub = server.services.stream
    deadline = time.monotonic() + timeout
    while hub.connections(client_id) < count:
        assert time.monotonic() < deadline, f"{client_id}: {hub.connections(client_id)} connected"
        time.sleep(0.02)


def subscribe(server: LiveServer, tenant: Tenant, scope: str = "ORG", scope_id: str = "") -> None:
    """Subscribe the tenant's app to its org (or ``scope``, ``scope_id``) through SubscribeEvent
    with the official SDK, as the org's admin (idempotent)."""
    storage = Storage.of(server, Sdk(server.endpoint), tenant)
    assert storage.subscribe_event(scope, scope_id or tenant.corp_id).success is True


def emit(
    server: LiveServer,
    tenant: Tenant,
    count: int = 1,
    *,
    space_id: int = 1,
    dentry_id: int | None = None,
) -> list[int]:
    """Subscribe the tenant's app to its org (SubscribeEvent), then write ``count`` create
    events as a change writes them (``write``); the rows' ids."""
    subscribe(server, tenant)
    app_id = tenant.boot.credentials.app.app_id
    return write(server, tenant.corp_id, app_id, count, space_id=space_id, dentry_id=dentry_id)


def write(
    server: LiveServer,
    corp_id: str,
    app_id: str,
    count: int = 1,
    *,
    space_id: int = 1,
    dentry_id: int | None = None,
) -> list[int]:
    """Write ``count`` create events of the org into the outbox (``store/events.py`` ``emit``,
    what a change writes in its transaction, without a change: the Stream tests are about
    delivery, not about which operation emits what), each of its own dentry unless
    ``dentry_id`` is given; the ids of the rows the app ``app_id`` (subscribed) got."""
    db, now = server.services.db, server.clock.now_ms()
    changes = [
        events.Change(events.CREATE, "add", dentry_id or next(_DENTRIES), "FILE", f"doc-{i}.txt")
        for i in range(count)
    ]

    async def write() -> list[int]:
        async with db.write() as conn:
            before = await _last_id(conn, corp_id, app_id)
            await events.emit(
                conn, corp_id=corp_id, space_id=space_id, union_id="u1", now=now, changes=changes
            )
            rows = await events.deliveries(conn, corp_id, app_id, limit=count)
        return sorted(int(r.id) for r in rows if int(r.id) > before)

    return server.run(write())


async def _last_id(conn: Any, corp_id: str, app_id: str) -> int:
    rows = await events.deliveries(conn, corp_id, app_id, limit=1)
    return int(rows[0].id) if rows else 0


def rows(server: LiveServer, corp_id: str, app_id: str) -> dict[int, Any]:
    """The app's event rows by id."""
    db = server.services.db

    async def read() -> dict[int, Any]:
        async with db.read() as conn:
            found = await events.deliveries(conn, corp_id, app_id, limit=100_000)
        return {int(r.id): r for r in found}

    return server.run(read())
