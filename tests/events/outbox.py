"""Events for tests: the app subscribed through SubscribeEvent (the official SDK), then rows
written through the outbox as a change writes them (``store/events.py`` ``emit``, without a
change: the push tests are about delivery, not about which operation emits what); and one push
pass at a time."""

from __future__ import annotations

from dingstore.service.events import callbacks
from dingstore.store import events as event_rows
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk
from tests.storage import Storage

SPACE_ID = 4242


def emit(
    server: LiveServer,
    tenant: Tenant,
    count: int,
    first_dentry: int = 1000,
    token: str | None = None,
    *,
    subscribing: bool = True,
) -> None:
    """``count`` create events for the apps subscribed to the tenant's org, through the outbox;
    first (``subscribing``) the tenant's app, or the app whose access token is ``token``,
    subscribes to the org."""
    svc = server.services
    if subscribing:
        subscribe(server, tenant, token)

    async def write() -> None:
        now = svc.clock.now_ms()
        async with svc.db.write() as conn:
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


def subscribe(server: LiveServer, tenant: Tenant, token: str | None = None) -> None:
    """SubscribeEvent to the tenant's org through the official SDK, as its admin, for the
    tenant's app (or the app whose access token is ``token``)."""
    subscriber = Storage(server, Sdk(server.endpoint), token or tenant.token, tenant.admin_id)
    assert subscriber.subscribe_event("ORG", tenant.corp_id).success is True


def push_due(server: LiveServer) -> None:
    server.run(server.services.push.push_due())


def log(server: LiveServer, tenant: Tenant) -> list[callbacks.Delivery]:
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    return server.run(server.services.callbacks.deliveries(app_key))[1]
