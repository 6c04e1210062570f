"""Benchmark bulk copy, move and delete of whole trees against set-based SQL and disk floors.

What is measured
----------------
For each tree size N (``--sizes``, default 1,000 / 10,000 / 100,000 nodes) and each operation,
on a fresh store holding just that tree, against the real dingstore over loopback, with one
keep-alive httpx client speaking the API the way the official SDK does (token header,
``unionId`` query). The store is one of two shapes (``--backend``):

* ``sqlite`` (default) — the embedded one: ``dingstore serve`` on SQLite in a temp dir, with its
  own task workers (``--workers``, default the server's 2);
* ``postgres`` — the scale-out one: a fresh database on the server of ``--pg-url``, made and
  dropped for each operation; ``dingstore serve --no-workers`` answers the API and ``--workers``
  separate ``dingstore worker --concurrency 1`` processes (default 1) run the tasks, woken by
  ``NOTIFY``. A task runs on one worker at a time: more workers do not speed one operation up,
  they show what idle competitors for the queue cost it. ``--parallel K`` seeds K trees (each in
  spaces of its own) and sends their K operations back to back: the figure is then until the
  last of the K tasks ends, and nodes/s counts every tree.

The operations:

* **copy to another space** — CopyDentry of the tree's root into another space's root;
* **move across spaces** — MoveDentry of the root into another space's root;
* **move within a space** — MoveDentry of the root into a sibling folder;
* **delete to the recycle bin** — DeleteDentry with ``toRecycleBin=true``;
* **delete permanently** — DeleteDentry with ``toRecycleBin=false``.

Each figure is the wall time from sending the request to the first GetTask answer that says
SUCCESS (GetTask is polled at once and then every 10 ms, raw httpx on the same keep-alive
client). The task's ``totalCount`` must equal N and ``successCount`` must equal it; the store is
then checked directly (rows in the right space, quotas, blob reference counts). The server's
peak RSS (``VmHWM``) is read before it stops.

The tree: a root folder holding ``round((N - 1) / 101)`` subfolders with ~100 files each (N
counts the root, the subfolders and the files). Every file is 1 KiB with its own blob (one
``blobs`` row per file, refcount 1) and one version. The rows are inserted directly with
SQLAlchemy Core ``executemany`` (ids reserved from the store's allocator; ``used_quota`` set to
the exact bytes stored); the blobs' bytes are not written: copy, move and delete never read
them, and a purged blob's bytes are only collected after the grace period (an hour).

The floors
----------
In the same run, on the same machine and disk:

* **SQL floor** — the least a relational store must do for the same rows, timed on the copy
  store's database after its processes stopped, with the driver directly: the ``sqlite3``
  module (WAL, ``synchronous = FULL``, ``BEGIN IMMEDIATE``) or one asyncpg connection (the
  server's defaults); one transaction each, committed: copy =
  ``INSERT … SELECT`` of the seeded tree's dentry and version rows with new ids into a scratch
  space plus the blob ``refcount + 1`` update; move across spaces = ``UPDATE`` of ``space_id``
  on the seeded tree's rows and versions; permanent delete = releasing their blobs and
  ``DELETE`` of those rows (random uuids, like the rows the server purges); move within a space
  and delete to the recycle bin = one row's update (and the recycle item). The floor is given
  the row set (the seeded ids are contiguous): it does not walk the tree.
* **disk floor** — the same tree as directories and 1 KiB files in the temp dir (made and
  ``sync``-ed untimed): ``cp -r`` (copy), ``mv`` to another directory (a rename: the floor for
  both moves and the recycle bin) and ``rm -rf`` (permanent delete); the best of up to 3
  rounds that fit in 10 s. Nothing is fsynced. (``cp -r`` makes N inodes and writes N KiB,
  which a copy that shares blobs does not: it is a reference point more than a floor.)

Targets (at 100,000 nodes), SQLite: copy <= 2 s, move across spaces <= 2 s, permanent delete
<= 2 s; move within a space and delete to the recycle bin <= 50 ms at every size. PostgreSQL:
copy <= 5 s. Both: peak RSS of every dingstore process <= 300 MB. Results are printed and
written to ``bench/results/tree_ops.json`` (``tree_ops-postgres.json`` for PostgreSQL).

Run: ``.venv/bin/python bench/tree_ops.py [--backend sqlite|postgres] [--pg-url URL]
[--sizes 1000,10000,100000] [--ops copy,…] [--workers N] [--parallel K] [--chunk N]
[--timeout 60] [--profile DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from common import (
    DEFAULT_PG_URL,
    READY_TIMEOUT_S,
    TOKEN_HEADER,
    BenchError,
    Server,
    Tenant,
    admin_url,
    bootstrap_tenant,
    dingstore_server,
    dingstore_worker,
    err,
    exit_on_sigterm,
    free_port,
    git_revision,
    out,
    peak_rss_bytes,
    pg_database,
    running,
    scrub_environment,
    temp_dir,
    verdict,
    wait_ready,
    write_results,
)
from rich.table import Table

FILE_SIZE = 1024
CHILDREN = 100  # files a subfolder holds, about
INSERT_BATCH = 10_000
POLL_S = 0.010
DISK_ROUNDS, DISK_BUDGET_S = 3, 10.0

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
TABLE_WIDTH = 132  # when stdout is not a terminal (rich would assume 80 columns)
DISK_FLOOR = {COPY: "cp -r", MOVE_ACROSS: "mv", MOVE_WITHIN: "mv", RECYCLE: "mv", PURGE: "rm -rf"}

TARGET_SIZE = 100_000
BULK_TARGET_S = {  # at TARGET_SIZE
    "sqlite": {COPY: 2.0, MOVE_ACROSS: 2.0, PURGE: 2.0},
    "postgres": {COPY: 5.0},
}
INSTANT_TARGET_S = {"sqlite": {MOVE_WITHIN: 0.050, RECYCLE: 0.050}, "postgres": {}}  # every size
RSS_TARGET_BYTES = 300 * 1_000_000
SHAPES = {
    "sqlite": "embedded SQLite, dingstore serve with its task workers",
    "postgres": "PostgreSQL, dingstore serve --no-workers + dingstore worker processes",
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


@dataclass(frozen=True)
class Store:
    tenant: Tenant
    trees: list[Tree]  # one per operation sent at once (``--parallel``), each in its own spaces
    seed_s: float


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


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="tree sizes in nodes (root, subfolders and files), comma-separated",
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        default=DEFAULT_PG_URL,
        help="postgres: the server, as a user that may CREATE DATABASE; a fresh "
        "dingstore_bench_<random> database is made there for each operation and dropped after",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="task workers: sqlite, dingstore serve --workers N (default 2); postgres, N "
        "dingstore worker processes of one worker each (default 1)",
    )
    parser.add_argument(
        "--chunk", type=int, help="nodes a task step settles (DINGSTORE_TASK_CHUNK)"
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=1,
        help="trees of each size and operation, each in spaces of its own, their operations "
        "sent at once (one task each): the figure is until the last one ends",
    )
    parser.add_argument(
        "--ops", default=",".join(OPS), help=f"operations to run, of {', '.join(OPS)}"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds an operation may take before it is "
        "given up (its progress is reported)",
    )  # fmt: skip
    parser.add_argument(
        "--profile",
        type=Path,
        help="record the server with py-spy during each operation (raw folded stacks, every "
        "thread, Python frames only) into DIR/<op>-<nodes>.txt",
    )
    args = parser.parse_args(argv)
    try:
        args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes must be integers, comma-separated")
    if not args.sizes or min(args.sizes) < 3:
        parser.error("every size must be at least 3 (a root, a subfolder and a file)")
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    if not args.ops or any(o not in OPS for o in args.ops):
        parser.error(f"--ops must name some of {', '.join(OPS)}")
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1: the operations need a task worker")
    if args.chunk is not None and args.chunk < 1:
        parser.error("--chunk must be positive")
    if args.parallel < 1:
        parser.error("--parallel must be positive")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")
    return args


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


async def seed(
    data_dir: Path, database_url: str | None, port: int, op: str, nodes: int, parallel: int = 1
) -> Store:
    """A fresh store: the bootstrap tenant, and ``parallel`` times the spaces ``op`` needs and
    its tree."""
    import sqlalchemy as sa

    from dingstore.service import models
    from dingstore.service.container import open_services
    from dingstore.settings import Settings

    started = time.perf_counter()
    svc = await open_services(Settings(data_dir=data_dir, port=port, database_url=database_url))
    try:
        tenant = await bootstrap_tenant(svc)
        actor = models.Actor(
            await svc.tokens.authenticate(tenant.token),
            await svc.identity.operator(tenant.corp_id, tenant.union_id),
        )
        trees = [await seed_tree(svc, actor, tenant, op, nodes, k) for k in range(parallel)]
        if svc.db.dialect == "postgresql":
            # A store that has been running has statistics (autovacuum keeps them); without
            # them after a bulk load the planner would scan whole tables.
            async with svc.db.write() as conn:
                await conn.execute(sa.text("ANALYZE"))
    finally:
        await svc.close()
    return Store(tenant, trees, time.perf_counter() - started)


async def seed_tree(svc: Any, actor: Any, tenant: Tenant, op: str, nodes: int, k: int) -> Tree:
    """The spaces for one ``op`` (the ``k``-th of the run) and its tree, written straight into
    the tables."""
    import sqlalchemy as sa

    from dingstore.clock import now_ms
    from dingstore.service.spaces import NewSpace
    from dingstore.store import schema

    name = op if k == 0 else f"{op}-{k}"
    space = await svc.spaces.add(actor, NewSpace(name=name, scene="bench", scene_id=name))
    target_space, target_folder = space.id, 0
    if op in (COPY, MOVE_ACROSS):
        target = NewSpace(name=f"{name} target", scene="bench", scene_id=f"{name}-target")
        target_space = (await svc.spaces.add(actor, target)).id
    elif op == MOVE_WITHIN:
        dest = await svc.dentries.add_folder(actor, str(space.id), "0", "dest", None)
        target_folder = dest.id
    files = nodes - 1 - len(shape(nodes))
    first = await svc.ids.reserve(nodes + files)
    tree = Tree(op, space.id, target_space, target_folder, first, nodes, files, first + nodes)
    tables = {
        "dentries": schema.dentries,
        "dentry_versions": schema.dentry_versions,
        "blobs": schema.blobs,
    }
    pending: dict[str, list[dict[str, Any]]] = {name: [] for name in tables}
    async with svc.db.write() as conn:
        # Each flush writes dentries (in id order: parents first), then blobs, then the
        # versions that refer to both.
        for table, row in tree_rows(tree, tenant.union_id, now_ms()):
            pending[table].append(row)
            if len(pending[table]) == INSERT_BATCH:
                await flush(conn, tables, pending)
        await flush(conn, tables, pending)
        await conn.execute(
            sa.update(schema.spaces)
            .where(schema.spaces.c.id == space.id)
            .values(used_quota=tree.stored)
        )
    return tree


async def flush(
    conn: Any, tables: dict[str, Any], pending: dict[str, list[dict[str, Any]]]
) -> None:
    import sqlalchemy as sa

    for name in ("dentries", "blobs", "dentry_versions"):
        if pending[name]:
            await conn.execute(sa.insert(tables[name]), pending[name])
            pending[name] = []


# --- the API -----------------------------------------------------------------------------------


class Api:
    """The calls the benchmark makes, as raw HTTP on one keep-alive client."""

    def __init__(self, client: httpx.Client, union_id: str) -> None:
        self.client = client
        self.query = {"unionId": union_id}

    def _call(
        self, method: str, path: str, params: dict[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        response = self.client.request(method, path, params=self.query | (params or {}), **kwargs)
        if response.status_code != 200:
            raise BenchError(f"{method} {path} answered {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def start(self, tree: Tree) -> dict[str, Any]:
        """The operation's request: its body (``async`` and ``taskId``)."""
        dentry = f"/v1.0/storage/spaces/{tree.space_id}/dentries/{tree.root_id}"
        if tree.op in (COPY, MOVE_ACROSS, MOVE_WITHIN):
            verb = "copy" if tree.op == COPY else "move"
            body = {
                "targetSpaceId": str(tree.target_space),
                "targetFolderId": str(tree.target_folder),
            }
            return self._call("POST", f"{dentry}/{verb}", json=body)
        recycle = "true" if tree.op == RECYCLE else "false"
        return self._call("DELETE", dentry, params={"toRecycleBin": recycle})

    def task(self, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = self._call("GET", f"/v1.0/storage/tasks/{task_id}")["task"]
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


# --- SQL on the store, with the driver directly --------------------------------------------------


class Sql:
    """One connection to the store's database for the checks and the floors; statements name
    their parameters ``:name`` on both backends."""

    def one(self, sql: str, **params: Any) -> Any:
        """The first column of the first row."""
        raise NotImplementedError

    def execute(self, sql: str, **params: Any) -> None:
        """One statement in a transaction of its own."""
        raise NotImplementedError

    def timed(self, statements: list[tuple[str, dict[str, Any]]]) -> float:
        """Seconds for one write transaction of ``statements``, committed."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SqliteSql(Sql):
    """The ``sqlite3`` module with the server's settings: WAL, ``synchronous = FULL``."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("busy_timeout = 10000", "journal_mode = WAL", "synchronous = FULL",
                       "foreign_keys = ON"):  # fmt: skip
            self.db.execute(f"PRAGMA {pragma}")

    def one(self, sql: str, **params: Any) -> Any:
        return self.db.execute(sql, params).fetchone()[0]

    def execute(self, sql: str, **params: Any) -> None:
        self.db.execute(sql, params)

    def timed(self, statements: list[tuple[str, dict[str, Any]]]) -> float:
        started = time.perf_counter()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                self.db.execute(sql, params)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return time.perf_counter() - started

    def close(self) -> None:
        self.db.close()


class PostgresSql(Sql):
    """One asyncpg connection, driven from this thread on a loop of its own; ``:name``
    parameters become ``$n``."""

    _NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")

    def __init__(self, url: str) -> None:
        import asyncpg

        self.loop = asyncio.new_event_loop()
        self.conn = self.loop.run_until_complete(asyncpg.connect(url))

    def _positional(self, sql: str, params: dict[str, Any]) -> tuple[str, list[Any]]:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        return self._NAMED.sub(number, sql), [params[n] for n in names]

    def one(self, sql: str, **params: Any) -> Any:
        query, args = self._positional(sql, params)
        return self.loop.run_until_complete(self.conn.fetchval(query, *args))

    def execute(self, sql: str, **params: Any) -> None:
        query, args = self._positional(sql, params)
        self.loop.run_until_complete(self.conn.execute(query, *args))

    def timed(self, statements: list[tuple[str, dict[str, Any]]]) -> float:
        prepared = [self._positional(sql, params) for sql, params in statements]

        async def run() -> float:
            started = time.perf_counter()
            async with self.conn.transaction():
                for query, args in prepared:
                    await self.conn.execute(query, *args)
            return time.perf_counter() - started

        return self.loop.run_until_complete(run())

    def close(self) -> None:
        self.loop.run_until_complete(self.conn.close())
        self.loop.close()


def open_sql(data_dir: Path, database_url: str | None) -> Sql:
    return PostgresSql(database_url) if database_url else SqliteSql(data_dir / "dingstore.db")


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


# --- floors ------------------------------------------------------------------------------------


def sql_floors(db: Sql, tree: Tree) -> dict[str, float]:
    """The set-based SQL for each operation, on the copy store's database (its processes
    stopped), on the same kind of rows the server's operation touches:

    * copy: the seeded tree's rows with new ids into scratch space A (uuids ``'f' || id``, as
      the server's copies get ``'c' || id``);
    * move across spaces: the seeded tree into scratch space B;
    * permanent delete: the seeded tree's rows (random uuids, as the server purges them);
    * move within a space, recycle: the copy's root in space A (one row each).
    """
    now = int(time.time() * 1000)
    free = db.one("SELECT next_value FROM id_blocks WHERE name = 'global'")
    space_a, space_b, dest, item = free, free + 1, free + 2, free + 3
    offset = free + 4 - tree.first_id  # the copy's ids
    for scratch, name in ((space_a, "floor-a"), (space_b, "floor-b")):
        db.execute(
            "INSERT INTO spaces (id, corp_id, app_id, name, owner_type, owner_id, creator_id, "
            "modifier_id, quota, used_quota, status, scene, scene_id, can_search, "
            "can_rename, can_record_recent_file, created_at, modified_at) "
            "SELECT :scratch, corp_id, app_id, :name, owner_type, owner_id, creator_id, "
            "modifier_id, quota, 0, status, scene, :name, can_search, can_rename, "
            "can_record_recent_file, created_at, modified_at FROM spaces WHERE id = :space",
            scratch=scratch,
            name=name,
            space=tree.space_id,
        )
    p = {
        "first": tree.first_id,
        "last": tree.last_id,
        "off": offset,
        "root": tree.root_id,
        "copy_root": tree.root_id + offset,
        "space": tree.space_id,
        "a": space_a,
        "b": space_b,
        "dest": dest,
        "item": item,
        "stored": tree.stored,
        "now": now,
    }
    floors: dict[str, float] = {}
    floors[COPY] = db.timed([
        ("INSERT INTO dentries (id, space_id, parent_id, name, type, size, blob_id, version, "
         "status, uuid, creator_id, modifier_id, created_at, modified_at) "
         "SELECT id + :off, :a, CASE WHEN id = :root THEN 0 ELSE parent_id + :off END, "
         "name, type, size, blob_id, version, 'NORMAL', 'f' || (id + :off), creator_id, "
         "modifier_id, :now, :now FROM dentries WHERE id BETWEEN :first AND :last", p),
        ("INSERT INTO dentry_versions (dentry_id, version, space_id, name, size, blob_id, "
         "modifier_id, created_at) SELECT dentry_id + :off, version, :a, name, size, "
         "blob_id, modifier_id, :now FROM dentry_versions "
         "WHERE dentry_id BETWEEN :first AND :last", p),
        ("UPDATE blobs SET refcount = refcount + 1, released_at = NULL WHERE id IN "
         "(SELECT blob_id FROM dentry_versions WHERE dentry_id BETWEEN :first AND :last)", p),
        ("UPDATE spaces SET used_quota = used_quota + :stored WHERE id = :a", p),
    ])  # fmt: skip
    floors[MOVE_ACROSS] = db.timed([
        ("UPDATE dentries SET space_id = :b WHERE id BETWEEN :first AND :last", p),
        ("UPDATE dentry_versions SET space_id = :b WHERE dentry_id BETWEEN :first AND :last",
         p),
        ("UPDATE spaces SET used_quota = used_quota - :stored WHERE id = :space", p),
        ("UPDATE spaces SET used_quota = used_quota + :stored WHERE id = :b", p),
    ])  # fmt: skip
    floors[PURGE] = db.timed([
        ("UPDATE blobs SET refcount = refcount - 1, released_at = CASE WHEN refcount - 1 <= 0 "
         "THEN :now ELSE released_at END WHERE id IN (SELECT blob_id FROM dentry_versions "
         "WHERE dentry_id BETWEEN :first AND :last)", p),
        ("DELETE FROM dentry_versions WHERE dentry_id BETWEEN :first AND :last", p),
        ("DELETE FROM app_properties WHERE dentry_id BETWEEN :first AND :last", p),
        ("DELETE FROM dentries WHERE id BETWEEN :first AND :last", p),
        ("UPDATE spaces SET used_quota = used_quota - :stored WHERE id = :b", p),
    ])  # fmt: skip
    for space, want in ((space_a, tree.nodes), (space_b, 0)):
        got = db.one("SELECT count(*) FROM dentries WHERE space_id = :space", space=space)
        if got != want:
            raise BenchError(f"the SQL floor left {got} rows in space {space}, not {want}")
    db.execute(
        "INSERT INTO dentries (id, space_id, parent_id, name, type, size, status, uuid, "
        "creator_id, modifier_id, created_at, modified_at) SELECT :dest, :a, 0, 'dest', "
        "'FOLDER', 0, 'NORMAL', 'floor-dest', creator_id, modifier_id, :now, :now "
        "FROM dentries WHERE id = :copy_root",
        **p,
    )
    floors[MOVE_WITHIN] = db.timed([
        ("UPDATE dentries SET parent_id = :dest, modified_at = :now WHERE id = :copy_root", p),
    ])  # fmt: skip
    floors[RECYCLE] = db.timed([
        ("UPDATE dentries SET status = 'DELETED', deleted_at = :now WHERE id = :copy_root", p),
        ("INSERT INTO recycle_items (id, corp_id, space_id, dentry_id, type, "
         "original_parent_id, original_name, original_path, size, operator_id, operator_time) "
         "SELECT :item, s.corp_id, :a, :copy_root, 'FOLDER', :dest, d.name, "
         "'/dest/' || d.name, :stored, d.modifier_id, :now FROM dentries d "
         "JOIN spaces s ON s.id = d.space_id WHERE d.id = :copy_root", p),
    ])  # fmt: skip
    return floors


def make_disk_tree(root: Path, nodes: int) -> None:
    """The tree as directories and 1 KiB files, written and synced."""
    payload = b"x" * FILE_SIZE
    root.mkdir()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for n, count in enumerate(shape(nodes)):
        folder = root / f"folder-{n:04d}"
        folder.mkdir()
        for k in range(count):
            fd = os.open(folder / f"file-{k:03d}.txt", flags, 0o644)
            try:
                os.write(fd, payload)
            finally:
                os.close(fd)
    os.sync()


def disk_floors(work: Path, nodes: int) -> dict[str, float]:
    """``cp -r``, ``mv`` (a rename) and ``rm -rf`` of the tree on disk: the best of up to
    ``DISK_ROUNDS`` rounds (as many as fit in ``DISK_BUDGET_S``), each after a ``sync``: the
    disk's speed with many small files swings widely with pending writeback."""
    source, copy, elsewhere = work / "tree", work / "copy", work / "elsewhere"
    work.mkdir()
    make_disk_tree(source, nodes)
    elsewhere.mkdir()
    found = sum(1 for _ in source.rglob("*")) + 1
    if found != nodes:
        raise BenchError(f"the disk tree has {found} entries, not {nodes}")

    def run(*cmd: str | Path) -> float:
        started = time.perf_counter()
        subprocess.run([str(c) for c in cmd], check=True)
        return time.perf_counter() - started

    copied: list[float] = []
    moved: list[float] = []
    removed: list[float] = []
    started = time.perf_counter()
    try:
        while len(copied) < DISK_ROUNDS and time.perf_counter() - started < DISK_BUDGET_S:
            os.sync()
            copied.append(run("cp", "-r", source, copy))
            moved.append(run("mv", copy, elsewhere / "copy"))
            removed.append(run("rm", "-rf", elsewhere / "copy"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    cp, mv, rm = min(copied), min(moved), min(removed)
    return {COPY: cp, MOVE_ACROSS: mv, MOVE_WITHIN: mv, RECYCLE: mv, PURGE: rm}


# --- one operation on one fresh store ----------------------------------------------------------


@contextlib.contextmanager
def fresh_store(
    args: argparse.Namespace, tmp: Path, name: str
) -> Iterator[tuple[Path, str | None]]:
    """A data dir, and for postgres a fresh database; both gone when the block ends."""
    data_dir = tmp / name
    try:
        if args.backend == "postgres":
            with pg_database(args.pg_url) as url:
                yield data_dir, url
        else:
            yield data_dir, None
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def processes(args: argparse.Namespace, data_dir: Path, url: str | None, port: int) -> list[Server]:
    """The API server first, then (postgres) the worker processes, with the run's settings."""
    server = dingstore_server(data_dir, port, url, label="dingstore serve")
    if url is None:
        extra = [] if args.workers is None else ["--workers", str(args.workers)]
        shape = [dataclasses.replace(server, cmd=server.cmd + extra)]
    else:
        shape = [dataclasses.replace(server, cmd=[*server.cmd, "--no-workers"])]
        shape += [dingstore_worker(data_dir, url, f"worker {n}") for n in range(args.workers or 1)]
    if args.chunk is not None:
        shape = [dataclasses.replace(p, env={**p.env, "DINGSTORE_TASK_CHUNK": str(args.chunk)})
                 for p in shape]  # fmt: skip
    return shape


def wait_listening(db: Sql, workers: list[subprocess.Popen[bytes]]) -> None:
    """Every worker process holds its listening connection (it is up, migrated and waiting)."""
    from dingstore.store.postgres import LISTENER_NAME

    sql = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND application_name = :name"
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while db.one(sql, name=LISTENER_NAME) < len(workers):
        if any(w.poll() is not None for w in workers):
            raise BenchError("a worker process exited while starting")
        if time.monotonic() > deadline:
            raise BenchError(f"the workers did not listen within {READY_TIMEOUT_S:g} s")
        time.sleep(0.05)


@contextlib.contextmanager
def profiling(args: argparse.Namespace, pids: dict[str, int], name: str) -> Iterator[None]:
    """py-spy recording each process while the block runs, when ``--profile`` asks for it:
    ``DIR/<name>.txt`` for a lone server, ``DIR/<name>-<process>.txt`` for several."""
    if args.profile is None:
        yield
        return
    exe = Path(sys.executable).with_name("py-spy")
    args.profile.mkdir(parents=True, exist_ok=True)
    spies: list[tuple[subprocess.Popen[bytes], Path]] = []
    for label, pid in pids.items():
        stem = name if len(pids) == 1 else f"{name}-{label.replace(' ', '-')}"
        target, log = args.profile / f"{stem}.txt", args.profile / f"{stem}.log"
        cmd = [str(exe) if exe.exists() else "py-spy", "record", "--pid", str(pid)]
        cmd += ["--format", "raw", "--threads", "--nonblocking", "--rate", "200", "-o", str(target)]
        with log.open("wb") as spy_log:
            spies.append((subprocess.Popen(cmd, stdout=spy_log, stderr=subprocess.STDOUT), target))
    try:
        time.sleep(1.0)  # let them attach
        for spy, target in spies:
            if spy.poll() is not None:
                log = target.with_suffix(".log")
                raise BenchError(f"py-spy exited ({spy.returncode}): {log.read_text()[-500:]}")
        yield
    finally:
        for spy, target in spies:
            spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait()
            err.print(f"[dim]profile: {target}[/dim]")


def measure(
    args: argparse.Namespace, tmp: Path, data_dir: Path, url: str | None, op: str, nodes: int
) -> tuple[Outcome, Tree]:
    """Seed a store with the tree, start its processes, run the operation, check the store."""
    port = free_port()
    store = asyncio.run(seed(data_dir, url, port, op, nodes, args.parallel))
    trees = store.trees
    headers = {TOKEN_HEADER: store.tenant.token}
    shape = processes(args, data_dir, url, port)
    server = shape[0]
    with contextlib.ExitStack() as started:
        procs: dict[str, subprocess.Popen[bytes]] = {}
        for p in shape:
            log = tmp / f"{p.label.replace(' ', '-')}-{op}-{nodes}.log"
            procs[p.label] = started.enter_context(running(p, log))
        proc = procs[server.label]
        wait_ready(proc, server.base_url + server.ready_path, headers)
        db = open_sql(data_dir, url)
        started.callback(db.close)
        if url is not None:
            wait_listening(db, [p for label, p in procs.items() if label != server.label])
        timeout = httpx.Timeout(max(60.0, args.timeout))
        with httpx.Client(base_url=server.base_url, headers=headers, timeout=timeout) as client:
            api = Api(client, store.tenant.union_id)
            space = f"/v1.0/storage/spaces/{trees[0].space_id}"
            client.get(space, params=api.query).raise_for_status()
            with profiling(args, {label: p.pid for label, p in procs.items()}, f"{op}-{nodes}"):
                outcome = perform(api, trees, args.timeout)
        for label, p in procs.items():
            if p.poll() is not None:
                raise BenchError(f"{label} exited ({p.returncode}) during the run")
        peaks = [peak_rss_bytes(p.pid) for p in procs.values()]
        outcome.server_peak_rss_bytes = max((b for b in peaks if b is not None), default=None)
        outcome.seed_s = store.seed_s
        check(db, trees, outcome)
    return outcome, trees[0]


def run_size(args: argparse.Namespace, tmp: Path, nodes: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    floors: dict[str, float] = {}
    for op in args.ops:
        err.print(f"[dim]{nodes:,} nodes: {LABELS[op]}[/dim]")
        with fresh_store(args, tmp, f"{op}-{nodes}") as (data_dir, url):
            outcome, tree = measure(args, tmp, data_dir, url, op, nodes)
            took = "timed out" if outcome.seconds is None else f"{outcome.seconds:.3f} s"
            err.print(f"[dim]  {took} (seeded in {outcome.seed_s:.1f} s)[/dim]")
            if op == COPY:  # the copy leaves the seeded tree in place: the floors work on it
                floors = floors_on(data_dir, url, tree)
        outcomes.append(outcome)
    if not floors:  # no copy in this run: a store seeded the same way, for the floors alone
        with fresh_store(args, tmp, f"floor-{nodes}") as (data_dir, url):
            store = asyncio.run(seed(data_dir, url, free_port(), COPY, nodes))
            floors = floors_on(data_dir, url, store.trees[0])
    err.print(f"[dim]{nodes:,} nodes: disk floors[/dim]")
    on_disk = disk_floors(tmp / f"disk-{nodes}", nodes)
    for outcome in outcomes:
        outcome.sql_floor_s = floors.get(outcome.op)
        outcome.disk_floor_s = on_disk[outcome.op]
    return outcomes


def floors_on(data_dir: Path, url: str | None, tree: Tree) -> dict[str, float]:
    db = open_sql(data_dir, url)
    try:
        return sql_floors(db, tree)
    finally:
        db.close()


# --- report ------------------------------------------------------------------------------------


def target_of(backend: str, op: str, nodes: int) -> float | None:
    if op in INSTANT_TARGET_S[backend]:
        return INSTANT_TARGET_S[backend][op]
    return BULK_TARGET_S[backend].get(op) if nodes == TARGET_SIZE else None


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(outcomes: list[Outcome], settings: dict[str, object]) -> dict[str, object]:
    if not out.is_terminal:
        out.width = TABLE_WIDTH
    backend = str(settings["backend"])
    table = Table(
        title=f"tree operations — {SHAPES[backend]} ({settings['workers']}), "
        "request → GetTask SUCCESS"
    )
    for column, justify in (
        ("operation", "left"),
        ("nodes", "right"),
        ("seconds", "right"),
        ("nodes/s", "right"),
        ("request", "right"),
        ("SQL floor", "right"),
        ("disk floor", "right"),
        ("target", "left"),
        ("checks", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    met: dict[str, bool] = {}
    rows: list[dict[str, object]] = []
    by_op = sorted(outcomes, key=lambda o: (OPS.index(o.op), o.nodes))
    for n, o in enumerate(by_op):
        target = target_of(backend, o.op, o.nodes) if o.parallel == 1 else None
        ok = None
        if target is not None:
            ok = o.seconds is not None and o.seconds <= target and o.verified
            met[f"{o.op}_{o.nodes}"] = ok
        rate = o.nodes_per_s
        seconds = f"{o.seconds:.3f}" if o.seconds is not None else "—"
        if o.timed_out:
            seconds = f"> {o.waited_s:.1f} ({o.success_count or 0:,} done)"
        table.add_row(
            LABELS[o.op],
            f"{o.nodes:,}" if o.parallel == 1 else f"{o.parallel} x {o.nodes:,}",
            seconds,
            "—" if rate is None else f"{rate:,.0f}",
            "—" if o.request_ms is None else f"{o.request_ms:.1f} ms",
            fmt_s(o.sql_floor_s),
            f"{fmt_s(o.disk_floor_s)} {DISK_FLOOR[o.op]}",
            "" if target is None else f"<= {fmt_s(target)} {verdict(bool(ok))}",
            "[green]ok[/green]" if o.verified else f"[red]{'; '.join(o.problems)}[/red]",
            end_section=n + 1 < len(by_op) and by_op[n + 1].op != o.op,
        )
        rows.append(
            {
                **asdict(o),
                "nodes_per_s": None if rate is None else round(rate, 1),
                "verified": o.verified,
                "target_s": target,
                "target_met": ok,
            }
        )
    out.print(table)
    peaks = [o.server_peak_rss_bytes for o in outcomes if o.server_peak_rss_bytes is not None]
    peak = max(peaks) if peaks else None
    largest = [
        o.server_peak_rss_bytes
        for o in outcomes
        if o.nodes == TARGET_SIZE and o.server_peak_rss_bytes is not None
    ]
    rss_ok = None
    if largest:
        rss_ok = max(largest) <= RSS_TARGET_BYTES
        met["server_peak_rss"] = rss_ok
    shown = "?" if peak is None else f"{peak / 1e6:,.0f} MB"
    target_text = (
        f" (target <= {RSS_TARGET_BYTES / 1e6:.0f} MB at {TARGET_SIZE:,}: {verdict(rss_ok)})"
        if rss_ok is not None
        else ""
    )
    out.print(
        f"peak RSS of a dingstore process, largest of the runs: [bold]{shown}[/bold]{target_text}"
    )
    for o in by_op:
        rss = "?" if o.server_peak_rss_bytes is None else f"{o.server_peak_rss_bytes / 1e6:,.0f}"
        task = "—" if o.task_ms is None else f"{o.task_ms}"
        begun = "—" if o.start_ms is None else f"{o.start_ms}"
        out.print(
            f"  {LABELS[o.op]:<24} {o.nodes:>7,}: peak RSS {rss} MB, task {task} ms "
            f"(created → begun {begun} ms), {o.polls} polls, seeded in {o.seed_s:.1f} s"
        )
    return {
        "settings": settings,
        "results": rows,
        "server_peak_rss_bytes": peak,
        "all_verified": all(o.verified for o in outcomes),
        "targets": {
            "bulk_max_s_at_100k": BULK_TARGET_S[backend],
            "instant_max_s": INSTANT_TARGET_S[backend],
            "server_peak_rss_max_bytes": RSS_TARGET_BYTES,
            "met": met,
        },
    }


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    import dingstore

    tmp = temp_dir(stack, prefix="dingstore-tree-ops-")
    started = time.perf_counter()
    outcomes: list[Outcome] = []
    for nodes in args.sizes:
        outcomes.extend(run_size(args, tmp, nodes))
    if args.backend == "postgres":
        n = args.workers or 1
        workers = f"{n} worker process{'es' if n > 1 else ''}, one task at a time each"
    else:
        workers = f"serve --workers {args.workers}" if args.workers else "2 workers, the default"
    settings: dict[str, object] = {
        "backend": args.backend,
        "sizes": args.sizes,
        "ops": args.ops,
        "workers": workers,
        "parallel": args.parallel,
        "task_chunk": args.chunk if args.chunk is not None else "server default (1000)",
        "timeout_s": args.timeout,
        "poll_s": POLL_S,
        "file_size": FILE_SIZE,
        "children_per_folder": CHILDREN,
        "blobs": "one row per file, refcount 1; bytes not written",
        "dingstore_source": str(Path(dingstore.__file__).parent),
        "run_s": round(time.perf_counter() - started, 1),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        **({"postgres": pg_version(args.pg_url)} if args.backend == "postgres" else {}),
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(outcomes, settings)


def pg_version(pg_url: str) -> str:
    db = PostgresSql(admin_url(pg_url))
    try:
        return str(db.one("SHOW server_version"))
    finally:
        db.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scrub_environment()
    exit_on_sigterm()
    with contextlib.ExitStack() as stack:
        try:
            results = run(args, stack)
        except BenchError as exc:
            err.print(f"[red]benchmark failed:[/red] {exc}")
            return 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted; cleaning up[/yellow]")
            return 130
    name = "tree_ops" if args.backend == "sqlite" else f"tree_ops-postgres-w{args.workers or 1}"
    write_results(name if args.parallel == 1 else f"{name}-p{args.parallel}", results)
    return 0 if results["all_verified"] else 1


if __name__ == "__main__":
    sys.exit(main())
