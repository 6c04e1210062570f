"""Change events: subscriptions, the outbox written with each change, and its delivery.

A change writes one ``events`` row per subscribed app in its own transaction (``emit``,
``emit_nodes``): an event exists exactly when its change committed. The same row then records
the delivery: a Stream connection or an HTTP push ``claim``s due rows (a lease, so that no two
connections or processes send one row at once), and ``acknowledge`` or ``retry_many`` settle
them. Every statement on events names the org (``corp_id``) but housekeeping's ``purge`` and
``callback_apps``, which sweep every org.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from dingstore.store import base, xact
from dingstore.store.base import Connection, Writer
from dingstore.store.schema import (
    app_callbacks,
    apps,
    dentries,
    event_subscriptions,
    events,
    task_nodes,
)

CHANNEL = "dingstore_events"  # announced by a transaction that wrote events

CREATE = "storage_dentry_create"
UPDATE = "storage_dentry_update"
DELETE = "storage_dentry_delete"

PENDING, DELIVERED, FAILED = "PENDING", "DELIVERED", "FAILED"

# Constants in the prepared statements' SQL (a prepared statement takes named parameters only)
_ORG = sa.literal_column("'ORG'", sa.String)
_SPACE = sa.literal_column("'SPACE'", sa.String)


@dataclass(frozen=True, slots=True)
class Change:
    """One change of one dentry, as its event tells it."""

    event_type: str  # CREATE, UPDATE or DELETE
    action: str  # dingstore's reason: add, upload, rename, move, ... (docs/events.md)
    dentry_id: int
    dentry_type: str  # FILE or FOLDER
    name: str


@dataclass(frozen=True, slots=True, order=True)
class Cursor:
    """A place in an app's feed: after the row ``id`` of transaction ``tx``."""

    tx: int = -1
    id: int = 0

    def __str__(self) -> str:
        return f"{self.tx}.{self.id}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """``str(cursor)`` back; ValueError for anything else."""
        tx, dot, row = text.partition(".")
        if not dot:
            raise ValueError(text)
        cursor = cls(int(tx), int(row))
        if cursor.tx < -1 or cursor.id < 0:
            raise ValueError(text)
        return cursor


# --- subscriptions ------------------------------------------------------------------------------


async def subscribe(
    conn: Writer, corp_id: str, app_id: str, scope: str, scope_id: str, now: int
) -> None:
    """Subscribe the app (again: nothing changes)."""
    key = {"corp_id": corp_id, "app_id": app_id, "scope": scope, "scope_id": scope_id}
    found = await conn.execute(sa.select(sa.literal(1)).where(*_matching(key)))
    if found.first() is None:
        await conn.execute(sa.insert(event_subscriptions).values(**key, created_at=now))


async def unsubscribe(conn: Writer, corp_id: str, app_id: str, scope: str, scope_id: str) -> None:
    """Unsubscribe the app (when it was not subscribed: nothing changes)."""
    key = {"corp_id": corp_id, "app_id": app_id, "scope": scope, "scope_id": scope_id}
    await conn.execute(sa.delete(event_subscriptions).where(*_matching(key)))


def _matching(key: dict[str, str]) -> list[Any]:
    return [event_subscriptions.c[column] == value for column, value in key.items()]


async def subscriptions(conn: Connection, corp_id: str, app_id: str) -> list[RowMapping]:
    query = (
        sa.select(event_subscriptions)
        .where(event_subscriptions.c.corp_id == corp_id, event_subscriptions.c.app_id == app_id)
        .order_by(event_subscriptions.c.scope, event_subscriptions.c.scope_id)
    )
    return list((await conn.execute(query)).mappings().all())


# --- the outbox ---------------------------------------------------------------------------------


def _subscribers() -> sa.Subquery:
    """The apps subscribed to the org or to the space: one row per app, the space's scope
    winning when it subscribed to both (``MAX``: 'SPACE' > 'ORG')."""
    s = event_subscriptions.c
    corp_id = sa.bindparam("corp_id", type_=sa.String)
    space_key = sa.bindparam("space_key", type_=sa.String)
    return (
        sa.select(s.app_id, sa.func.max(s.scope).label("scope"))
        .where(
            s.corp_id == corp_id,
            sa.or_(
                sa.and_(s.scope == _ORG, s.scope_id == corp_id),
                sa.and_(s.scope == _SPACE, s.scope_id == space_key),
            ),
        )
        .group_by(s.app_id)
        .subquery("subscriber")
    )


def _param(name: str, type_: Any) -> Any:
    """A parameter in a SELECT list: typed in the SQL, so that PostgreSQL need not guess."""
    return sa.cast(sa.bindparam(name, type_=type_), type_)


_INSERTED = (
    "corp_id",
    "app_id",
    "event_type",
    "action",
    "space_id",
    "dentry_id",
    "dentry_type",
    "name",
    "union_id",
    "scope",
    "scope_id",
    "born_at",
    "tx",
    "status",
    "attempts",
    "due_at",
)


def _outbox_rows(subscriber: sa.Subquery, dentry_id: Any, dentry_type: Any, name: Any) -> list[Any]:
    now = _param("now", sa.BigInteger)
    corp_id = _param("corp_id", sa.String)
    return [
        corp_id,
        subscriber.c.app_id,
        _param("event_type", sa.String),
        _param("action", sa.String),
        _param("space_id", sa.BigInteger),
        dentry_id,
        dentry_type,
        name,
        _param("union_id", sa.String),
        subscriber.c.scope,
        sa.case((subscriber.c.scope == _SPACE, _param("space_key", sa.String)), else_=corp_id),
        now,
        xact.transaction_id(),
        sa.literal_column(f"'{PENDING}'", sa.String),
        sa.literal_column("0", sa.Integer),
        now,
    ]


def _emit_one() -> Any:
    subscriber = _subscribers()
    rows = sa.select(
        *_outbox_rows(
            subscriber,
            _param("dentry_id", sa.BigInteger),
            _param("dentry_type", sa.String),
            _param("name", sa.String),
        )
    )
    return base.prepared(sa.insert(events).from_select(_INSERTED, rows).returning(events.c.id))


def _emit_nodes() -> Any:
    subscriber = _subscribers()
    n = task_nodes.c
    rows = (
        sa.select(*_outbox_rows(subscriber, n.new_id, n.type, dentries.c.name))
        .select_from(
            task_nodes.join(dentries, dentries.c.id == n.new_id).join(subscriber, sa.true())
        )
        .where(
            n.task_id == sa.bindparam("task_id", type_=sa.BigInteger),
            n.seq >= sa.bindparam("seq_from", type_=sa.BigInteger),
            n.seq <= sa.bindparam("seq_to", type_=sa.BigInteger),
            n.failed == sa.false(),
            n.merged == sa.bindparam("merged", type_=sa.Boolean),
        )
        .order_by(n.seq)
    )
    return sa.insert(events).from_select(_INSERTED, rows)


_EMIT_ONE = _emit_one()
_EMIT_NODES = _emit_nodes()


async def emit(
    conn: Writer,
    *,
    corp_id: str,
    space_id: int,
    union_id: str,
    now: int,
    changes: Sequence[Change],
) -> int:
    """Write the events of ``changes`` (dentries of the space ``space_id``) for every app
    subscribed to the space or the org, in the caller's transaction; announce them on
    ``CHANNEL`` if there were any. Returns how many rows went in. One change (a request's): one
    statement. Several (a task step's, a purge's): the subscribers read once (none: nothing
    more), then one multi-row INSERT per ``_EMIT_CHUNK`` rows, in the order of ``changes``."""
    if len(changes) > 1:
        return await _emit_many(
            conn, corp_id=corp_id, space_id=space_id, union_id=union_id, now=now, changes=changes
        )
    written = 0
    for change in changes:
        result = await conn.execute(
            _EMIT_ONE,
            {
                "corp_id": corp_id,
                "space_key": str(space_id),
                "space_id": space_id,
                "union_id": union_id,
                "now": now,
                "event_type": change.event_type,
                "action": change.action,
                "dentry_id": change.dentry_id,
                "dentry_type": change.dentry_type,
                "name": change.name,
            },
        )
        written += result.rowcount
    if written:
        await conn.notify(CHANNEL)
    return written


_EMIT_CHUNK = 1000  # rows per INSERT: 16 parameters each, under SQLite's and asyncpg's limits


async def _emit_many(
    conn: Writer,
    *,
    corp_id: str,
    space_id: int,
    union_id: str,
    now: int,
    changes: Sequence[Change],
) -> int:
    space_key = str(space_id)
    found = await conn.execute(
        sa.select(_subscribers()).order_by(sa.literal_column("app_id")),
        {"corp_id": corp_id, "space_key": space_key},
    )
    subscribers = [(str(r.app_id), str(r.scope)) for r in found]
    if not subscribers:
        return 0
    rows = [
        {
            "corp_id": corp_id,
            "app_id": app_id,
            "event_type": change.event_type,
            "action": change.action,
            "space_id": space_id,
            "dentry_id": change.dentry_id,
            "dentry_type": change.dentry_type,
            "name": change.name,
            "union_id": union_id,
            "scope": scope,
            "scope_id": space_key if scope == "SPACE" else corp_id,
            "born_at": now,
            "tx": xact.transaction_id(),
            "status": PENDING,
            "attempts": 0,
            "due_at": now,
        }
        for change in changes
        for app_id, scope in subscribers
    ]
    for start in range(0, len(rows), _EMIT_CHUNK):
        await conn.execute(sa.insert(events).values(rows[start : start + _EMIT_CHUNK]))
    await conn.notify(CHANNEL)
    return len(rows)


async def emit_nodes(
    conn: Writer,
    *,
    corp_id: str,
    space_id: int,
    union_id: str,
    now: int,
    task_id: int,
    seq_from: int,
    seq_to: int,
    event_type: str,
    action: str,
    merged: bool = False,
) -> int:
    """``emit`` for the nodes ``seq_from``..``seq_to`` of a task's snapshot that a step settled
    into the space ``space_id`` (the dentries their ``new_id`` names; ``merged``: those that met
    an entry of their name and went into it), in one statement whatever their number."""
    result = await conn.execute(
        _EMIT_NODES,
        {
            "corp_id": corp_id,
            "space_key": str(space_id),
            "space_id": space_id,
            "union_id": union_id,
            "now": now,
            "event_type": event_type,
            "action": action,
            "task_id": task_id,
            "seq_from": seq_from,
            "seq_to": seq_to,
            "merged": merged,
        },
    )
    written = result.rowcount or 0
    if written:
        await conn.notify(CHANNEL)
    return written


# --- delivery -----------------------------------------------------------------------------------


async def claim(
    conn: Writer,
    corp_id: str,
    app_id: str,
    *,
    owner: str,
    now: int,
    lease_ms: int,
    limit: int,
) -> list[RowMapping]:
    """Lease to ``owner`` until ``now + lease_ms`` up to ``limit`` of the app's due events that
    nobody holds (or whose lease ran out), those due longest first (then oldest), counting an
    attempt on each. An event waits while an earlier one of its dentry is undelivered: a
    dentry's events go out in the order their changes committed."""
    await conn.plan_by_index()  # the outbox fills in bursts: its statistics lag behind
    e = events.c
    earlier = events.alias("earlier")
    # The dentry's first undelivered event, as a scalar subquery: PostgreSQL runs it per row, on
    # ix_events_dentry. A NOT EXISTS became an anti-join that, with the table's statistics
    # stale (an outbox that just filled), compared every pending row with every other: 9 s to
    # claim from 3,000.
    first_of_dentry = (
        sa.select(sa.func.min(earlier.c.id))
        .where(
            earlier.c.corp_id == e.corp_id,
            earlier.c.app_id == e.app_id,
            earlier.c.dentry_id == e.dentry_id,
            earlier.c.status == PENDING,
        )
        .scalar_subquery()
    )
    due = conn.skip_locked(
        sa.select(e.id)
        .where(
            e.corp_id == corp_id,
            e.app_id == app_id,
            e.status == PENDING,
            e.due_at <= now,  # a leased event is due when its lease ends (below)
            e.id == first_of_dentry,
        )
        # ix_events_due's order: the scan stops after ``limit`` rows (ORDER BY id sorted every
        # due row first, 100 ms a claim on SQLite behind 20,000 pending events)
        .order_by(e.due_at, e.id)
        .limit(limit)
    )
    # A CTE, materialized: PostgreSQL may run an ``IN (subquery)`` again for each row it
    # updates, and each run, passing over the rows the last one locked, took ``limit`` more.
    picked = due.cte("picked").prefix_with("MATERIALIZED", dialect="postgresql")
    taken = await conn.execute(
        sa.update(events)
        .where(xact.by_key(e.corp_id) == corp_id, e.id.in_(sa.select(picked.c.id)))
        # ``due_at`` moves to the lease's end too: the claim's range of ix_events_due holds the
        # due events only, never the (up to a window of) events in flight before them
        .values(
            lease_owner=owner,
            lease_until=now + lease_ms,
            due_at=now + lease_ms,
            attempts=e.attempts + 1,
        )
        .returning(*events.c)
    )
    return sorted(taken.mappings().all(), key=lambda row: row["id"])


async def acknowledge(
    conn: Writer,
    corp_ids: Sequence[str],
    app_ids: Sequence[str],
    ids: Sequence[int],
    now: int,
) -> int:
    """Mark delivered the undelivered events ``ids`` of the apps ``app_ids`` (of the orgs
    ``corp_ids``); ids of other apps, or already settled, are passed over. Returns how many."""
    if not ids:
        return 0
    e = events.c
    result = await conn.execute(
        sa.update(events)
        .where(
            xact.by_key(e.corp_id).in_(corp_ids),
            xact.by_key(e.app_id).in_(app_ids),
            e.id.in_(ids),
            xact.by_key(e.status) == PENDING,
        )
        .values(status=DELIVERED, delivered_at=now, lease_owner=None, lease_until=None)
    )
    return result.rowcount or 0


@dataclass(frozen=True, slots=True)
class Retry:
    """A failed attempt ``attempt`` of an event, for ``retry_many``."""

    event_row: int
    attempt: int
    due_at: int
    error: str
    failed: bool = False


def _retry_each() -> Any:
    e = events.c
    return (
        sa.update(events)
        .where(
            e.corp_id == sa.bindparam("b_corp_id", type_=sa.String),
            e.app_id == sa.bindparam("b_app_id", type_=sa.String),
            e.id == sa.bindparam("event_row", type_=sa.BigInteger),
            e.attempts == sa.bindparam("attempt", type_=sa.Integer),
            e.status == PENDING,
        )
        .values(
            status=sa.bindparam("to_status", type_=sa.String),
            due_at=sa.bindparam("to_due_at", type_=sa.BigInteger),
            lease_owner=None,
            lease_until=None,
            last_error=sa.bindparam("to_last_error", type_=sa.String),
        )
    )


_RETRY_EACH = _retry_each()


def _retry_params(corp_id: str, app_id: str, r: Retry) -> dict[str, Any]:
    return {
        "b_corp_id": corp_id,
        "b_app_id": app_id,
        "event_row": r.event_row,
        "attempt": r.attempt,
        "to_status": FAILED if r.failed else PENDING,
        "to_due_at": r.due_at,
        "to_last_error": r.error[:256],
    }


async def retry_many(conn: Writer, corp_id: str, app_id: str, retries: Sequence[Retry]) -> None:
    """Record failed attempts of one app's events: each due again at its ``due_at``, or given
    up (``failed``); one whose event was delivered meanwhile, or whose next attempt has begun
    since, is left alone. One statement with a batch of parameters (an executemany: a single
    round trip on asyncpg)."""
    if retries:
        await conn.execute(_RETRY_EACH, [_retry_params(corp_id, app_id, r) for r in retries])


async def release(conn: Writer, corp_ids: Sequence[str], owner: str, now: int) -> int:
    """Give back the leases ``owner`` holds (a connection that closed): its unacknowledged
    events are due again at once, for any connection."""
    e = events.c
    result = await conn.execute(
        sa.update(events)
        .where(e.corp_id.in_(corp_ids), e.lease_owner == owner, e.status == PENDING)
        .values(lease_owner=None, lease_until=None, due_at=now)
    )
    return result.rowcount or 0


async def redeliver(
    conn: Writer,
    corp_id: str,
    app_id: str,
    *,
    now: int,
    ids: Sequence[int] | None = None,
    failed: bool = False,
) -> int:
    """Send again, from now on: the events ``ids`` (delivered or not), or every ``failed`` one.
    Their attempts start over."""
    e = events.c
    which = e.id.in_(ids) if ids is not None else e.status == FAILED if failed else sa.false()
    result = await conn.execute(
        sa.update(events)
        .where(e.corp_id == corp_id, e.app_id == app_id, which)
        .values(
            status=PENDING,
            attempts=0,
            due_at=now,
            lease_owner=None,
            lease_until=None,
            delivered_at=None,
        )
    )
    return result.rowcount or 0


async def deliveries(
    conn: Connection, corp_id: str, app_id: str, *, failed_only: bool = False, limit: int = 100
) -> list[RowMapping]:
    """The app's newest events, newest first, with their delivery state."""
    e = events.c
    query = sa.select(events).where(e.corp_id == corp_id, e.app_id == app_id)
    if failed_only:
        query = query.where(e.status == FAILED)
    rows = await conn.execute(query.order_by(e.id.desc()).limit(limit))
    return list(rows.mappings().all())


async def emitted(
    conn: Connection, corp_id: str, *, after: int | None = None, limit: int = 1000
) -> list[RowMapping]:
    """The org's events in the order they were written (every app's), after row ``after``,
    with their delivery state (test mode)."""
    e = events.c
    query = sa.select(events).where(e.corp_id == corp_id)
    if after is not None:
        query = query.where(e.id > after)
    rows = await conn.execute(query.order_by(e.id).limit(limit))
    return list(rows.mappings().all())


async def pending_count(conn: Connection, corp_id: str) -> int:
    """How many of the org's events still wait for delivery (test mode)."""
    e = events.c
    query = sa.select(sa.func.count()).where(e.corp_id == corp_id, e.status == PENDING)
    return int((await conn.execute(query)).scalar_one())


async def get(conn: Connection, corp_id: str, event_row: int) -> RowMapping | None:
    rows = await conn.execute(
        sa.select(events).where(events.c.corp_id == corp_id, events.c.id == event_row)
    )
    return rows.mappings().first()


# --- the pull feed ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Horizon:
    """Where a feed read stands: ``line``, below which every transaction has ended
    (``xact.settled_below``, taken once for the statements of one look, so that they agree),
    and ``began``, the read's first snapshot (``xact.current_snapshot``): "committed before the
    read" is judged against it, however long the read waits."""

    line: int
    began: str | None


async def horizon(conn: Connection, began: str | None = None) -> Horizon:
    """The line now, and the read's first snapshot (now, unless ``began`` is given)."""
    if began is None:
        row = (await conn.execute(sa.select(xact.settled_below(), xact.current_snapshot()))).one()
        return Horizon(int(row[0]), row[1])
    return Horizon(int((await conn.execute(sa.select(xact.settled_below()))).scalar_one()), began)


async def feed(
    conn: Connection, corp_id: str, app_id: str, after: Cursor, limit: int, at: Horizon
) -> list[RowMapping]:
    """The app's events after ``after`` in commit order, up to ``limit``: only those whose
    transaction is below ``at``'s line (store/xact.py), so that paging by the last row's cursor
    never skips an event committed later with a smaller id."""
    e = events.c
    query = (
        sa.select(events)
        .where(
            e.corp_id == corp_id,
            e.app_id == app_id,
            sa.tuple_(e.tx, e.id) > sa.tuple_(sa.literal(after.tx), sa.literal(after.id)),
            e.tx < at.line,
        )
        .order_by(e.tx, e.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).mappings().all())


async def held_back(
    conn: Connection,
    corp_id: str,
    app_id: str,
    after: Cursor,
    at: Horizon,
    *,
    before_read: bool = False,
) -> bool:
    """Whether the app has committed events after ``after`` that ``feed`` at ``at`` does not
    show, because an older transaction is still running (store/xact.py; never on SQLite, where
    there is no line); with ``before_read``, only events committed before the read began."""
    if at.line == xact.NO_LINE:
        return False
    e = events.c
    query = (
        sa.select(sa.literal(1))
        .where(
            e.corp_id == corp_id,
            e.app_id == app_id,
            sa.tuple_(e.tx, e.id) > sa.tuple_(sa.literal(after.tx), sa.literal(after.id)),
            e.tx >= at.line,
        )
        .limit(1)
    )
    if before_read:
        query = query.where(xact.ended_by(e.tx, sa.literal(at.began)))
    return (await conn.execute(query)).first() is not None


async def latest(conn: Connection, corp_id: str, app_id: str, at: Horizon) -> Cursor:
    """The cursor after the app's last event below ``at``'s line (the start when it has none)."""
    e = events.c
    query = (
        sa.select(e.tx, e.id)
        .where(e.corp_id == corp_id, e.app_id == app_id, e.tx < at.line)
        .order_by(e.tx.desc(), e.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).first()
    return Cursor(int(row.tx), int(row.id)) if row else Cursor()


# --- housekeeping -------------------------------------------------------------------------------


async def purge(conn: Writer, born_before: int) -> int:
    """Forget the events, of every org, born before ``born_before`` (their retention)."""
    result = await conn.execute(sa.delete(events).where(events.c.born_at < born_before))
    return result.rowcount or 0


# --- HTTP push callbacks -----------------------------------------------------------------------


async def get_callback(conn: Connection, corp_id: str, app_id: str) -> RowMapping | None:
    c = app_callbacks.c
    rows = await conn.execute(
        sa.select(app_callbacks).where(c.corp_id == corp_id, c.app_id == app_id)
    )
    return rows.mappings().first()


async def set_callback(
    conn: Writer, corp_id: str, app_id: str, *, url: str, token: str, aes_key: str, now: int
) -> None:
    c = app_callbacks.c
    changed = await conn.execute(
        sa.update(app_callbacks)
        .where(c.corp_id == corp_id, c.app_id == app_id)
        .values(url=url, token=token, aes_key=aes_key, modified_at=now)
    )
    if not changed.rowcount:
        await conn.execute(
            sa.insert(app_callbacks).values(
                corp_id=corp_id,
                app_id=app_id,
                url=url,
                token=token,
                aes_key=aes_key,
                created_at=now,
                modified_at=now,
            )
        )


async def clear_callback(conn: Writer, corp_id: str, app_id: str) -> bool:
    c = app_callbacks.c
    result = await conn.execute(
        sa.delete(app_callbacks).where(c.corp_id == corp_id, c.app_id == app_id)
    )
    return bool(result.rowcount)


async def streams(conn: Connection, corp_id: str, app_id: str) -> bool:
    """Whether the app's events go to its Stream connections: it is enabled and not in push
    mode (a disabled app's events wait in the outbox)."""
    c = app_callbacks.c
    pushed = sa.exists().where(c.corp_id == corp_id, c.app_id == app_id)
    query = sa.select(sa.literal(1)).where(
        apps.c.corp_id == corp_id, apps.c.app_id == app_id, sa.not_(apps.c.disabled), ~pushed
    )
    return (await conn.execute(query)).first() is not None


async def callback_apps(conn: Connection) -> list[RowMapping]:
    """Every enabled app in push mode, of every org, with its callback. A disabled app is left
    out: its events wait in the outbox until it is enabled again (or retention takes them)."""
    c = app_callbacks.c
    query = (
        sa.select(app_callbacks)
        .join(apps, sa.and_(apps.c.app_id == c.app_id, apps.c.corp_id == c.corp_id))
        .where(sa.not_(apps.c.disabled))
    )
    return list((await conn.execute(query)).mappings().all())
