"""Test mode's wholesale statements (service/testmode/): empty one org's storage, empty the
store, copy every row aside and back (snapshots).

They run in one long write transaction each. Tables are found from the schema's metadata, so a
table added later is covered: an org's rows are those of its own ``corp_id`` column, or reached
through its spaces and tasks.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dingstore.store import blobs as blob_rows
from dingstore.store import schema, task_rows
from dingstore.store.base import Connection, Writer

# Announced after a restore: its tasks may be runnable again.
TASKS_CHANNEL = task_rows.CHANNEL

# Rows an org reset keeps: the org itself, its people and its apps (and their tokens, reached
# through the apps), what the apps registered for pushes.
_KEPT = frozenset({"orgs", "users", "apps", "group_members", "tokens", "app_callbacks"})
# Never copied back by a restore: ids must keep growing past every id handed out since.
_COUNTERS = frozenset({"id_blocks"})


async def org_exists(conn: Connection, corp_id: str) -> bool:
    o = schema.orgs.c
    found = await conn.execute(sa.select(o.corp_id).where(o.corp_id == corp_id))
    return found.first() is not None


async def empty_org(conn: Writer, corp_id: str, now: int) -> None:
    """Delete everything the org stored (spaces, the tree, versions, the recycle bin, grants,
    properties, uploads, tasks, events, subscriptions, ...), keeping the org, its users and
    apps; the blobs its versions referenced lose those references."""
    s, d, v = schema.spaces.c, schema.dentries.c, schema.dentry_versions.c
    spaces = sa.select(s.id).where(s.corp_id == corp_id).scalar_subquery()
    dentries = sa.select(d.id).where(d.space_id.in_(spaces)).scalar_subquery()
    tasks = sa.select(schema.tasks.c.id).where(schema.tasks.c.corp_id == corp_id)
    refs = sa.select(v.blob_id, -sa.func.count()).where(v.space_id.in_(spaces)).group_by(v.blob_id)
    await blob_rows.shift_refs_by(conn, refs, now)
    await conn.execute(
        sa.delete(schema.app_properties).where(schema.app_properties.c.dentry_id.in_(dentries))
    )
    await conn.execute(
        sa.delete(schema.task_nodes).where(schema.task_nodes.c.task_id.in_(tasks.scalar_subquery()))
    )
    for table in (schema.permissions, schema.dentry_versions):
        await conn.execute(sa.delete(table).where(table.c.space_id.in_(spaces)))
    # Every other table with a corp_id column, children before parents (dentries, then spaces).
    for table in reversed(schema.metadata.sorted_tables):
        if table.name == "dentries":
            await conn.execute(sa.delete(table).where(table.c.space_id.in_(spaces)))
        elif "corp_id" in table.c and table.name not in _KEPT:
            await conn.execute(sa.delete(table).where(table.c.corp_id == corp_id))


async def empty_store(conn: Writer) -> None:
    """Delete every row of every table but the id counter (ids keep growing: no id is ever
    handed out twice, even by a block this process still holds)."""
    for table in reversed(schema.metadata.sorted_tables):
        if table.name not in _COUNTERS:
            await conn.execute(sa.delete(table))


Rows = dict[str, list[dict[str, Any]]]


async def dump(conn: Connection) -> Rows:
    """Every row of every table but the id counter."""
    found: Rows = {}
    for table in schema.metadata.sorted_tables:
        if table.name not in _COUNTERS:
            result = await conn.execute(sa.select(table))
            found[table.name] = [dict(row) for row in result.mappings().all()]
    return found


async def load(conn: Writer, rows: Rows) -> None:
    """Replace every table's rows (but the id counter's) by ``rows`` (a ``dump``). No task is
    left leased: a worker running one finds its fence closed and drops it, and the task goes
    on from the cursor restored."""
    await empty_store(conn)
    for table in schema.metadata.sorted_tables:
        kept = rows.get(table.name)
        if not kept:
            continue
        if table.name == "tasks":
            kept = [{**row, "lease_owner": None, "lease_expires_at": None} for row in kept]
        if table.name == "events":
            kept = [{**row, "lease_owner": None, "lease_until": None} for row in kept]
        for start in range(0, len(kept), 500):
            await conn.execute(sa.insert(table), kept[start : start + 500])
