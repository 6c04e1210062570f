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

The tree, its seeding and the checks are ``trees.py``'s: a root folder, subfolders of ~100
files of 1 KiB, each file with its own blob and one version, inserted straight into the tables.

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

Targets (issue 14): at 100,000 nodes, copy, move across spaces and permanent delete within 2x
the SQL floor of the same run on SQLite, 2.5x on PostgreSQL; move within a space and delete to
the recycle bin <= 50 ms at every size; created -> begun <= 30 ms; peak RSS of every dingstore
process <= 300 MB at 100,000 and <= 150 MB during a 1,000,000-node copy on SQLite
(``--sizes 1000000 --ops copy --no-disk-floor``). Results are printed and
written to ``bench/results/tree_ops.json`` (``tree_ops-postgres.json`` for PostgreSQL).

Run: ``.venv/bin/python bench/tree_ops.py [--backend sqlite|postgres] [--pg-url URL]
[--sizes 1000,10000,100000] [--ops copy,…] [--workers N] [--parallel K] [--chunk N]
[--timeout 60] [--profile DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import common
import stores
import trees
from common import BenchError, Tenant, err, out, verdict
from rich.table import Table
from trees import COPY, LABELS, MOVE_ACROSS, MOVE_WITHIN, OPS, PURGE, RECYCLE, Outcome, Tree

DISK_ROUNDS, DISK_BUDGET_S = 3, 10.0
DISK_FLOOR = {COPY: "cp -r", MOVE_ACROSS: "mv", MOVE_WITHIN: "mv", RECYCLE: "mv", PURGE: "rm -rf"}

TARGET_SIZE = 100_000
BULK_TARGET_RATIO = {  # at TARGET_SIZE: seconds / the SQL floor's, same run (issue 14)
    "sqlite": {COPY: 2.0, MOVE_ACROSS: 2.0, PURGE: 2.0},
    "postgres": {COPY: 2.5, MOVE_ACROSS: 2.5, PURGE: 2.5},
}
INSTANT_TARGET_S = {MOVE_WITHIN: 0.050, RECYCLE: 0.050}  # every size, both backends
BEGIN_TARGET_MS = 30  # created -> begun, every size
# Peak RSS of every dingstore process: at TARGET_SIZE, and during a copy of BIG_SIZE on SQLite
# (``--sizes 1000000 --ops copy``).
BIG_SIZE = 1_000_000
BIG_RSS_TARGET_BYTES = 150 * 1_000_000
RSS_TARGET_BYTES = 300 * 1_000_000
SHAPES = {
    "sqlite": "embedded SQLite, dingstore serve with its task workers",
    "postgres": "PostgreSQL, dingstore serve --no-workers + dingstore worker processes",
}


@dataclass(frozen=True)
class Store:
    tenant: Tenant
    trees: list[Tree]  # one per operation sent at once (``--parallel``), each in its own spaces
    seed_s: float


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="tree sizes in nodes (root, subfolders and files), comma-separated",
    )
    common.add_backend_args(parser)
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
        "--no-disk-floor",
        dest="disk_floor",
        action="store_false",
        help="skip the disk floor (writing a 1M-node tree as files takes minutes)",
    )
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


async def seed(
    data_dir: Path, database_url: str | None, port: int, op: str, nodes: int, parallel: int = 1
) -> Store:
    """A fresh store: the bootstrap tenant, and ``parallel`` times the spaces ``op`` needs and
    its tree."""
    started = time.perf_counter()
    async with common.fresh_services(data_dir, port, database_url) as (svc, tenant):
        actor = await common.actor(svc, tenant)
        made = [await trees.seed_tree(svc, actor, tenant, op, nodes, k) for k in range(parallel)]
        await common.analyze(svc)
    return Store(tenant, made, time.perf_counter() - started)


# --- floors ------------------------------------------------------------------------------------


def sql_floors(db: stores.Sql, tree: Tree) -> dict[str, float]:
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
    payload = b"x" * trees.FILE_SIZE
    root.mkdir()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    for n, count in enumerate(trees.shape(nodes)):
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
    port = common.free_port()
    store = asyncio.run(seed(data_dir, url, port, op, nodes, args.parallel))
    shape = stores.processes(data_dir, url, port, workers=args.workers, chunk=args.chunk)
    name = f"{op}-{nodes}"
    outcome = trees.operate(
        shape, tmp, name, data_dir, url, store.tenant, store.trees, args.timeout,
        around=lambda pids: profiling(args, pids, name),
    )  # fmt: skip
    outcome.seed_s = store.seed_s
    return outcome, store.trees[0]


def run_size(args: argparse.Namespace, tmp: Path, nodes: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    floors: dict[str, float] = {}
    for op in args.ops:
        err.print(f"[dim]{nodes:,} nodes: {LABELS[op]}[/dim]")
        with stores.fresh_store(args, tmp, f"{op}-{nodes}") as (data_dir, url):
            outcome, tree = measure(args, tmp, data_dir, url, op, nodes)
            took = "timed out" if outcome.seconds is None else f"{outcome.seconds:.3f} s"
            err.print(f"[dim]  {took} (seeded in {outcome.seed_s:.1f} s)[/dim]")
            if op == COPY:  # the copy leaves the seeded tree in place: the floors work on it
                floors = floors_on(data_dir, url, tree)
        outcomes.append(outcome)
    if not floors:  # no copy in this run: a store seeded the same way, for the floors alone
        with stores.fresh_store(args, tmp, f"floor-{nodes}") as (data_dir, url):
            store = asyncio.run(seed(data_dir, url, common.free_port(), COPY, nodes))
            floors = floors_on(data_dir, url, store.trees[0])
    on_disk: dict[str, float] = {}
    if args.disk_floor:
        err.print(f"[dim]{nodes:,} nodes: disk floors[/dim]")
        on_disk = disk_floors(tmp / f"disk-{nodes}", nodes)
    for outcome in outcomes:
        outcome.sql_floor_s = floors.get(outcome.op)
        outcome.disk_floor_s = on_disk.get(outcome.op)
    return outcomes


def floors_on(data_dir: Path, url: str | None, tree: Tree) -> dict[str, float]:
    db = stores.open_sql(data_dir, url)
    try:
        return sql_floors(db, tree)
    finally:
        db.close()


# --- report ------------------------------------------------------------------------------------


def target_of(backend: str, o: Outcome) -> tuple[str, bool] | None:
    """The target the outcome is held to, as text, and whether it met it (None: none)."""
    if o.parallel != 1:
        return None
    if o.op in INSTANT_TARGET_S:
        limit = INSTANT_TARGET_S[o.op]
        return f"<= {fmt_s(limit)}", o.seconds is not None and o.seconds <= limit
    ratio = BULK_TARGET_RATIO[backend].get(o.op) if o.nodes == TARGET_SIZE else None
    if ratio is None:
        return None
    got = o.floor_ratio
    return f"<= {ratio:g}x floor", got is not None and got <= ratio


def fmt_s(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def report(outcomes: list[Outcome], settings: dict[str, object]) -> dict[str, object]:
    common.widen_output()
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
        ("x floor", "right"),
        ("disk floor", "right"),
        ("target", "left"),
        ("checks", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    met: dict[str, bool] = {}
    rows: list[dict[str, object]] = []
    by_op = sorted(outcomes, key=lambda o: (OPS.index(o.op), o.nodes))
    for n, o in enumerate(by_op):
        target = target_of(backend, o)
        ok = None
        if target is not None:
            ok = target[1] and o.verified
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
            "—" if o.floor_ratio is None else f"{o.floor_ratio:.2f}",
            "—" if o.disk_floor_s is None else f"{fmt_s(o.disk_floor_s)} {DISK_FLOOR[o.op]}",
            "" if target is None else f"{target[0]} {verdict(bool(ok))}",
            "[green]ok[/green]" if o.verified else f"[red]{'; '.join(o.problems)}[/red]",
            end_section=n + 1 < len(by_op) and by_op[n + 1].op != o.op,
        )
        rows.append(
            {
                **asdict(o),
                "nodes_per_s": None if rate is None else round(rate, 1),
                "floor_ratio": o.floor_ratio,
                "verified": o.verified,
                "target": None if target is None else target[0],
                "target_met": ok,
            }
        )
    out.print(table)
    peaks = [o.server_peak_rss_bytes for o in outcomes if o.server_peak_rss_bytes is not None]
    peak = max(peaks) if peaks else None
    rss_checks = [  # (label, the largest peak among the outcomes it covers, its limit)
        (f"at {size:,}", max(peaks_of), limit)
        for size, limit, covered in (
            (TARGET_SIZE, RSS_TARGET_BYTES, lambda o: o.nodes == TARGET_SIZE),
            (BIG_SIZE, BIG_RSS_TARGET_BYTES, lambda o: o.nodes >= BIG_SIZE and o.op == COPY),
        )
        if (
            peaks_of := [
                o.server_peak_rss_bytes
                for o in outcomes
                if covered(o) and o.server_peak_rss_bytes is not None
            ]
        )
        and (backend == "sqlite" or size == TARGET_SIZE)
    ]
    shown = "?" if peak is None else f"{peak / 1e6:,.0f} MB"
    verdicts = []
    for label, largest, limit in rss_checks:
        met[f"server_peak_rss_{label.split()[-1].replace(',', '')}"] = largest <= limit
        verdicts.append(
            f"{largest / 1e6:,.0f} MB {label}, target <= {limit / 1e6:.0f} MB: "
            f"{verdict(largest <= limit)}"
        )
    target_text = f" ({'; '.join(verdicts)})" if verdicts else ""
    out.print(
        f"peak RSS of a dingstore process, largest of the runs: [bold]{shown}[/bold]{target_text}"
    )
    for o in by_op:
        rss = "?" if o.server_peak_rss_bytes is None else f"{o.server_peak_rss_bytes / 1e6:,.0f}"
        task = "—" if o.task_ms is None else f"{o.task_ms}"
        begun = "—" if o.start_ms is None else f"{o.start_ms}"
        if o.start_ms is not None and o.op not in INSTANT_TARGET_S and o.parallel == 1:
            met[f"begun_{o.op}_{o.nodes}"] = o.start_ms <= BEGIN_TARGET_MS
            begun += f" ms, target <= {BEGIN_TARGET_MS}: {verdict(o.start_ms <= BEGIN_TARGET_MS)}"
        else:
            begun += " ms"
        out.print(
            f"  {LABELS[o.op]:<24} {o.nodes:>7,}: peak RSS {rss} MB, task {task} ms "
            f"(created → begun {begun}), {o.polls} polls, seeded in {o.seed_s:.1f} s"
        )
    return {
        "settings": settings,
        "results": rows,
        "server_peak_rss_bytes": peak,
        "all_verified": all(o.verified for o in outcomes),
        "targets": {
            "bulk_max_floor_ratio_at_100k": BULK_TARGET_RATIO[backend],
            "instant_max_s": INSTANT_TARGET_S,
            "created_to_begun_max_ms": BEGIN_TARGET_MS,
            "server_peak_rss_max_bytes": RSS_TARGET_BYTES,
            "server_peak_rss_max_bytes_1m_copy": BIG_RSS_TARGET_BYTES,
            "met": met,
        },
    }


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    import dingstore

    tmp = common.temp_dir(stack, prefix="dingstore-tree-ops-")
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
        "disk_floor": args.disk_floor,
        "poll_s": trees.POLL_S,
        "file_size": trees.FILE_SIZE,
        "children_per_folder": trees.CHILDREN,
        "blobs": "one row per file, refcount 1; bytes not written",
        "dingstore_source": str(Path(dingstore.__file__).parent),
        "run_s": round(time.perf_counter() - started, 1),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        **({"postgres": stores.pg_version(args.pg_url)} if args.backend == "postgres" else {}),
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **common.git_revision(),
    }
    return report(outcomes, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = "tree_ops" if args.backend == "sqlite" else f"tree_ops-postgres-w{args.workers or 1}"
    name = name if args.parallel == 1 else f"{name}-p{args.parallel}"
    return common.run_benchmark(lambda stack: run(args, stack), name)


if __name__ == "__main__":
    sys.exit(main())
