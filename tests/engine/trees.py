"""What the engine tests share: an account and spaces made through the service layer, big trees
seeded straight into the tables (set-based inserts, ids from ``IdAllocator.reserve``), and the
tree read back from the database and checked against the invariants every store must keep.

The helpers are coroutines on a ``Services``; run them on the loop that owns its connections
(``Store.run`` in the test process, ``LiveServer.run`` for an in-process server).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa

from dingstore.clock import now_ms
from dingstore.service import models
from dingstore.service.container import Services, open_services
from dingstore.service.spaces import NewSpace
from dingstore.settings import Settings
from dingstore.store import base, dentries, schema

T = TypeVar("T")

d, v, b = schema.dentries, schema.dentry_versions, schema.blobs
props, spaces_t, tasks_t = schema.app_properties, schema.spaces, schema.tasks
FILE_SIZE = 1024  # every current version
OLD_SIZE = 700  # every older version (one file in ten has one)


class Store:
    """The services opened in the test process on a private event loop: for set-up before a
    server process starts, and for reading the database while and after it runs."""

    def __init__(self, settings: Settings) -> None:
        self.loop = asyncio.new_event_loop()
        self.services = self.loop.run_until_complete(open_services(settings))

    @property
    def db(self) -> base.BaseDatabase:
        return self.services.db

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.services.close())
        self.loop.close()


# --- set-up through the service layer ----------------------------------------------------------


@dataclass(frozen=True)
class Account:
    """An org, its admin and an internal app with every scope, and a token of that app."""

    actor: models.Actor
    token: str

    @property
    def union_id(self) -> str:
        return self.actor.union_id


async def new_account(services: Services) -> Account:
    identity = services.identity
    org = await identity.create_org("Engine")
    admin = await identity.create_user(org.corp_id, "alice", admin=True)
    creds = await identity.create_app(org.corp_id, "engine-tests")
    assert creds.app.app_key is not None
    token = (await services.tokens.issue_for_app(creds.app.app_key, creds.app_secret)).access_token
    principal = await services.tokens.authenticate(token)
    operator = await identity.operator(org.corp_id, admin.union_id)
    return Account(models.Actor(principal, operator, services.clock), token)


async def new_space(services: Services, account: Account, name: str) -> int:
    space = await services.spaces.add(
        account.actor, NewSpace(name=name, scene="engine", scene_id=name)
    )
    return int(space.id)


# --- seeding -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """A tree seeded under a space's root: ``node_ids[0]`` is its top folder."""

    space_id: int
    node_ids: list[int]
    blob_ids: list[int]
    stored: int  # bytes of every version
    current: int  # bytes of the current versions (what a copy adds)
    properties: int  # app properties on its nodes

    @property
    def root_id(self) -> int:
        return self.node_ids[0]

    @property
    def size(self) -> int:
        return len(self.node_ids)


def shape(total: int, fanout: int) -> list[tuple[int, bool]]:
    """(parent index, is folder) of ``total`` nodes, index 0 the top folder (parent -1): folders
    hold up to ``fanout`` children each, breadth first, with just enough subfolders."""
    nodes: list[tuple[int, bool]] = [(-1, True)]
    queue = deque([0])
    remaining = total - 1
    while remaining:
        parent = queue.popleft()
        n = min(fanout, remaining)
        remaining -= n
        folders = min(n, -(-max(0, remaining - len(queue) * fanout) // fanout))
        for j in range(n):
            if j < folders:
                queue.append(len(nodes))
            nodes.append((parent, j < folders))
    return nodes


async def seed_tree(
    services: Services,
    account: Account,
    space_id: int,
    name: str,
    total: int,
    *,
    fanout: int = 100,
    parent_id: int = 0,
    analyze: bool = True,
) -> Seeded:
    """``total`` nodes (the top folder ``name`` included) inserted straight into the tables:
    1 KiB files, one in ten with an older version, one in nine sharing the blob of the file
    before it, an app property on one node in fifty; the space's usedQuota charged exactly.
    ``analyze=False`` leaves PostgreSQL's statistics alone: for many small trees seeded in a
    row, ``analyze_tables`` once at the end costs a fraction of one ANALYZE per tree."""
    plan = shape(total, fanout)
    files = sum(1 for _, folder in plan if not folder)
    first = await services.ids.reserve(total + files * 2)
    next_blob = first + total
    now = now_ms()
    who = account.union_id
    node_ids = [first + i for i in range(total)]
    dentry_rows: list[dict[str, Any]] = []
    version_rows: list[dict[str, Any]] = []
    blob_sizes: dict[int, int] = {}
    property_rows: list[dict[str, Any]] = []
    previous_blob: int | None = None
    for index, (parent, folder) in enumerate(plan):
        node = node_ids[index]
        row: dict[str, Any] = {
            "id": node,
            "space_id": space_id,
            "parent_id": parent_id if parent < 0 else node_ids[parent],
            "name": name if parent < 0 else (f"d{index}" if folder else f"f{index}.txt"),
            "type": "FOLDER" if folder else "FILE",
            "size": 0,
            "blob_id": None,
            "version": None,
            "status": "NORMAL",
            "uuid": uuid.uuid4().hex,
            "creator_id": who,
            "modifier_id": who,
            "created_at": now,
            "modified_at": now,
        }
        if not folder:
            versions = 2 if index % 10 == 0 else 1
            for version in range(1, versions + 1):
                current = version == versions
                if current and index % 9 == 4 and previous_blob is not None:
                    blob = previous_blob
                else:
                    blob, next_blob = next_blob, next_blob + 1
                    blob_sizes[blob] = FILE_SIZE if current else OLD_SIZE
                version_rows.append(
                    {
                        "dentry_id": node,
                        "version": version,
                        "space_id": space_id,
                        "name": row["name"],
                        "size": blob_sizes[blob],
                        "blob_id": blob,
                        "modifier_id": who,
                        "created_at": now,
                    }
                )
            row.update(size=FILE_SIZE, blob_id=blob, version=versions)
            previous_blob = blob
        if index % 50 == 7:
            property_rows.append(
                {
                    "dentry_id": node,
                    "owner_id": account.actor.app_id,
                    "name": "tag",
                    "value": str(index),
                    "visibility": "PUBLIC",
                }
            )
        dentry_rows.append(row)
    # Subtree sizes, children before parents (the plan lists parents first).
    own = Counter({r["dentry_id"]: 0 for r in version_rows})
    for r in version_rows:
        own[r["dentry_id"]] += r["size"]
    for row in dentry_rows:
        row.update(descendants=0, stored=own[row["id"]])
    for index in range(len(plan) - 1, 0, -1):
        child, parent = dentry_rows[index], dentry_rows[plan[index][0]]
        parent["descendants"] += 1 + child["descendants"]
        parent["stored"] += child["stored"]
    refs = Counter(r["blob_id"] for r in version_rows)
    blob_rows = [
        {"id": i, "size": s, "md5": None, "refcount": refs[i], "created_at": now}
        for i, s in blob_sizes.items()
    ]
    stored = sum(r["size"] for r in version_rows)
    async with services.db.write() as conn:
        await conn.execute(sa.insert(b), blob_rows)
        await conn.execute(sa.insert(d), dentry_rows)
        await conn.execute(sa.insert(v), version_rows)
        if property_rows:
            await conn.execute(sa.insert(props), property_rows)
        top = dentry_rows[0]
        await dentries.grow_chain(conn, parent_id, 1 + top["descendants"], top["stored"])
        await conn.execute(
            sa.update(spaces_t)
            .where(spaces_t.c.id == space_id)
            .values(used_quota=spaces_t.c.used_quota + stored)
        )
    if analyze:
        await analyze_tables(services)
    return Seeded(
        space_id=space_id,
        node_ids=node_ids,
        blob_ids=list(blob_sizes),
        stored=stored,
        current=files * FILE_SIZE,
        properties=len(property_rows),
    )


async def analyze_tables(services: Services) -> None:
    """A store that has been running has statistics (autovacuum keeps them); a bulk load
    without them leaves PostgreSQL's planner scanning whole tables."""
    if services.db.dialect == "postgresql":
        async with services.db.write() as conn:
            await conn.execute(sa.text("ANALYZE dentries, dentry_versions, blobs, app_properties"))


# --- reading back ------------------------------------------------------------------------------

Entry = tuple[str, str, int]
"""A visible node as (path, type, size)."""


async def tree(db: base.BaseDatabase, space_id: int) -> list[Entry]:
    """Every visible node of the space, sorted; fails on a row whose parent is missing, in
    another space, or not a folder, and on two visible nodes with one path."""
    async with db.read() as conn:
        rows = {
            int(r.id): r
            for r in (
                await conn.execute(
                    sa.select(d.c.id, d.c.space_id, d.c.parent_id, d.c.name, d.c.type, d.c.size,
                              d.c.status).where(d.c.space_id == space_id)
                )
            ).all()
        }  # fmt: skip
    paths: dict[int, str | None] = {0: ""}

    def path(node: int) -> str | None:
        chain: list[int] = []
        while node not in paths:
            row = rows.get(node)
            assert row is not None, f"{chain[-1:]} of space {space_id}: no parent {node} here"
            assert row.type == "FOLDER" or not chain, f"the parent {node} is a file"
            chain.append(node)
            assert len(chain) <= len(rows), f"a cycle through {node}"
            node = int(row.parent_id)
        known = paths[node]
        for n in reversed(chain):
            row = rows[n]
            known = None if known is None or row.status != "NORMAL" else f"{known}/{row.name}"
            paths[n] = known
        return known

    entries = []
    for node, row in rows.items():
        p = path(node)
        if p is not None:
            entries.append((p, row.type, int(row.size or 0)))
    entries.sort()
    doubled = [p for p, n in Counter(p for p, _, _ in entries).items() if n > 1]
    assert not doubled, f"paths held twice in space {space_id}: {doubled[:5]}"
    return entries


async def used_quota(db: base.BaseDatabase, space_id: int) -> int:
    async with db.read() as conn:
        stmt = sa.select(spaces_t.c.used_quota).where(spaces_t.c.id == space_id)
        return int((await conn.execute(stmt)).scalar_one())


async def property_count(db: base.BaseDatabase, space_id: int) -> int:
    async with db.read() as conn:
        stmt = (
            sa.select(sa.func.count())
            .select_from(props.join(d, d.c.id == props.c.dentry_id))
            .where(d.c.space_id == space_id, d.c.status == "NORMAL")
        )
        return int((await conn.execute(stmt)).scalar_one())


async def count_where(db: base.BaseDatabase, table: sa.Table, clause: Any) -> int:
    async with db.read() as conn:
        stmt = sa.select(sa.func.count()).select_from(table).where(clause)
        return int((await conn.execute(stmt)).scalar_one())


async def blob_refcounts(db: base.BaseDatabase, blob_ids: list[int]) -> dict[int, int]:
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(b.c.id, b.c.refcount))).all()
    wanted = set(blob_ids)
    return {int(i): int(n) for i, n in rows if int(i) in wanted}


async def task_rows(db: base.BaseDatabase) -> dict[int, Any]:
    async with db.read() as conn:
        return await task_rows_in(conn)


# --- invariants --------------------------------------------------------------------------------


class Kind(StrEnum):
    """Which invariant a problem breaks, for a check that looks only at some of them."""

    TREE = "tree"  # the walk up to the root (cycle, orphan, deleted and not recycled)
    NAMES = "names"  # two live siblings of one name
    VERSIONS = "versions"  # a version outside its dentry's space, a file not its last version
    SIZES = "sizes"  # a node's kept descendants or stored bytes
    QUOTA = "quota"  # a space's usedQuota
    BLOBS = "blobs"  # a blob's refcount
    PROPERTIES = "properties"  # an app property of a purged dentry
    GRANTS = "grants"  # a grant on a purged dentry, or naming another space
    TASKS = "tasks"  # a task not ended, its counts, its rows left behind


class Problem(NamedTuple):
    kind: Kind
    text: str

    def __str__(self) -> str:
        return self.text


async def problems(db: base.BaseDatabase) -> list[Problem]:
    """Every way the whole store breaks the tree's invariants (empty when it keeps them all):

    * walking up from a live node reaches the root (or a folder in the recycle bin) through
      folders of its own space: no cycle, no orphan, no row left half-deleted;
    * no two live siblings share a name;
    * each space's usedQuota is the sum of its versions' sizes; each version belongs to a
      dentry of its space; a file's row mirrors its current version;
    * each node's subtree sizes (live descendants, bytes stored under it) are exact;
    * each blob's refcount is the number of versions that reference it;
    * no app property of a purged dentry;
    * no grant on a purged dentry, nor one naming a space other than its dentry's;
    * every task ended SUCCESS or FAIL with successCount + failCount == totalCount, and left no
      ``task_nodes`` or ``task_holds`` behind.
    """
    found: list[Problem] = []
    async with db.read() as conn:
        rows = {
            int(r.id): r
            for r in (
                await conn.execute(
                    sa.select(d.c.id, d.c.space_id, d.c.parent_id, d.c.name, d.c.type,
                              d.c.status, d.c.size, d.c.blob_id, d.c.version, d.c.descendants,
                              d.c.stored)
                )
            ).all()
        }  # fmt: skip
        recycled = {
            int(i)
            for i in (await conn.execute(sa.select(schema.recycle_items.c.dentry_id))).scalars()
        }
        versions = (
            await conn.execute(
                sa.select(v.c.dentry_id, v.c.version, v.c.space_id, v.c.size, v.c.blob_id)
            )
        ).all()
        quotas = {
            int(i): int(u)
            for i, u in (await conn.execute(sa.select(spaces_t.c.id, spaces_t.c.used_quota)))
        }
        blobs = {int(i): int(n) for i, n in await conn.execute(sa.select(b.c.id, b.c.refcount))}
        owners = [int(i) for i in (await conn.execute(sa.select(props.c.dentry_id))).scalars()]
        grants = (
            await conn.execute(
                sa.select(schema.permissions.c.dentry_id, schema.permissions.c.space_id).where(
                    schema.permissions.c.dentry_id != 0
                )
            )
        ).all()
        tasks = (await task_rows_in(conn)).values()
        tn = schema.task_nodes
        kept = (
            await conn.execute(sa.select(tn.c.task_id, tn.c.node_id, tn.c.parent_id, tn.c.failed))
        ).all()
        holds_left = (
            await conn.execute(sa.select(schema.task_holds.c.task_id).distinct())
        ).scalars()
        holds_left = list(holds_left)
    nodes_left = _snapshots_left(kept, {int(t.id): t for t in tasks})

    good: set[int] = {0}
    for node, row in rows.items():
        if row.status == "NORMAL":
            _walk(node, rows, recycled, good, found)
        elif node not in recycled:
            unfinished = f"dentry {node} is {row.status} but in no recycle bin (purge unfinished)"
            found.append(Problem(Kind.TREE, unfinished))
    names = Counter(
        (int(r.space_id), int(r.parent_id), r.name) for r in rows.values() if r.status == "NORMAL"
    )
    found += [
        Problem(Kind.NAMES, f"two live siblings named {k[2]!r} in {k[:2]}")
        for k, n in names.items()
        if n > 1
    ]

    charged: Counter[int] = Counter()
    references: Counter[int] = Counter()
    by_dentry: dict[int, list[Any]] = {}
    for ver in versions:
        charged[int(ver.space_id)] += int(ver.size)
        references[int(ver.blob_id)] += 1
        by_dentry.setdefault(int(ver.dentry_id), []).append(ver)
        owner = rows.get(int(ver.dentry_id))
        if owner is None:
            found.append(
                Problem(Kind.VERSIONS, f"version {ver.version} of purged dentry {ver.dentry_id}")
            )
        elif int(owner.space_id) != int(ver.space_id):
            found.append(
                Problem(
                    Kind.VERSIONS,
                    f"version of dentry {ver.dentry_id} in space {ver.space_id}, not its own",
                )
            )
    for node, row in rows.items():
        if row.type != "FILE":
            continue
        latest = max(by_dentry.get(node, []), key=lambda x: int(x.version), default=None)
        if latest is None or (int(latest.version), int(latest.blob_id), int(latest.size)) != (
            int(row.version), int(row.blob_id), int(row.size)
        ):  # fmt: skip
            found.append(Problem(Kind.VERSIONS, f"file {node} does not mirror its current version"))
    for node, (count, size) in _sizes(rows, by_dentry).items():
        row = rows[node]
        if (int(row.descendants), int(row.stored)) != (count, size):
            found.append(
                Problem(
                    Kind.SIZES,
                    f"dentry {node}: sizes ({row.descendants}, {row.stored}) != ({count}, {size})",
                )
            )
    for space, used in quotas.items():
        if used != charged[space]:
            found.append(
                Problem(Kind.QUOTA, f"space {space}: usedQuota {used} != {charged[space]} stored")
            )
    for blob, count in blobs.items():
        if count != references[blob]:
            found.append(
                Problem(
                    Kind.BLOBS, f"blob {blob}: refcount {count} != {references[blob]} references"
                )
            )
    found += [
        Problem(Kind.BLOBS, f"blob {i} referenced but has no row")
        for i in references
        if i not in blobs
    ]
    found += [
        Problem(Kind.PROPERTIES, f"app property of purged dentry {i}")
        for i in set(owners)
        if i not in rows
    ]
    for node, space in grants:
        if int(node) not in rows:
            found.append(Problem(Kind.GRANTS, f"grant on purged dentry {node}"))
        elif int(rows[int(node)].space_id) != int(space):
            found.append(
                Problem(Kind.GRANTS, f"grant on dentry {node} names space {space}, not its own")
            )

    for task in tasks:
        if task.status not in ("SUCCESS", "FAIL"):
            found.append(
                Problem(Kind.TASKS, f"task {task.id} ({task.kind}) is still {task.status}")
            )
        elif int(task.success_count) + int(task.fail_count) != int(task.total_count or -1):
            found.append(
                Problem(
                    Kind.TASKS,
                    f"task {task.id} ({task.kind}): {task.success_count} + {task.fail_count} != "
                    f"{task.total_count}",
                )
            )
    found += [Problem(Kind.TASKS, f"task_nodes left for task {i}") for i in nodes_left]
    found += [Problem(Kind.TASKS, f"task_holds left for task {i}") for i in holds_left]
    return found


def _snapshots_left(kept: Sequence[Any], tasks: dict[int, Any]) -> list[int]:
    """The tasks whose snapshot rows outlive them wrongly. A copy that failed keeps, for a
    retry (docs/tasks.md#retry), the rows of the nodes it failed and of their parents it
    copied (``subtree.forget_settled``); nothing else keeps any."""
    by_task: dict[int, list[Any]] = {}
    for row in kept:
        by_task.setdefault(int(row.task_id), []).append(row)
    wrong = []
    for task_id, rows in by_task.items():
        task = tasks.get(task_id)
        if task is None or task.kind != "copy" or task.status != "FAIL":
            wrong.append(task_id)
            continue
        parents = {int(r.parent_id) for r in rows if r.failed}
        if not parents or any(not r.failed and int(r.node_id) not in parents for r in rows):
            wrong.append(task_id)
    return sorted(wrong)


def _sizes(rows: dict[int, Any], versions: dict[int, list[Any]]) -> dict[int, tuple[int, int]]:
    """What each node's (descendants, stored) should be, from the rows themselves."""
    children: dict[int, list[int]] = {}
    for node, row in rows.items():
        children.setdefault(int(row.parent_id), []).append(node)
    sizes: dict[int, tuple[int, int]] = {}
    for start in rows:
        stack = [(start, False)]
        while stack:
            node, expanded = stack.pop()
            if node in sizes:
                continue
            kids = [k for k in children.get(node, []) if k != node]
            if not expanded:
                stack.append((node, True))
                stack.extend((k, False) for k in kids if k not in sizes and k != start)
                continue
            count = 0
            size = sum(int(x.size) for x in versions.get(node, []))
            for kid in kids:
                if rows[kid].status == "NORMAL" and kid in sizes:
                    count += 1 + sizes[kid][0]
                    size += sizes[kid][1]
            sizes[node] = (count, size)
    return sizes


def _walk(
    start: int, rows: dict[int, Any], recycled: set[int], good: set[int], found: list[Problem]
) -> None:
    space = int(rows[start].space_id)
    chain: list[int] = []
    node = start
    while node not in good:
        row = rows.get(node)
        if row is None:
            found.append(
                Problem(Kind.TREE, f"dentry {chain[-1]} is an orphan: its parent {node} is gone")
            )
            return
        if chain and (row.type != "FOLDER" or int(row.space_id) != space):
            found.append(
                Problem(
                    Kind.TREE, f"dentry {chain[-1]}'s parent {node} is no folder of space {space}"
                )
            )
            return
        if row.status != "NORMAL":
            if node not in recycled:
                found.append(
                    Problem(
                        Kind.TREE, f"dentry {chain[-1]} lies under {node}, deleted but not recycled"
                    )
                )
                return
            break  # under a folder in the recycle bin: it goes or comes back with it
        if node in chain:
            found.append(Problem(Kind.TREE, f"cycle: {[*chain, node]}"))
            return
        chain.append(node)
        node = int(row.parent_id)
    good.update(chain)


async def task_rows_in(conn: base.Connection) -> dict[int, Any]:
    stmt = sa.select(
        tasks_t.c.id, tasks_t.c.kind, tasks_t.c.status, tasks_t.c.total_count,
        tasks_t.c.success_count, tasks_t.c.fail_count, tasks_t.c.fail_message,
        tasks_t.c.lease_owner, tasks_t.c.cursor,
    )  # fmt: skip
    return {int(r.id): r for r in (await conn.execute(stmt)).all()}
