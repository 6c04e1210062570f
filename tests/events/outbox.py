"""Events for tests, written through the outbox as a change writes them, and one push pass at a
time.

Until SubscribeEvent and the operations' emission land, ``emit`` subscribes the app to its org
and writes the rows with ``store/events.py`` directly."""

from __future__ import annotations

from dingstore.service.events import callbacks
from dingstore.store import events as event_rows
from tests.conftest import Tenant
from tests.live import LiveServer

SPACE_ID = 4242


def emit(
    server: LiveServer,
    tenant: Tenant,
    count: int,
    first_dentry: int = 1000,
    app_id: str | None = None,
) -> None:
    """``count`` create events for the apps subscribed to the tenant's org, through the outbox
    (the tenant's app, or ``app_id``, subscribes first; then the rows a change writes)."""
    assert server.services is not None
    svc = server.services
    subscriber = app_id or tenant.boot.credentials.app.app_id

    async def write() -> None:
        now = svc.clock.now_ms()
        async with svc.db.write() as conn:
            await event_rows.subscribe(conn, tenant.corp_id, subscriber, "ORG", tenant.corp_id, now)
            changes = [
                event_rows.Change(
                    event_rows.CREATE, "upload", first_dentry + i, "FILE", f"report {i}.docx"
                )
                for i in range(count)
            ]
            await event_rows.emit(
                conn,
                corp_id=tenant.corp_id,
                space_id=SPACE_ID,
                union_id=tenant.admin_id,
                now=now,
                changes=changes,
            )

    server.run(write())


def push_due(server: LiveServer) -> None:
    assert server.services is not None
    server.run(server.services.push.push_due())


def log(server: LiveServer, tenant: Tenant) -> list[callbacks.Delivery]:
    assert server.services is not None
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    return server.run(server.services.callbacks.deliveries(app_key))[1]
