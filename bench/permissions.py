"""Benchmark what permission checks cost: reads deep in a tree and a big copy by a user whose
rights all come from grants, against the same calls where no grant needs reading.

What is measured
----------------
Against the real dingstore over loopback, with one keep-alive httpx client speaking the API the
way the official SDK does, on a fresh store of either shape (``--backend``, as in
``tree_ops.py``: ``stores.py``):

* **Reads at depth** — GetDentry, and ListDentries (one page of ``LISTED`` folders), of a folder
  ``--depth`` (20) levels down and of a folder at depth 1 holding as many children: ``--calls``
  (500) of each after ``WARMUP`` calls, every kind in turn; p50 and p99. The caller is a user of
  the org who is no admin and created nothing: they may read through an ``ORG`` READER grant on
  the space (dentry 0), a ``DEPT`` DOWNLOADER grant at level 5 (they are in the department, as
  ``dingstore admin group add`` puts them) and a ``USER`` EDITOR grant at level 12, among
  unrelated grants to other members (users, departments, tags, conversations) on every level
  and on ``--noise`` (200) nodes of a tree of ``BESIDE`` nodes in the same space. The admin's
  same calls (an implicit OWNER: no grant is read) are shown beside them. Target: depth
  ``--depth`` / depth 1 <= 1.5 for the user's p50 of each call.
* **Copy** — CopyDentry of a ``--nodes`` (100,000) node tree (``trees.py``'s) into another
  space's root, from the request to GetTask SUCCESS, by a user holding EDITOR through a ``DEPT``
  grant on both spaces, with other grants inside the tree (their own READER on its root, grants
  to other members on every tenth subfolder), against the same copy by the admin in a store with
  no grant. Every copy has a fresh store, and is checked on it as in ``tree_ops.py``;
  ``--repeat`` (3) copies of each, alternating which goes first; medians. Target: user / admin
  <= 1.3.

Before the reads are timed, BatchQueryRoles must give the user the roles their grants do, and
GetDentry by the user in another space, where they hold no grant, must be refused (403). When it
is not, dingstore does not enforce permissions yet: the run says so, and its figures measure
nothing.

Results are printed and written to ``bench/results/permissions.json``
(``permissions-postgres.json`` for PostgreSQL).

Run: ``.venv/bin/python bench/permissions.py [--backend sqlite|postgres] [--pg-url URL]
[--nodes 100000] [--calls 500] [--depth 20] [--noise 200] [--repeat 3] [--only reads|copy]
[--timeout 120]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import common
import httpx
import stores
import trees
from common import TOKEN_HEADER, BenchError, Tenant, err, out, verdict
from rich.table import Table

LISTED = 20  # children of each folder listed
WARMUP = 50  # calls of each kind before the timed ones
BESIDE = 1_000  # nodes of the tree beside the chain, whose nodes carry unrelated grants
OTHERS = 5  # other users of the org, named by unrelated grants
DEPT = "bench-dept"  # the department the user is in
GRANTED = {5: ("DEPT", "DOWNLOADER"), 12: ("USER", "EDITOR")}  # level: the user's grant there
ROLES = ("READER", "DOWNLOADER", "EDITOR", "MANAGER")
READS_TARGET, COPY_TARGET = 1.5, 1.3
GET, LIST = "GetDentry", "ListDentries"
USER, ADMIN = "user", "admin"


@dataclass(frozen=True)
class People:
    user: str  # unionId of the user whose rights come from grants
    others: list[str]


@dataclass(frozen=True)
class ReadsStore:
    tenant: Tenant
    people: People
    space_id: int
    chain: list[int]  # the folders of levels 1 to depth
    shallow: int  # a folder at depth 1 holding as many children as the deepest one
    private: tuple[int, int]  # a space where the user holds no grant, and a folder in it
    grants: int
    seed_s: float


@dataclass
class Reads:
    """One kind of read: its latencies, in ms."""

    call: str
    caller: str
    depth: int
    samples_ms: list[float] = field(default_factory=list)

    @property
    def p50(self) -> float:
        return common.nearest_rank(self.samples_ms, 50)

    @property
    def p99(self) -> float:
        return common.nearest_rank(self.samples_ms, 99)


@dataclass(frozen=True)
class CopyStore:
    tenant: Tenant
    caller: str
    tree: trees.Tree
    grants: int
    seed_s: float


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_backend_args(parser)
    parser.add_argument("--nodes", type=int, default=100_000, help="nodes of the copied tree")
    parser.add_argument("--calls", type=int, default=500, help="timed calls of each read")
    parser.add_argument("--depth", type=int, default=20, help="levels down to the deep folder")
    parser.add_argument(
        "--noise", type=int, default=200, help=f"nodes of a {BESIDE:,}-node tree beside the "
        "chain that carry unrelated grants",
    )  # fmt: skip
    parser.add_argument("--repeat", type=int, default=3, help="copies by each caller (median)")
    parser.add_argument("--only", choices=("reads", "copy"), help="run one part only")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds a copy may take before it is "
        "given up (its progress is reported)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.nodes < 3:
        parser.error("--nodes must be at least 3 (a root, a subfolder and a file)")
    if args.depth < max(GRANTED):
        parser.error(f"--depth must be at least {max(GRANTED)}: the user's grants sit there")
    if not 0 <= args.noise <= BESIDE:
        parser.error(f"--noise must be 0 to {BESIDE}")
    if args.calls < 1 or args.repeat < 1 or args.timeout <= 0:
        parser.error("--calls, --repeat and --timeout must be positive")
    return args


async def people(svc: Any, tenant: Tenant) -> People:
    """The user (in ``DEPT``) and the other users, none an admin."""

    async def user(name: str) -> str:
        made = await svc.identity.create_user(tenant.corp_id, name, admin=False)
        return str(made.union_id)

    found = People(await user("reader"), [])
    for n in range(OTHERS):
        found.others.append(await user(f"other-{n}"))
        await svc.identity.add_to_group(tenant.corp_id, "DEPT", f"other-{n}", found.others[-1])
    await svc.identity.add_to_group(tenant.corp_id, "DEPT", DEPT, found.user)
    return found


class Grants:
    """AddPermission through the service, as the admin; counts the grants made."""

    def __init__(self, svc: Any, admin: Any, tenant: Tenant, space_id: int) -> None:
        self.svc, self.admin, self.tenant, self.space_id = svc, admin, tenant, str(space_id)
        self.made = 0

    async def __call__(self, node: int, role: str, *members: tuple[str, str]) -> None:
        from dingstore.service.permissions import MemberInput

        inputs = [
            MemberInput(kind, id_, self.tenant.corp_id if kind in ("DEPT", "TAG") else None)
            for kind, id_ in members
        ]
        await self.svc.permissions.add(self.admin, self.space_id, str(node), role, inputs, None)
        self.made += len(inputs)

    async def unrelated(self, node: int, n: int, others: list[str]) -> None:
        """Grants to three other members: a user, a tag and a conversation."""
        members = [("USER", others[n % len(others)]), ("TAG", f"tag-{n % 7}"),
                   ("CONVERSATION", f"cid-{n}")]  # fmt: skip
        await self(node, ROLES[n % len(ROLES)], *members)


async def seed_reads(
    data_dir: Path, url: str | None, port: int, depth: int, noise: int
) -> ReadsStore:
    """A fresh store: a space with a chain of ``depth`` folders, a folder at depth 1, ``LISTED``
    children under each end, a tree beside them, and the grants."""
    from dingstore.service.spaces import NewSpace

    started = time.perf_counter()
    async with common.fresh_services(data_dir, port, url) as (svc, tenant):
        admin = await common.actor(svc, tenant)
        who = await people(svc, tenant)
        space = await svc.spaces.add(admin, NewSpace(name="reads", scene="bench", scene_id="r"))
        beside = await trees.new_tree(svc, "beside", space.id, BESIDE)
        await trees.insert_tree(svc, beside, tenant.union_id)

        async def folder(parent: int, name: str) -> int:
            made = await svc.dentries.add_folder(admin, str(space.id), str(parent), name, None)
            return int(made.id)

        chain = [await folder(0, "level-01")]
        for level in range(2, depth + 1):
            chain.append(await folder(chain[-1], f"level-{level:02d}"))
        shallow = await folder(0, "shallow")
        for parent in (shallow, chain[-1]):
            for n in range(LISTED):
                await folder(parent, f"child-{n:02d}")

        grant = Grants(svc, admin, tenant, space.id)
        await grant(0, "READER", ("ORG", tenant.corp_id))
        await grant(chain[4], "DOWNLOADER", ("DEPT", DEPT))
        await grant(chain[11], "EDITOR", ("USER", who.user))
        for n, node in enumerate([shallow, *chain]):
            await grant.unrelated(node, n, who.others)
        step = BESIDE / noise if noise else 0
        for n in range(noise):
            await grant.unrelated(beside.first_id + int(n * step), n, who.others)
        hidden = await svc.spaces.add(admin, NewSpace(name="private", scene="bench", scene_id="p"))
        inside = await svc.dentries.add_folder(admin, str(hidden.id), "0", "inside", None)
        await common.analyze(svc)
    seconds = time.perf_counter() - started
    private = (int(hidden.id), int(inside.id))
    return ReadsStore(tenant, who, space.id, chain, shallow, private, grant.made, seconds)


async def seed_copy(
    data_dir: Path, url: str | None, port: int, nodes: int, caller: str
) -> CopyStore:
    """A fresh store with the tree to copy and its target space; for the user, their grants and
    others inside the tree."""
    started = time.perf_counter()
    async with common.fresh_services(data_dir, port, url) as (svc, tenant):
        admin = await common.actor(svc, tenant)
        tree = await trees.seed_tree(svc, admin, tenant, trees.COPY, nodes, 0)
        union_id, made = tenant.union_id, 0
        if caller == USER:
            who = await people(svc, tenant)
            union_id = who.user
            for space in (tree.space_id, tree.target_space):
                await Grants(svc, admin, tenant, space)(0, "EDITOR", ("DEPT", DEPT))
            grant = Grants(svc, admin, tenant, tree.space_id)
            await grant(tree.root_id, "READER", ("USER", who.user))
            subfolders = range(tree.root_id + 1, tree.root_id + 1 + len(trees.shape(nodes)))
            for n, node in enumerate(subfolders[::10]):
                await grant.unrelated(node, n, who.others)
            made = grant.made + 2
        await common.analyze(svc)
    return CopyStore(tenant, union_id, tree, made, time.perf_counter() - started)


# --- reads -------------------------------------------------------------------------------------


class ReadsApi(common.Api):
    def __init__(self, client: httpx.Client, union_id: str, space_id: int) -> None:
        super().__init__(client, union_id)
        self.space = f"/v1.0/storage/spaces/{space_id}"

    def get_dentry(self, dentry_id: int) -> dict[str, Any]:
        return self.call("POST", f"{self.space}/dentries/{dentry_id}/query", json={})

    def list_dentries(self, parent_id: int) -> dict[str, Any]:
        params = {"parentId": str(parent_id), "maxResults": str(LISTED)}
        return self.call("GET", f"{self.space}/dentries", params=params)

    def roles(self, dentry_ids: list[int]) -> dict[str, list[str]]:
        params = {"dentryIdList": json.dumps([str(i) for i in dentry_ids])}
        path = f"{self.space}/dentries/permissions/roles/batchQuery"
        found = self.call("POST", path, params=params)["roleMap"]
        return {k: [r["id"] for r in v] for k, v in found.items()}


def check_reads(client: httpx.Client, store: ReadsStore) -> bool:
    """The user's roles must be those their grants give, and each folder listed must hold
    ``LISTED`` children; whether the user is refused where they hold no grant (permissions
    enforced)."""
    chain = store.chain
    user = ReadsApi(client, store.people.user, store.space_id)
    want = {0: "READER", store.shallow: "READER", chain[3]: "READER"}
    want |= {chain[level - 1]: role for level, (_, role) in GRANTED.items()}
    want[chain[-1]] = "EDITOR"
    got = user.roles(list(want))
    if got != {str(k): [v] for k, v in want.items()}:
        raise BenchError(f"BatchQueryRoles gave the user {got}, expected {want}")
    for parent in (store.shallow, chain[-1]):
        if len(user.list_dentries(parent)["dentries"]) != LISTED:
            raise BenchError(f"ListDentries of {parent} did not show its {LISTED} children")
    space_id, folder_id = store.private
    path = f"/v1.0/storage/spaces/{space_id}/dentries/{folder_id}/query"
    answer = client.post(path, params=user.query, json={})
    if answer.status_code not in (200, 403):
        raise BenchError(f"GetDentry where the user holds no grant answered {answer.status_code}")
    return answer.status_code == 403


def time_reads(client: httpx.Client, store: ReadsStore, calls: int) -> list[Reads]:
    """Every kind of read in turn, ``WARMUP`` untimed rounds and then ``calls`` timed ones."""
    depth = len(store.chain)
    kinds: list[tuple[Reads, Any]] = []
    for caller, union_id in ((USER, store.people.user), (ADMIN, store.tenant.union_id)):
        api = ReadsApi(client, union_id, store.space_id)
        for node, level in ((store.shallow, 1), (store.chain[-1], depth)):
            kinds.append((Reads(GET, caller, level), lambda a=api, n=node: a.get_dentry(n)))
            kinds.append((Reads(LIST, caller, level), lambda a=api, n=node: a.list_dentries(n)))
    for round_ in range(WARMUP + calls):
        for reads, call in kinds:
            started = time.perf_counter()
            call()
            if round_ >= WARMUP:
                reads.samples_ms.append((time.perf_counter() - started) * 1000)
    return [reads for reads, _ in kinds]


def measure_reads(args: argparse.Namespace, tmp: Path) -> tuple[list[Reads], ReadsStore, bool]:
    with stores.fresh_store(args, tmp, "reads") as (data_dir, url):
        port = common.free_port()
        store = asyncio.run(seed_reads(data_dir, url, port, args.depth, args.noise))
        err.print(f"[dim]reads: seeded {store.grants} grants in {store.seed_s:.1f} s[/dim]")
        headers = {TOKEN_HEADER: store.tenant.token}
        shape = stores.processes(data_dir, url, port)
        with stores.serving(shape, tmp, "reads", data_dir, url, headers) as running:
            base_url = running.server.base_url
            with httpx.Client(base_url=base_url, headers=headers, timeout=60.0) as client:
                enforced = check_reads(client, store)
                if not enforced:
                    err.print(
                        "[yellow]the user may read where they hold no grant: permissions are "
                        "not enforced, and these figures measure nothing[/yellow]"
                    )
                err.print(f"[dim]reads: {args.calls} calls of each kind[/dim]")
                found = time_reads(client, store, args.calls)
            running.peak_rss_bytes()  # every process still runs
    return found, store, enforced


# --- copy --------------------------------------------------------------------------------------


def measure_copy(args: argparse.Namespace, tmp: Path, caller: str, n: int) -> trees.Outcome:
    name = f"copy-{caller}-{n}"
    with stores.fresh_store(args, tmp, name) as (data_dir, url):
        port = common.free_port()
        store = asyncio.run(seed_copy(data_dir, url, port, args.nodes, caller))
        shape = stores.processes(data_dir, url, port)
        outcome = trees.operate(
            shape, tmp, name, data_dir, url, store.tenant, [store.tree], args.timeout,
            union_id=store.caller,
        )  # fmt: skip
    outcome.seed_s = store.seed_s
    took = "timed out" if outcome.seconds is None else f"{outcome.seconds:.3f} s"
    err.print(f"[dim]  {caller}: {took} ({store.grants} grants, seeded in {store.seed_s:.1f} s)")
    return outcome


def measure_copies(args: argparse.Namespace, tmp: Path) -> dict[str, list[trees.Outcome]]:
    """``--repeat`` copies by each caller, each on a fresh store, alternating who goes first."""
    found: dict[str, list[trees.Outcome]] = {ADMIN: [], USER: []}
    for n in range(args.repeat):
        err.print(f"[dim]copy of {args.nodes:,} nodes, round {n + 1} of {args.repeat}[/dim]")
        for caller in (ADMIN, USER) if n % 2 == 0 else (USER, ADMIN):
            found[caller].append(measure_copy(args, tmp, caller, n))
    return found


# --- report ------------------------------------------------------------------------------------


def report_reads(found: list[Reads], depth: int) -> tuple[list[dict[str, object]], dict[str, bool]]:
    table = Table(title=f"reads at depth {depth} against depth 1, ms")
    for column in ("call", "caller", "depth 1 p50 / p99", f"depth {depth} p50 / p99",
                   "ratio p50", "ratio p99", "target", "p50 over the admin's"):  # fmt: skip
        table.add_column(column, justify="left" if column in ("call", "caller") else "right")
    rows: list[dict[str, object]] = []
    met: dict[str, bool] = {}
    by = {(r.call, r.caller, r.depth): r for r in found}
    for call in (GET, LIST):
        for caller in (USER, ADMIN):
            top, deep = by[(call, caller, 1)], by[(call, caller, depth)]
            ratio, ratio_99 = deep.p50 / top.p50, deep.p99 / top.p99
            target = over = ""
            extra: list[float] | None = None
            if caller == USER:
                met[call] = ratio <= READS_TARGET
                target = f"<= {READS_TARGET} {verdict(met[call])}"
                extra = [r.p50 - by[(call, ADMIN, r.depth)].p50 for r in (top, deep)]
                over = f"+{extra[0]:.2f} / +{extra[1]:.2f}"
            table.add_row(
                call, caller, f"{top.p50:.2f} / {top.p99:.2f}", f"{deep.p50:.2f} / {deep.p99:.2f}",
                f"{ratio:.2f}", f"{ratio_99:.2f}", target, over,
            )  # fmt: skip
            rows.append({
                "call": call, "caller": caller, "depth": depth, "calls": len(deep.samples_ms),
                "depth_1_p50_ms": round(top.p50, 3), "depth_1_p99_ms": round(top.p99, 3),
                "deep_p50_ms": round(deep.p50, 3), "deep_p99_ms": round(deep.p99, 3),
                "ratio_p50": round(ratio, 3), "ratio_p99": round(ratio_99, 3),
                "p50_over_admin_ms": None if extra is None else [round(e, 3) for e in extra],
            })  # fmt: skip
    out.print(table)
    return rows, met


def report_copies(
    found: dict[str, list[trees.Outcome]], nodes: int
) -> tuple[dict[str, object], dict[str, bool]]:
    table = Table(title=f"copy of {nodes:,} nodes to another space, request → GetTask SUCCESS")
    for column in ("caller", "seconds (each run)", "median", "nodes/s", "checks"):
        table.add_column(column, justify="left" if column in ("caller", "checks") else "right")
    medians: dict[str, float | None] = {}
    for caller in (ADMIN, USER):
        runs = found[caller]
        seconds = [o.seconds for o in runs if o.seconds is not None]
        medians[caller] = statistics.median(seconds) if len(seconds) == len(runs) else None
        problems = "; ".join(p for o in runs for p in o.problems)
        median = medians[caller]
        table.add_row(
            caller,
            ", ".join("—" if o.seconds is None else f"{o.seconds:.3f}" for o in runs),
            "—" if median is None else f"{median:.3f}",
            "—" if median is None else f"{nodes / median:,.0f}",
            f"[red]{problems}[/red]" if problems else "[green]ok[/green]",
        )
    out.print(table)
    admin, user = medians[ADMIN], medians[USER]
    ratio = None if admin is None or user is None else user / admin
    met = {"copy": ratio is not None and ratio <= COPY_TARGET}
    shown = "—" if ratio is None else f"{ratio:.2f}"
    out.print(
        f"copy, user with grants / admin: [bold]{shown}[/bold] "
        f"(target <= {COPY_TARGET}: {verdict(met['copy'])})"
    )
    results = {
        "runs": {caller: [asdict(o) for o in runs] for caller, runs in found.items()},
        "median_s": medians,
        "ratio": None if ratio is None else round(ratio, 3),
    }
    return results, met


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = common.temp_dir(stack, prefix="dingstore-permissions-")
    common.widen_output()
    started = time.perf_counter()
    results: dict[str, object] = {}
    met: dict[str, bool] = {}
    verified = True
    if args.only in (None, "reads"):
        reads, store, enforced = measure_reads(args, tmp)
        rows, reads_met = report_reads(reads, args.depth)
        shown = "yes" if enforced else "[red]no: the figures measure nothing[/red]"
        out.print(f"permissions enforced (the user refused where they hold no grant): {shown}")
        met |= {f"reads_{call}": ok for call, ok in reads_met.items()}
        results["reads"] = {"rows": rows, "grants": store.grants, "enforced": enforced}
    if args.only in (None, "copy"):
        copies = measure_copies(args, tmp)
        results["copy"], copy_met = report_copies(copies, args.nodes)
        met |= copy_met
        verified = all(o.verified for runs in copies.values() for o in runs)
    settings: dict[str, object] = {
        "backend": args.backend,
        "nodes": args.nodes,
        "calls": args.calls,
        "warmup": WARMUP,
        "depth": args.depth,
        "noise_nodes": args.noise,
        "repeat": args.repeat,
        "run_s": round(time.perf_counter() - started, 1),
        "load_average": os.getloadavg(),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **common.git_revision(),
    }
    targets = {"reads_ratio_max": READS_TARGET, "copy_ratio_max": COPY_TARGET, "met": met}
    return {"settings": settings, **results, "targets": targets, "all_verified": verified}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    name = "permissions" if args.backend == "sqlite" else "permissions-postgres"
    return common.run_benchmark(lambda stack: run(args, stack), name)


if __name__ == "__main__":
    sys.exit(main())
