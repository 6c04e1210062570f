"""Chaos: SIGKILL dingstore's processes at random moments while the task engine copies, moves,
deletes, restores and purges a 20k-node tree, restart each one killed, and check afterwards
that nothing was lost or done twice.

Both shapes: ``--backend sqlite`` (embedded: ``dingstore serve`` with its own workers, SQLite,
local files) and ``--backend postgres`` (scale-out: ``serve --no-workers`` and two ``dingstore
worker`` processes on a fresh PostgreSQL database, blobs in S3 — moto's server on loopback,
started here). A cycle over the seeded tree T in space A, each step a task:

    copy A/T → B    move B/T → C    recycle C/T    restore it    purge C/T (permanently)

Kills land while a task runs (each waits until a live process holds its lease, lets it work
0.05-0.6 s and kills a process: the lease holder mostly, on postgres at times the API or the
other worker) — ``--per-task`` of them per copy, move and purge — and inside the recycle and
restore requests (the API killed 0-150 ms after the call; the call is made again if it did not
take). Cycles repeat until ``--kills`` kills. After every step its tasks must have ended SUCCESS
with exact counts, and the spaces hold exactly what they should (trees and quotas); at the end
the whole store must keep every invariant of ``tests/engine/trees.py`` (tree, sizes, quotas,
blob references, no task left running or leaving rows behind).

    python bench/chaos.py [--backend sqlite|postgres] [--kills 50] [--nodes 20000] [--seed N]

Prints kills, tasks and problems found; exits 1 when a problem was found. Results:
``bench/results/chaos-<backend>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import common
import sqlalchemy as sa
import stores
from common import out

sys.path.insert(0, str(common.BENCH_DIR.parent))  # the tests' helpers: processes, invariants

from dingstore.settings import Settings
from tests import polling
from tests.engine import crashes, trees
from tests.live import DingstoreProcess, Sdk
from tests.storage import Storage

ENDED = ("SUCCESS", "FAIL")
STEPS = ("copy", "move", "recycle", "restore", "purge")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_backend_args(parser)
    parser.add_argument("--kills", type=int, default=50, help="kills at least (default 50)")
    parser.add_argument("--nodes", type=int, default=20_000, help="nodes of the tree T")
    parser.add_argument("--per-task", type=int, default=4, help="kills per copy, move, purge")
    parser.add_argument("--chunk", type=int, default=crashes.CHUNK, help="nodes a step settles")
    parser.add_argument("--seed", type=int, default=None, help="the random seed (default: new)")
    parser.add_argument(
        "--budget", type=float, default=540, help="seconds of kills at most (default 540)"
    )
    return parser.parse_args(argv)


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)  # by where: mid-task, mid-request...
    victims: Counter[str] = field(default_factory=Counter)  # by process
    tasks: Counter[str] = field(default_factory=Counter)  # by kind
    steps: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.kills.values())


class Chaos:
    """The store, its processes and the tree, and the cycle run over them with kills."""

    def __init__(self, args: argparse.Namespace, store: trees.Store, procs: Procs) -> None:
        self.args, self.store, self.procs = args, store, procs
        self.rng = random.Random(args.seed)
        self.tally = Tally()
        services = store.services
        self.acct = store.run(trees.new_account(services))
        self.a, self.b, self.c = (store.run(trees.new_space(services, self.acct, n)) for n in "abc")
        self.t = store.run(trees.seed_tree(services, self.acct, self.a, "t", args.nodes))
        # bystanders the steps must leave alone
        self.kept_b = store.run(trees.seed_tree(services, self.acct, self.b, "kb", 60, fanout=8))
        self.kept_c = store.run(trees.seed_tree(services, self.acct, self.c, "kc", 60, fanout=8))
        store.run(trees.analyze_tables(services))
        self.before = {s: self.tree(s) for s in (self.a, self.b, self.c)}
        self.moved = [e for e in self.before[self.a] if e[0].startswith("/t")]
        self.copy_id = 0  # the copy of T, once made
        sdk = Sdk(procs.api.endpoint)
        self.st = Storage(None, sdk, self.acct.token, self.acct.union_id)  # type: ignore[arg-type]
        self.bin = self.st.get_recycle_bin(self.acct.actor.corp_id).id

    # --- the store ----------------------------------------------------------------------------

    def tree(self, space: int) -> list[trees.Entry]:
        return self.store.run(trees.tree(self.store.db, space))

    def quota(self, space: int) -> int:
        return self.store.run(trees.used_quota(self.store.db, space))

    def rows(self) -> dict[int, Any]:
        return self.store.run(trees.task_rows(self.store.db))

    def copy_of_t(self, space: int) -> int:
        d = trees.d
        clause = (d.c.space_id == space) & (d.c.parent_id == 0) & (d.c.name == "t")
        found = self.store.run(self._ids(clause & (d.c.status == "NORMAL")))
        return found[0] if found else 0

    async def _ids(self, clause: Any) -> list[int]:
        async with self.store.db.read() as conn:
            found = await conn.execute(sa.select(trees.d.c.id).where(clause))
            return [int(i) for i in found.scalars()]

    # --- kills ----------------------------------------------------------------------------------

    def kill(self, victim: DingstoreProcess, where: str) -> None:
        victim.kill()
        self.tally.kills[where] += 1
        self.tally.victims[victim.name] += 1
        victim.start()
        if victim.port is not None:
            victim.wait_ready(timeout=30, interval=0.02)

    def kill_in_tasks(self, tasks: set[int]) -> None:
        """Kill a process ``--per-task`` times while one of ``tasks`` runs (fewer if they end)."""
        for _ in range(self.args.per_task):
            rows = self.rows()
            running = [rows[i] for i in tasks if rows[i].status not in ENDED]
            if not running:
                return
            with contextlib.suppress(AssertionError):  # a lease still the dead one's: kill on
                polling.until(
                    lambda: self.held(tasks) or self.ended(tasks),
                    timeout=crashes.LEASE + 5,
                    interval=0.01,
                )
            time.sleep(self.rng.uniform(0.05, 0.6))
            holders = self.held(tasks) or []
            others = [p for p in self.procs.all if p not in holders]
            pool = holders if holders and (self.rng.random() < 0.7 or not others) else others
            victim = self.rng.choice(pool or self.procs.all)
            self.kill(victim, "mid-task" if victim in holders else "beside a task")

    def ended(self, tasks: set[int]) -> bool:
        rows = self.rows()
        return all(rows[i].status in ENDED for i in tasks)

    def held(self, tasks: set[int]) -> list[DingstoreProcess] | None:
        """The live processes holding a lease of ``tasks`` (None if none, or all ended)."""
        rows = self.rows()
        live = [rows[i] for i in tasks if rows[i].status not in ENDED]
        found = [p for p in self.procs.all if any(crashes.owned_by(r, p.pid) for r in live)]
        return found or None

    def call_killed(self, call: Callable[[], Any]) -> None:
        """``call`` in a thread, the API killed 0-150 ms into it (and started again)."""

        def calling() -> None:
            with contextlib.suppress(Exception):  # the server died under it
                call()

        caller = threading.Thread(target=calling)
        caller.start()
        time.sleep(self.rng.uniform(0.0, 0.15))
        self.kill(self.procs.api, "mid-request")
        caller.join()

    # --- the cycle ------------------------------------------------------------------------------

    def step(self, name: str) -> None:
        known = set(self.rows())
        st, a, b, c = self.st, str(self.a), str(self.b), str(self.c)
        if name == "copy":
            st.copy(a, str(self.t.root_id), b)
        elif name == "move":
            st.move(b, str(self.copy_id), c)
        elif name == "recycle":
            self.call_killed(lambda: st.delete(c, str(self.copy_id), to_recycle_bin=True))
            if self.copy_of_t(self.c):  # the call did not take: again
                st.delete(c, str(self.copy_id), to_recycle_bin=True)
        elif name == "restore":
            (item,) = [i for i in st.recycle_items(self.bin) if i.dentry_id == str(self.copy_id)]
            self.call_killed(lambda: st.restore_recycle_item(self.bin, item.id))
            if not self.copy_of_t(self.c):
                st.restore_recycle_item(self.bin, item.id)
        elif name == "purge":
            st.delete(c, str(self.copy_id), to_recycle_bin=False)
        tasks = set(self.rows()) - known
        if name in ("copy", "move", "purge"):
            self.kill_in_tasks(tasks)
        self.check(name, tasks)
        if name == "copy":
            self.copy_id = self.copy_of_t(self.b)

    def check(self, name: str, tasks: set[int]) -> None:
        """Every task of the step ended exactly; the spaces hold what they should."""
        found = self.tally.problems
        try:
            polling.until(lambda: self.ended(tasks), timeout=180)
        except AssertionError:
            found.append(f"{name}: a task did not end within 180 s")
        rows = self.rows()
        n = self.args.nodes
        for i in sorted(tasks):
            row = rows[i]
            self.tally.tasks[row.kind] += 1
            counts = (row.status, row.total_count, row.success_count, row.fail_count)
            if counts != ("SUCCESS", n, n, 0):
                found.append(f"{name}: task {i} ({row.kind}) ended {counts} {row.fail_message}")
        if not tasks:
            found.append(f"{name}: no task was made")
        t_in = {"copy": self.b, "move": self.c, "restore": self.c}.get(name)
        for space, kept in ((self.b, self.kept_b), (self.c, self.kept_c)):
            want = sorted(self.before[space] + (self.moved if space == t_in else []))
            if self.tree(space) != want:
                found.append(f"{name}: space {space} does not hold what it should")
            if name != "recycle":
                quota = kept.stored + (self.t.current if space == t_in else 0)
                if self.quota(space) != quota:
                    found.append(f"{name}: space {space} usedQuota {self.quota(space)} != {quota}")
        self.tally.steps[name] += 1

    def run(self) -> None:
        ends = time.monotonic() + self.args.budget
        while self.tally.total < self.args.kills and time.monotonic() < ends:
            for name in STEPS:
                self.step(name)
                common.err.print(
                    f"[dim]{name}: {self.tally.total} kills, "
                    f"{len(self.tally.problems)} problems[/dim]"
                )

    def final_check(self) -> None:
        found = self.tally.problems
        if self.tree(self.a) != self.before[self.a] or self.quota(self.a) != self.t.stored:
            found.append("the source space changed")
        found += [f"at the end: {p}" for p in self.store.run(trees.problems(self.store.db))]


@dataclass
class Procs:
    """The processes of the shape: the API first."""

    api: crashes.Server
    workers: list[crashes.Worker]

    @property
    def all(self) -> list[DingstoreProcess]:
        return [self.api, *self.workers]


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    began = time.monotonic()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    tmp = common.temp_dir(stack)
    data_dir, url = stack.enter_context(stores.fresh_store(args, tmp, "chaos"))
    data_dir.mkdir(parents=True, exist_ok=True)
    blob_url = None
    if args.backend == "postgres":
        from tests.s3 import ENVIRONMENT, MotoS3

        os.environ.update(ENVIRONMENT)
        moto = MotoS3()
        stack.callback(moto.stop)
        blob_url = moto.url(moto.new_bucket())
    database_url = url or f"sqlite+aiosqlite:///{data_dir / 'dingstore.db'}"
    store = trees.Store(Settings(data_dir=data_dir, database_url=database_url, blob_url=blob_url))
    stack.callback(store.close)
    # embedded: the server runs the tasks; scale-out: two worker processes do
    workers = 2 if url is None else 0
    api = crashes.Server(data_dir, database_url, blob_url=blob_url, workers=workers,
                         chunk=args.chunk)  # fmt: skip
    procs = Procs(api, [
        crashes.Worker(data_dir, database_url, n, blob_url=blob_url, chunk=args.chunk)
        for n in range(2 - workers)
    ])  # fmt: skip
    for p in procs.all:
        stack.callback(p.kill)
        p.start()
    chaos = Chaos(args, store, procs)
    seeded = time.monotonic()
    chaos.run()
    chaos.final_check()
    for p in procs.all:
        try:
            code = p.stop()
        except AssertionError:  # crashes.Server.stop: not stopped cleanly
            code = -1
        if code not in (0, -signal.SIGTERM):
            chaos.tally.problems.append(f"{p.name} did not stop cleanly ({code}):\n{p.log()}")
    wall = time.monotonic() - began
    return report(args, chaos.tally, seeded - began, wall)


def report(
    args: argparse.Namespace, tally: Tally, seeding_s: float, wall_s: float
) -> dict[str, Any]:
    shape = "embedded (SQLite, files)" if args.backend == "sqlite" else "scale-out (PostgreSQL, S3)"
    if tally.total < args.kills:
        tally.problems.append(f"only {tally.total} kills within the budget")
    out.print(f"[bold]chaos, {shape}[/bold]: seed {args.seed}, T = {args.nodes:,} nodes")
    out.print(f"kills      {tally.total} ({dict(tally.kills)}; by process {dict(tally.victims)})")
    out.print(
        f"tasks      {sum(tally.tasks.values())} ({dict(tally.tasks)}); steps {dict(tally.steps)}"
    )
    colour = "green" if not tally.problems else "red"
    out.print(f"problems   [{colour}]{len(tally.problems)}[/{colour}]")
    for problem in tally.problems[:20]:
        out.print(f"  {problem}")
    out.print(f"wall time  {wall_s:.0f} s (seeding {seeding_s:.0f} s)")
    return {
        "backend": args.backend,
        "seed": args.seed,
        "nodes": args.nodes,
        "chunk": args.chunk,
        "per_task": args.per_task,
        "kills": tally.total,
        "kills_by_moment": dict(tally.kills),
        "kills_by_process": dict(tally.victims),
        "tasks": sum(tally.tasks.values()),
        "tasks_by_kind": dict(tally.tasks),
        "steps": dict(tally.steps),
        "problems": tally.problems,
        "wall_s": round(wall_s, 1),
        "all_verified": not tally.problems,
        **common.git_revision(),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.widen_output()
    return common.run_benchmark(lambda stack: run(args, stack), f"chaos-{args.backend}")


if __name__ == "__main__":
    raise SystemExit(main())
