"""Whole trees for the benchmarks of bulk operations: seeded straight into a fresh store, sent
one operation (copy, move or delete of the tree's root) over HTTP, waited for through GetTask,
and checked on the store afterwards.

The tree: a root folder holding ``round((N - 1) / 101)`` subfolders with ~100 files each (N
counts the root, the subfolders and the files). Every file is 1 KiB with its own blob (one
``blobs`` row per file, refcount 1) and one version. The rows are inserted directly with
SQLAlchemy Core ``executemany`` (ids reserved from the store's allocator; ``used_quota`` set to
the exact bytes stored); the blobs' bytes are not written: copy, move and delete never read
them, and a purged blob's bytes are only collected after the grace period (an hour).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import httpx
import stores
from common import TOKEN_HEADER, BenchError, Server, Tenant
from stores import Sql

FILE_SIZE = 1024
CHILDREN = 100  # files a subfolder holds, about
INSERT_BATCH = 10_000
POLL_S = 0.010

COPY, MOVE_ACROSS, MOVE_WITHIN, RECYCLE, PURGE = (
    "copy",
    "move_across",
    "move_within",
    "recycle",
    "purge",
)
OPS = (COPY, MOVE_ACROSS, MOVE_WITHIN, RECYCLE, PURGE)
LABELS = {
    COPY: "copy to another space",
    MOVE_ACROSS: "move across spaces",
    MOVE_WITHIN: "move within a space",
    RECYCLE: "delete to recycle bin",
    PURGE: "delete permanently",
}


@dataclass(frozen=True)
class Tree:
    """One seeded tree: dentry ids ``first_id`` … ``first_id + nodes - 1`` (the root first,
    then the subfolders, then the files), blob ids ``first_blob`` … for the files."""

    op: str
    space_id: int
    target_space: int  # copy and moves: where the tree goes (the same space for move_within)
    target_folder: int  # move_within: the sibling folder; 0 (the root) otherwise
    first_id: int
    nodes: int
    files: int
    first_blob: int

    @property
    def root_id(self) -> int:
        return self.first_id

    @property
    def last_id(self) -> int:
        return self.first_id + self.nodes - 1

    @property
    def stored(self) -> int:
        return self.files * FILE_SIZE


@dataclass
class Outcome:
    """One operation on one tree, as the client saw it and as the store recorded it."""

    op: str
    nodes: int  # of one tree
    parallel: int = 1  # trees, each its own operation, all sent at once
    task_ids: list[str] = field(default_factory=list)
    seconds: float | None = None  # first request sent → every GetTask says SUCCESS (or None)
    waited_s: float | None = None  # how long the client waited (= seconds unless timed out)
    request_ms: float | None = None  # the Copy/Move/DeleteDentry call alone (the slowest)
    status: str | None = None  # SUCCESS when every task says so, else the first other status
    total_count: int | None = None  # of every task
    success_count: int | None = None
    fail_count: int | None = None
    fail_message: str | None = None
    polls: int = 0
    # Server clock (the slowest task): the task row's created_at → begin_time (stamped in the
    # first step, after the handler's start: the claim, and the subtree's snapshot or count), and
    # begin → end_time.
    start_ms: int | None = None
    task_ms: int | None = None
    timed_out: bool = False
    problems: list[str] = field(default_factory=list)
    seed_s: float = 0.0
    server_peak_rss_bytes: int | None = None
    sql_floor_s: float | None = None
    disk_floor_s: float | None = None

    @property
    def floor_ratio(self) -> float | None:
        """Seconds over the SQL floor's (the same run), when both are known."""
        if self.seconds is None or not self.sql_floor_s:
            return None
        return self.seconds / self.sql_floor_s

    @property
    def nodes_per_s(self) -> float | None:
        """Nodes a second (of every tree); for an operation that timed out, those settled by
        then."""
        if self.seconds:
            return self.nodes * self.parallel / self.seconds
        if self.timed_out and self.waited_s:
            return (self.success_count or 0) / self.waited_s
        return None

    @property
    def verified(self) -> bool:
        return not self.problems and not self.timed_out


# --- seeding -----------------------------------------------------------------------------------


def shape(nodes: int) -> list[int]:
    """Files in each subfolder, so that root + subfolders + files = ``nodes``."""
    folders = max(1, round((nodes - 1) / (CHILDREN + 1)))
    files = nodes - 1 - folders
    base, extra = divmod(files, folders)
    return [base + (i < extra) for i in range(folders)]


def tree_rows(tree: Tree, creator: str, now: int) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table, row) for every dentry, version and blob of the tree, in insert order."""
    folders = shape(tree.nodes)

    def dentry(
        dentry_id: int, parent_id: int, name: str, is_file: bool, blob: int | None, files: int = 0
    ) -> dict[str, Any]:
        """A row; a folder holding ``files`` files in all, a file holding its one version."""
        return {
            "id": dentry_id,
            "space_id": tree.space_id,
            "parent_id": parent_id,
            "name": name,
            "type": "FILE" if is_file else "FOLDER",
            "size": FILE_SIZE if is_file else 0,
            "blob_id": blob,
            "version": 1 if is_file else None,
            "status": "NORMAL",
            "uuid": uuid.uuid4().hex,
            "creator_id": creator,
            "modifier_id": creator,
            "created_at": now,
            "modified_at": now,
            "descendants": files if dentry_id != tree.root_id else tree.nodes - 1,
            "stored": FILE_SIZE if is_file else files * FILE_SIZE,
        }

    yield "dentries", dentry(tree.root_id, 0, f"tree-{tree.op}", False, None, sum(folders))
    for n, count in enumerate(folders):
        name = f"folder-{n:04d}"
        yield "dentries", dentry(tree.root_id + 1 + n, tree.root_id, name, False, None, count)
    next_file, next_blob = tree.root_id + 1 + len(folders), tree.first_blob
    for n, count in enumerate(folders):
        for k in range(count):
            name = f"file-{k:03d}.txt"
            yield "dentries", dentry(next_file, tree.root_id + 1 + n, name, True, next_blob)
            yield (
                "blobs",
                {
                    "id": next_blob,
                    "size": FILE_SIZE,
                    "md5": None,
                    "refcount": 1,
                    "released_at": None,
                    "created_at": now,
                },
            )
            yield (
                "dentry_versions",
                {
                    "dentry_id": next_file,
                    "version": 1,
                    "space_id": tree.space_id,
                    "name": name,
                    "size": FILE_SIZE,
                    "blob_id": next_blob,
                    "modifier_id": creator,
                    "created_at": now,
                },
            )
            next_file += 1
            next_blob += 1


async def seed_tree(svc: Any, actor: Any, tenant: Tenant, op: str, nodes: int, k: int) -> Tree:
    """The spaces for one ``op`` (the ``k``-th of the run) and its tree, written straight into
    the tables."""
    from dingstore.service.spaces import NewSpace

    name = op if k == 0 else f"{op}-{k}"
    space = await svc.spaces.add(actor, NewSpace(name=name, scene="bench", scene_id=name))
    target_space, target_folder = space.id, 0
    if op in (COPY, MOVE_ACROSS):
        target = NewSpace(name=f"{name} target", scene="bench", scene_id=f"{name}-target")
        target_space = (await svc.spaces.add(actor, target)).id
    elif op == MOVE_WITHIN:
        dest = await svc.dentries.add_folder(actor, str(space.id), "0", "dest", None)
        target_folder = dest.id
    tree = await new_tree(svc, op, space.id, nodes, target_space, target_folder)
    await insert_tree(svc, tree, tenant.union_id)
    return tree


async def new_tree(
    svc: Any,
    op: str,
    space_id: int,
    nodes: int,
    target_space: int | None = None,
    target_folder: int = 0,
) -> Tree:
    """A tree of ``nodes`` nodes for the root of ``space_id``, its ids reserved; not written."""
    files = nodes - 1 - len(shape(nodes))
    first = await svc.ids.reserve(nodes + files)
    target = space_id if target_space is None else target_space
    return Tree(op, space_id, target, target_folder, first, nodes, files, first + nodes)


async def insert_tree(svc: Any, tree: Tree, creator: str) -> None:
    """The tree's rows, written straight into the tables; its bytes added to its space's
    ``usedQuota``."""
    import sqlalchemy as sa

    from dingstore.clock import now_ms
    from dingstore.store import schema

    tables = {
        "dentries": schema.dentries,
        "dentry_versions": schema.dentry_versions,
        "blobs": schema.blobs,
    }
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
    async with svc.db.write() as conn:
        # Each flush writes dentries (in id order: parents first), then blobs, then the
        # versions that refer to both.
        for table, row in tree_rows(tree, creator, now_ms()):
            pending[table].append(row)
            if len(pending[table]) == INSERT_BATCH:
                await flush(conn, tables, pending)
        await flush(conn, tables, pending)
        spaces = schema.spaces
        await conn.execute(
            sa.update(spaces)
            .where(spaces.c.id == tree.space_id)
            .values(used_quota=spaces.c.used_quota + tree.stored)
        )


async def flush(
    conn: Any, tables: dict[str, Any], pending: dict[str, list[dict[str, Any]]]
) -> None:
    import sqlalchemy as sa

    for name in ("dentries", "blobs", "dentry_versions"):
        if pending[name]:
            await conn.execute(sa.insert(tables[name]), pending[name])
            pending[name] = []


# --- the operation -----------------------------------------------------------------------------


class Api(common.Api):
    """The operations on a tree, and GetTask."""

    def start(self, tree: Tree) -> dict[str, Any]:
        """The operation's request: its body (``async`` and ``taskId``)."""
        dentry = f"/v1.0/storage/spaces/{tree.space_id}/dentries/{tree.root_id}"
        if tree.op in (COPY, MOVE_ACROSS, MOVE_WITHIN):
            verb = "copy" if tree.op == COPY else "move"
            body = {
                "targetSpaceId": str(tree.target_space),
                "targetFolderId": str(tree.target_folder),
            }
            return self.call("POST", f"{dentry}/{verb}", json=body)
        recycle = "true" if tree.op == RECYCLE else "false"
        return self.call("DELETE", dentry, params={"toRecycleBin": recycle})

    def task(self, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = self.call("GET", f"/v1.0/storage/tasks/{task_id}")["task"]
        return task


def perform(api: Api, trees: list[Tree], timeout: float) -> Outcome:
    """The requests, one per tree, back to back; then GetTask of each at once and every
    ``POLL_S`` until every task has ended."""
    op = trees[0].op
    outcome = Outcome(op, trees[0].nodes, parallel=len(trees))
    started = time.perf_counter()
    for tree in trees:
        sent = time.perf_counter()
        body = api.start(tree)
        took = (time.perf_counter() - sent) * 1000
        outcome.request_ms = max(outcome.request_ms or 0.0, took)
        if not body.get("async") or not body.get("taskId"):
            raise BenchError(f"{LABELS[op]} answered without a task: {body}")
        outcome.task_ids.append(str(body["taskId"]))
    ended: dict[str, dict[str, Any]] = {}
    while True:
        for task_id in outcome.task_ids:
            if task_id not in ended:
                task = api.task(task_id)
                outcome.polls += 1
                if task["status"] in ("SUCCESS", "FAIL"):
                    ended[task_id] = task
        outcome.waited_s = time.perf_counter() - started
        if len(ended) == len(trees):
            outcome.seconds = outcome.waited_s
            break
        if outcome.waited_s > timeout:
            outcome.timed_out = True
            break
        time.sleep(POLL_S)
    tasks = [ended.get(i) or api.task(i) for i in outcome.task_ids]
    outcome.status = next((t["status"] for t in tasks if t["status"] != "SUCCESS"), "SUCCESS")

    def total(key: str) -> int | None:
        values = [t.get(key) for t in tasks]
        return None if None in values else sum(values)  # type: ignore[arg-type]

    outcome.total_count = total("totalCount")
    outcome.success_count = total("successCount")
    outcome.fail_count = total("failCount")
    outcome.fail_message = next((t["failMessage"] for t in tasks if t.get("failMessage")), None)
    return outcome


def operate(
    shape: list[Server],
    logs: Path,
    name: str,
    data_dir: Path,
    url: str | None,
    tenant: Tenant,
    made: list[Tree],
    timeout: float,
    *,
    union_id: str | None = None,
    around: Callable[[dict[str, int]], contextlib.AbstractContextManager[None]] | None = None,
) -> Outcome:
    """With the store's processes (``shape``) running: the operation on each tree, as
    ``union_id`` (default the admin) through the tenant's app, until every task has ended (or
    ``timeout`` seconds); then the processes' peak RSS and the checks on the store.
    ``around(pids)`` wraps the operation (a profiler)."""
    headers = {TOKEN_HEADER: tenant.token}
    with stores.serving(shape, logs, name, data_dir, url, headers) as running:
        limit = httpx.Timeout(max(60.0, timeout))
        base_url = running.server.base_url
        with httpx.Client(base_url=base_url, headers=headers, timeout=limit) as client:
            api = Api(client, union_id or tenant.union_id)
            space = f"/v1.0/storage/spaces/{made[0].space_id}"
            client.get(space, params=api.query).raise_for_status()
            pids = {label: p.pid for label, p in running.procs.items()}
            with around(pids) if around else contextlib.nullcontext():
                outcome = perform(api, made, timeout)
        outcome.server_peak_rss_bytes = running.peak_rss_bytes()
        check(running.db, made, outcome)
    return outcome


# --- checks on the store -----------------------------------------------------------------------


def check(db: Sql, trees: list[Tree], outcome: Outcome) -> None:
    """What the tasks said and what the store holds must agree with the operation; each
    disagreement is recorded in ``outcome.problems``."""

    def expect(what: str, got: Any, want: Any) -> None:
        if got != want:
            outcome.problems.append(f"{what}: {got!r}, expected {want!r}")

    if outcome.timed_out:
        outcome.problems.append(
            f"still {outcome.status} after {outcome.waited_s:.1f} s: "
            f"{outcome.success_count or 0:,} of "
            f"{'?' if outcome.total_count is None else f'{outcome.total_count:,}'} settled"
        )
        return
    expect("status", outcome.status, "SUCCESS")
    expect("totalCount", outcome.total_count, sum(t.nodes for t in trees))
    expect("successCount", outcome.success_count, outcome.total_count)
    times = "SELECT {} FROM tasks WHERE id = :task"
    for task_id in outcome.task_ids:
        created, began, ended = (
            db.one(times.format(c), task=int(task_id))
            for c in ("created_at", "begin_time", "end_time")
        )
        if began is not None and ended is not None:
            outcome.start_ms = max(outcome.start_ms or 0, began - created)
            outcome.task_ms = max(outcome.task_ms or 0, ended - began)
    for tree in trees:
        check_tree(db, tree, outcome)


def check_tree(db: Sql, tree: Tree, outcome: Outcome) -> None:
    def expect(what: str, got: Any, want: Any) -> None:
        if got != want:
            where = f" (tree in space {tree.space_id})" if outcome.parallel > 1 else ""
            outcome.problems.append(f"{what}{where}: {got!r}, expected {want!r}")

    source, target = tree.space_id, tree.target_space
    live = "SELECT count(*) FROM dentries WHERE space_id = :s AND status = 'NORMAL'"
    rows = "SELECT count(*) FROM dentries WHERE space_id = :s"
    versions = "SELECT count(*) FROM dentry_versions WHERE space_id = :s"
    quota = "SELECT used_quota FROM spaces WHERE id = :s"
    blobs = "SELECT count(*) FROM blobs WHERE id BETWEEN :lo AND :hi AND refcount = :n"
    blob_range = {"lo": tree.first_blob, "hi": tree.first_blob + tree.files - 1}
    if tree.op == COPY:
        expect("live dentries in the target space", db.one(live, s=target), tree.nodes)
        expect("versions in the target space", db.one(versions, s=target), tree.files)
        expect("target usedQuota", db.one(quota, s=target), tree.stored)
        expect("source usedQuota", db.one(quota, s=source), tree.stored)
        expect("blobs with refcount 2", db.one(blobs, **blob_range, n=2), tree.files)
    elif tree.op == MOVE_ACROSS:
        expect("live dentries in the target space", db.one(live, s=target), tree.nodes)
        expect("dentries left in the source space", db.one(rows, s=source), 0)
        expect("versions in the target space", db.one(versions, s=target), tree.files)
        expect("versions left in the source space", db.one(versions, s=source), 0)
        expect("target usedQuota", db.one(quota, s=target), tree.stored)
        expect("source usedQuota", db.one(quota, s=source), 0)
    elif tree.op == MOVE_WITHIN:
        parent = db.one("SELECT parent_id FROM dentries WHERE id = :d", d=tree.root_id)
        expect("the root's parent", parent, tree.target_folder)
        expect("live dentries in the space", db.one(live, s=source), tree.nodes + 1)
    elif tree.op == RECYCLE:
        status = db.one("SELECT status FROM dentries WHERE id = :d", d=tree.root_id)
        expect("the root's status", status, "DELETED")
        items = db.one("SELECT count(*) FROM recycle_items WHERE dentry_id = :d", d=tree.root_id)
        expect("recycle items for the root", items, 1)
        expect("usedQuota (kept until purged)", db.one(quota, s=source), tree.stored)
    elif tree.op == PURGE:
        expect("dentries left in the space", db.one(rows, s=source), 0)
        expect("versions left in the space", db.one(versions, s=source), 0)
        expect("usedQuota", db.one(quota, s=source), 0)
        released = db.one(
            "SELECT count(*) FROM blobs WHERE id BETWEEN :lo AND :hi AND refcount = 0 "
            "AND released_at IS NOT NULL",
            **blob_range,
        )
        expect("blobs released", released, tree.files)
