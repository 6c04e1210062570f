"""Benchmark single small writes (AddFolder, RenameDentry) against a floor doing the same.

What is measured
----------------
Throughput (requests/s) and latency (p50, p99) of the real ``dingstore serve`` — one uvicorn
worker, on a fresh store with ``--spaces`` spaces (default 8) of the bootstrap org — answering
AddFolder (``POST /v1.0/storage/spaces/{spaceId}/dentries/0/folders?unionId=U``) and
RenameDentry (``POST …/dentries/{dentryId}/rename``), loaded by ``wrk`` (one thread) at
``--connections`` (default 16) for ``--duration`` seconds (default 10). A wrk Lua script gives
every request a name of its own (a run prefix, the wrk thread and a request number). AddFolder
takes the spaces in turn and asks ``conflictStrategy: RETURN_ERROR_IF_EXISTS``, so a name taken
twice would answer an error (and fail the run) instead of being renamed; RenameDentry takes in
turn the ``--targets`` folders (default 64) seeded at the root of each space.

The floor
---------
``bench/floor_writes.py``: a bare Starlette app on the same uvicorn setup doing what the
operation must in ONE transaction on the same store with the same durability — AddFolder: token
read, space read, name check, insert, space touch; RenameDentry: token read, space read, row
read, name check, update — on SQLite (WAL + ``synchronous = FULL``, one stdlib ``sqlite3``
connection, the whole transaction one call on its own thread) or PostgreSQL (an asyncpg pool of
10). Same wrk load, same run, one server after the other.

The store is checked after each load: the names it wrote are each once in their space, on live
folders at a root, and the highest request number among them lies between wrk's completed
requests and that plus the connections (requests cut off in flight may have committed);
AddFolder made that many folders, RenameDentry renamed every seeded folder.

Run: ``.venv/bin/python bench/writes.py [--backend sqlite|postgres] [--duration 10]
[--connections 16] [--ops add_folder,rename_dentry]`` (needs ``wrk`` on PATH). Results go to
``bench/results/writes.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import common
import httpx
import stores
from common import (
    BENCH_DIR,
    TOKEN_HEADER,
    BenchError,
    Server,
    dingstore_server,
    err,
    free_port,
    git_revision,
    out,
    pg_database,
    running,
    temp_dir,
    wait_ready,
    widen_output,
)
from get_task import Load, parse_wrk, require_wrk
from rich.table import Table
from stores import open_sql

WARMUP_S = 2

_LUA_COMMON = r"""
-- args: run prefix, what to write to (comma-separated), unionId
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix, union, n, headers, items = "x", "", 0, {}, {}
function init(args)
  for k, v in pairs(wrk.headers) do headers[k] = v end  -- -H: the token
  headers["Content-Type"] = "application/json"
  prefix = args[1] .. "-" .. tostring(tid)
  for s in string.gmatch(args[2], "[^,]+") do items[#items + 1] = s end
  union = args[3]
end
"""

# AddFolder with a unique name per request, spread over the spaces (items: space ids) in turn.
LUA_ADD_FOLDER = (
    _LUA_COMMON
    + r"""
function request()
  n = n + 1
  local space = items[(n % #items) + 1]
  local path = "/v1.0/storage/spaces/" .. space .. "/dentries/0/folders?unionId=" .. union
  local body = '{"name":"' .. prefix .. "-" .. n ..
    '","option":{"conflictStrategy":"RETURN_ERROR_IF_EXISTS"}}'
  return wrk.format("POST", path, headers, body)
end
"""
)

# RenameDentry to a unique name per request, over the seeded folders (items: space:dentry) in
# turn.
LUA_RENAME = (
    _LUA_COMMON
    + r"""
function request()
  n = n + 1
  local space, dentry = string.match(items[(n % #items) + 1], "(%d+):(%d+)")
  local path = "/v1.0/storage/spaces/" .. space .. "/dentries/" .. dentry ..
    "/rename?unionId=" .. union
  local body = '{"newName":"' .. prefix .. "-" .. n .. '"}'
  return wrk.format("POST", path, headers, body)
end
"""
)


@dataclass(frozen=True)
class Fixture:
    token: str
    union_id: str
    spaces: list[int]
    targets: list[tuple[int, int]]  # (space, folder) renamed by RenameDentry


@dataclass(frozen=True)
class Checked:
    rows: int  # AddFolder: the folders made during the load; RenameDentry: the folders renamed
    distinct: int  # distinct (space, name) among them
    last: int  # the highest request number among their names


@dataclass(frozen=True)
class Op:
    key: str  # add_folder | rename_dentry
    title: str
    lua: str
    short: str  # in the names it writes, which must differ from every other load's

    def items(self, fixture: Fixture) -> str:
        if self.key == "add_folder":
            return ",".join(map(str, fixture.spaces))
        return ",".join(f"{s}:{d}" for s, d in fixture.targets)


OPS = {
    "add_folder": Op("add_folder", "AddFolder", LUA_ADD_FOLDER, "af"),
    "rename_dentry": Op("rename_dentry", "RenameDentry", LUA_RENAME, "rn"),
}


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_backend_args(parser)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--spaces", type=int, default=8, help="spaces the writes spread over")
    parser.add_argument(
        "--targets", type=int, default=64, help="folders per space that RenameDentry renames"
    )
    parser.add_argument(
        "--ops", default="add_folder,rename_dentry", help="some of add_folder,rename_dentry"
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.spaces, args.targets) <= 0:
        parser.error("--duration, --connections, --spaces and --targets must be positive")
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    if not args.ops or any(o not in OPS for o in args.ops):
        parser.error(f"--ops: some of {','.join(OPS)}")
    return args


async def seed(
    data_dir: Path, port: int, database_url: str | None, n: int, targets: int
) -> Fixture:
    """A migrated store with the bootstrap org, admin and app, a token, ``n`` spaces and
    ``targets`` folders at the root of each (for RenameDentry)."""
    from dingstore.service.spaces import NewSpace

    async with common.fresh_services(data_dir, port, database_url) as (svc, tenant):
        admin = await common.actor(svc, tenant)
        spaces, folders = [], []
        for i in range(n):
            new = NewSpace(name=f"writes {i}", scene="bench", scene_id=f"w{i}")
            space = str((await svc.spaces.add(admin, new)).id)
            spaces.append(int(space))
            for j in range(targets):
                made = await svc.dentries.add_folder(admin, space, "0", f"target-{j}", None)
                folders.append((int(space), int(made.id)))
        await common.analyze(svc)
    return Fixture(tenant.token, tenant.union_id, spaces, folders)


def floor_server(data_dir: Path, port: int, database_url: str | None) -> Server:
    env = dict(os.environ)
    if database_url:
        env["FLOOR_DATABASE_URL"] = database_url
        env["FLOOR_POOL_SIZE"] = "10"
    else:
        env["FLOOR_SQLITE_PATH"] = str(data_dir / "dingstore.db")
    cmd = [sys.executable, "-m", "uvicorn", "floor_writes:app", "--app-dir", str(BENCH_DIR)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    cmd += ["--no-access-log", "--log-level", "warning"]
    return Server("floor (bare Starlette, one transaction)", cmd, env, port, "/healthz")


def write_once(base: str, op: Op, fixture: Fixture, name: str) -> None:
    """One write must answer 200 with the dentry named ``name``: never benchmark errors."""
    if op.key == "add_folder":
        path = f"/v1.0/storage/spaces/{fixture.spaces[0]}/dentries/0/folders"
        body: dict[str, object] = {
            "name": name,
            "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"},
        }
    else:
        space, folder = fixture.targets[0]
        path = f"/v1.0/storage/spaces/{space}/dentries/{folder}/rename"
        body = {"newName": name}
    response = httpx.post(
        base + path,
        params={"unionId": fixture.union_id},
        headers={TOKEN_HEADER: fixture.token},
        json=body,
        timeout=10,
    )
    if response.status_code != 200:
        raise BenchError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
    dentry = response.json().get("dentry") or {}
    if dentry.get("name") != name or dentry.get("type") != "FOLDER":
        raise BenchError(f"POST {path} answered no folder {name!r}: {response.text[:300]}")


# --- load --------------------------------------------------------------------------------------


def run_wrk(
    wrk: str, script: Path, base: str, token: str, script_args: list[str], duration: int, conns: int
) -> str:
    cmd = [wrk, "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(script)]
    cmd += ["-H", f"{TOKEN_HEADER}: {token}", base, "--", *script_args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def check_store(
    data_dir: Path, url: str | None, op: Op, fixture: Fixture, prefix: str, load: Load, conns: int
) -> Checked:
    """What the load left: its names (``<prefix>-<wrk thread>-<request number>``) each once in
    its space on a live folder at a root, the highest request number at least wrk's completed
    requests and at most that plus twice the connections (requests cut off in flight when it
    stopped may have committed; a request built but not sent leaves a gap). AddFolder: that many
    folders. RenameDentry: every seeded folder renamed, once there were as many requests."""
    db = open_sql(data_dir, url)
    try:
        sql = "SELECT id, space_id, name, type, status, parent_id FROM dentries WHERE name LIKE :p"
        if isinstance(db, stores.SqliteSql):
            rows = db.db.execute(sql, {"p": prefix + "-%"}).fetchall()
        else:
            rows = db.loop.run_until_complete(db.conn.fetch(sql.replace(":p", "$1"), prefix + "-%"))
    finally:
        db.close()
    rows = [tuple(r) for r in rows]
    numbers = [int(r[2].rsplit("-", 1)[1]) for r in rows]
    last = max(numbers, default=0)
    distinct = len({(r[1], r[2]) for r in rows})
    odd = [r for r in rows if (r[3], r[4], r[5]) != ("FOLDER", "NORMAL", 0)]
    if distinct != len(rows) or len(set(numbers)) != len(rows):
        raise BenchError(f"{prefix}: {len(rows)} rows, but names repeat")
    if odd:
        raise BenchError(f"{prefix}: {len(odd)} rows are not live folders at a root: {odd[:3]}")
    # wrk numbers a request when it builds it: one per connection may be built and never sent
    # when the load stops, a gap in the numbers but no row.
    if not load.requests <= last <= load.requests + 2 * conns:
        raise BenchError(
            f"{prefix}: the last request number in the store is {last}, for {load.requests} "
            f"answered requests ({conns} connections)"
        )
    if op.key == "add_folder":
        if not load.requests <= len(rows) <= load.requests + conns:
            raise BenchError(
                f"{prefix}: {len(rows)} folders in the store for {load.requests} answered "
                f"requests ({conns} connections)"
            )
    else:
        seeded = {d for _, d in fixture.targets}
        if any(r[0] not in seeded for r in rows):
            raise BenchError(f"{prefix}: a renamed row is not one of the seeded folders")
        want = min(len(seeded), load.requests)
        if not want <= len(rows) <= len(seeded):
            raise BenchError(f"{prefix}: {len(rows)} folders renamed, expected at least {want}")
    return Checked(len(rows), distinct, last)


def measure(
    server: Server,
    tag: str,
    op: Op,
    fixture: Fixture,
    args: argparse.Namespace,
    wrk: str,
    script: Path,
    logs: Path,
    data_dir: Path,
    url: str | None,
) -> tuple[Load, Checked]:
    """Start the server, check one request, warm up, load it, stop it, check the store."""
    base = server.base_url
    items = op.items(fixture)
    tag = f"{tag}{op.short}"

    def load(prefix: str, seconds: int) -> str:
        script_args = [prefix, items, fixture.union_id]
        return run_wrk(wrk, script, base, fixture.token, script_args, seconds, args.connections)

    err.print(f"[dim]{server.label}: starting on {base}[/dim]")
    with running(server, logs / f"server-{server.port}.log") as proc:
        wait_ready(proc, base + server.ready_path, {TOKEN_HEADER: fixture.token})
        write_once(base, op, fixture, f"{tag}-first")
        load(f"{tag}-warm", WARMUP_S)
        err.print(
            f"[dim]{server.label}: {op.title}, {args.duration} s at {args.connections} "
            "connections[/dim]"
        )
        result = parse_wrk(load(f"{tag}-run", args.duration))
        if proc.poll() is not None:
            raise BenchError(f"the server exited ({proc.returncode}) during the load")
    if any(result.socket_errors.values()):
        err.print(f"[yellow]{server.label}: wrk socket errors {result.socket_errors}[/yellow]")
    return result, check_store(data_dir, url, op, fixture, f"{tag}-run", result, args.connections)


# --- report ------------------------------------------------------------------------------------


def report(
    measured: dict[str, tuple[tuple[Load, Checked], tuple[Load, Checked]]],
    settings: dict[str, object],
) -> dict[str, object]:
    table = Table(
        title=f"Small writes — {settings['backend']}, {settings['connections']} connections, "
        f"{settings['spaces']} spaces, {settings['duration_s']} s"
    )
    table.add_column("operation")
    table.add_column("server")
    for column in ("requests/s", "p50 ms", "p99 ms", "rows checked", "ratio to floor"):
        table.add_column(column, justify="right")
    results: dict[str, object] = {"settings": settings}
    for key, (dingstore, floor) in measured.items():
        ratio = dingstore[0].requests_per_s / floor[0].requests_per_s
        for label, (load, checked), shown in (
            ("dingstore", dingstore, f"{ratio:.2f}"),
            ("floor", floor, "1.00"),
        ):
            table.add_row(
                OPS[key].title,
                label,
                f"{load.requests_per_s:,.0f}",
                f"{load.p50_ms:.2f}",
                f"{load.p99_ms:.2f}",
                f"{checked.rows:,}",
                shown,
            )
        results[key] = {
            "dingstore": {**asdict(dingstore[0]), "store": asdict(dingstore[1])},
            "floor": {**asdict(floor[0]), "store": asdict(floor[1])},
            "ratio": round(ratio, 4),
        }
    out.print(table)
    out.print("issue 14 target: ratio ≥ 0.5 for each operation")
    return results


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, wrk: str, stack: contextlib.ExitStack) -> dict[str, object]:
    widen_output()
    tmp = temp_dir(stack)
    data_dir, logs = tmp / "data", tmp

    url: str | None = None
    if args.backend == "postgres":
        url = stack.enter_context(pg_database(args.pg_url))

    port, floor_port = free_port(), free_port()
    fixture = asyncio.run(seed(data_dir, port, url, args.spaces, args.targets))

    measured = {}
    for key in args.ops:
        op = OPS[key]
        script = tmp / f"{key}.lua"
        script.write_text(op.lua)
        server = dingstore_server(data_dir, port, url, f"dingstore {op.title}")
        dingstore = measure(server, "ds", op, fixture, args, wrk, script, logs, data_dir, url)
        floor = floor_server(data_dir, floor_port, url)
        floor_result = measure(floor, "fl", op, fixture, args, wrk, script, logs, data_dir, url)
        measured[key] = (dingstore, floor_result)

    settings: dict[str, object] = {
        "backend": args.backend,
        "duration_s": args.duration,
        "connections": args.connections,
        "spaces": args.spaces,
        "rename_targets_per_space": args.targets,
        "wrk_threads": 1,
        "warmup_s": WARMUP_S,
        "floor_sqlite": "stdlib sqlite3, one connection on one thread, WAL, synchronous=FULL",
        "floor_postgres": "asyncpg pool of 10",
        "nproc": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(measured, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = require_wrk()
    return common.run_benchmark(lambda stack: run(args, wrk, stack), "writes")


if __name__ == "__main__":
    sys.exit(main())
