"""Events written the way a change writes them (store/events.py ``emit``, in a transaction of
the server's own database), for tests of subscriptions, the feed and retention that must not
depend on which operation emits what."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dingstore.store import base, events, schema, xact
from tests import polling
from tests.live import LiveServer


async def emit_rows(
    db: base.BaseDatabase,
    corp_id: str,
    space_id: str | int,
    dentry_ids: tuple[int, ...],
    *,
    now: int,
    event_type: str = events.CREATE,
    union_id: str = "u-emitter",
) -> int:
    changes = [events.Change(event_type, "add", d, "FILE", f"file-{d}.pdf") for d in dentry_ids]
    async with db.write() as conn:
        return await events.emit(
            conn,
            corp_id=corp_id,
            space_id=int(space_id),
            union_id=union_id,
            now=now,
            changes=changes,
        )


def emit(
    server: LiveServer,
    corp_id: str,
    space_id: str | int,
    *dentry_ids: int,
    settle: bool = True,
    **kw: Any,
) -> int:
    """Write one ``storage_dentry_create`` event per dentry id of the space (the dentries need
    not exist), for every subscribed app, born now on the server's clock; how many rows.
    ``settle``: return once the feed shows them (``settled``)."""
    db = server.services.db
    now = server.clock.now_ms()
    written = server.run(emit_rows(db, corp_id, space_id, tuple(dentry_ids), now=now, **kw))
    if settle:
        settled(server)
    return written


def settled(server: LiveServer, timeout: float = 30) -> None:
    """Wait until every committed event is readable in the feed. On PostgreSQL the feed holds an
    event back while any older transaction of the database runs (store/xact.py)."""
    db = server.services.db

    async def readable() -> bool:
        async with db.read() as conn:
            query = sa.select(sa.func.max(schema.events.c.tx), xact.settled_below())
            newest, line = (await conn.execute(query)).one()
        return newest is None or int(newest) < int(line)

    server.run(polling.until_async(readable, timeout=timeout, what="events readable"))


def rows(server: LiveServer, corp_id: str) -> list[dict[str, Any]]:
    """Every event row of the org, in id order, as stored."""

    async def read() -> list[dict[str, Any]]:
        async with server.services.db.read() as conn:
            found = await conn.execute(
                sa.select(schema.events)
                .where(schema.events.c.corp_id == corp_id)
                .order_by(schema.events.c.id)
            )
            return [dict(r) for r in found.mappings()]

    return server.run(read())
