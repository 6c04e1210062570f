"""Benchmark single small writes (AddFolder) against a floor doing the same in one transaction.

What is measured
----------------
Throughput (requests/s) and latency (p50, p99) of the real ``dingstore serve`` — one uvicorn
worker, on a fresh store with ``--spaces`` spaces (default 8) of the bootstrap org — answering
AddFolder (``POST /v1.0/storage/spaces/{spaceId}/dentries/0/folders?unionId=U``), loaded by
``wrk`` (one thread) at ``--connections`` (default 16) for ``--duration`` seconds (default 10).
A wrk Lua script gives every request a name of its own (a run prefix, the wrk thread and a
counter) and spreads the requests over the spaces in turn; each asks
``conflictStrategy: RETURN_ERROR_IF_EXISTS``, so a name taken twice would answer an error (and
fail the run) instead of being renamed.

The floor
---------
``bench/floor_writes.py``: a bare Starlette app on the same uvicorn setup doing what AddFolder
must — token read, space read, name check, insert, space touch — in ONE transaction on the same
store with the same durability: SQLite WAL + ``synchronous = FULL`` on one stdlib ``sqlite3``
connection (the whole transaction one call on its own thread), or an asyncpg pool of 10 on
PostgreSQL. Same wrk load, same run, one server after the other.

The store is checked after each load: the folders made during it (their names carry the run's
prefix) must number at least wrk's completed requests and at most that plus the connections
(requests cut off in flight at the end may have committed), every one unique in its space.

Run: ``.venv/bin/python bench/writes.py [--backend sqlite|postgres] [--duration 10]
[--connections 16]`` (needs ``wrk`` on PATH). Results go to ``bench/results/writes.json``.
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

LUA = r"""
-- AddFolder with a unique name per request, spread over the spaces in turn.
-- args: prefix, comma-separated space ids, unionId
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix, spaces, union, n, headers = "x", {}, "", 0, {}
function init(args)
  for k, v in pairs(wrk.headers) do headers[k] = v end  -- -H: the token
  headers["Content-Type"] = "application/json"
  prefix = args[1] .. "-" .. tostring(tid)
  for s in string.gmatch(args[2], "[^,]+") do spaces[#spaces + 1] = s end
  union = args[3]
end
function request()
  n = n + 1
  local space = spaces[(n % #spaces) + 1]
  local path = "/v1.0/storage/spaces/" .. space .. "/dentries/0/folders?unionId=" .. union
  local body = '{"name":"' .. prefix .. "-" .. n ..
    '","option":{"conflictStrategy":"RETURN_ERROR_IF_EXISTS"}}'
  return wrk.format("POST", path, headers, body)
end
"""


@dataclass(frozen=True)
class Fixture:
    token: str
    union_id: str
    spaces: list[int]


@dataclass(frozen=True)
class Checked:
    folders: int  # made during the measured load
    distinct: int  # distinct (space, name) among them
    per_space_min: int
    per_space_max: int


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_backend_args(parser)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--spaces", type=int, default=8, help="spaces the writes spread over")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.connections <= 0 or args.spaces <= 0:
        parser.error("--duration, --connections and --spaces must be positive")
    return args


async def seed(data_dir: Path, port: int, database_url: str | None, n: int) -> Fixture:
    """A migrated store with the bootstrap org, admin and app, a token and ``n`` spaces."""
    from dingstore.service.spaces import NewSpace

    async with common.fresh_services(data_dir, port, database_url) as (svc, tenant):
        admin = await common.actor(svc, tenant)
        spaces = []
        for i in range(n):
            new = NewSpace(name=f"writes {i}", scene="bench", scene_id=f"w{i}")
            spaces.append(int((await svc.spaces.add(admin, new)).id))
    return Fixture(tenant.token, tenant.union_id, spaces)


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


def add_once(base: str, fixture: Fixture, name: str) -> None:
    """One AddFolder must answer 200 with the new dentry: never benchmark errors."""
    url = f"{base}/v1.0/storage/spaces/{fixture.spaces[0]}/dentries/0/folders"
    response = httpx.post(
        url,
        params={"unionId": fixture.union_id},
        headers={TOKEN_HEADER: fixture.token},
        json={"name": name, "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}},
        timeout=10,
    )
    if response.status_code != 200:
        raise BenchError(f"POST {url} answered {response.status_code}: {response.text[:300]}")
    dentry = response.json().get("dentry") or {}
    if dentry.get("name") != name or dentry.get("type") != "FOLDER":
        raise BenchError(f"POST {url} answered no folder {name!r}: {response.text[:300]}")


# --- load --------------------------------------------------------------------------------------


def run_wrk(
    wrk: str, script: Path, base: str, fixture: Fixture, prefix: str, duration: int, conns: int
) -> str:
    cmd = [wrk, "-t1", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(script)]
    cmd += ["-H", f"{TOKEN_HEADER}: {fixture.token}", base, "--", prefix]
    cmd += [",".join(map(str, fixture.spaces)), fixture.union_id]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def check_store(data_dir: Path, url: str | None, prefix: str, load: Load, conns: int) -> Checked:
    """The folders the load made: as many as it was answered for (plus at most one in flight per
    connection when it stopped), each name once in its space, all live folders at the root."""
    db = open_sql(data_dir, url)
    try:
        where = "name LIKE :pattern"
        pattern = prefix + "-%"
        folders = db.one(f"SELECT count(*) FROM dentries WHERE {where}", pattern=pattern)
        distinct = db.one(
            f"SELECT count(*) FROM (SELECT DISTINCT space_id, name FROM dentries WHERE {where}) d",
            pattern=pattern,
        )
        odd = db.one(
            f"SELECT count(*) FROM dentries WHERE {where} AND NOT (type = 'FOLDER' AND "
            "status = 'NORMAL' AND parent_id = 0)",
            pattern=pattern,
        )
        counts = f"SELECT count(*) AS n FROM dentries WHERE {where} GROUP BY space_id"
        lo = db.one(f"SELECT coalesce(min(n), 0) FROM ({counts}) c", pattern=pattern)
        hi = db.one(f"SELECT coalesce(max(n), 0) FROM ({counts}) c", pattern=pattern)
    finally:
        db.close()
    if not load.requests <= folders <= load.requests + conns:
        raise BenchError(
            f"{prefix}: {folders} folders in the store for {load.requests} answered requests "
            f"({conns} connections)"
        )
    if distinct != folders:
        raise BenchError(f"{prefix}: {folders} folders but {distinct} distinct (space, name)")
    if odd:
        raise BenchError(f"{prefix}: {odd} rows are not live folders at a space's root")
    return Checked(int(folders), int(distinct), int(lo), int(hi))


def measure(
    server: Server,
    tag: str,
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
    err.print(f"[dim]{server.label}: starting on {base}[/dim]")
    with running(server, logs / f"server-{server.port}.log") as proc:
        wait_ready(proc, base + server.ready_path, {TOKEN_HEADER: fixture.token})
        add_once(base, fixture, f"{tag}-first")
        run_wrk(wrk, script, base, fixture, f"{tag}-warm", WARMUP_S, args.connections)
        err.print(f"[dim]{server.label}: {args.duration} s at {args.connections} connections[/dim]")
        text = run_wrk(wrk, script, base, fixture, f"{tag}-run", args.duration, args.connections)
        load = parse_wrk(text)
        if proc.poll() is not None:
            raise BenchError(f"the server exited ({proc.returncode}) during the load")
    if any(load.socket_errors.values()):
        err.print(f"[yellow]{server.label}: wrk socket errors {load.socket_errors}[/yellow]")
    return load, check_store(data_dir, url, f"{tag}-run", load, args.connections)


# --- report ------------------------------------------------------------------------------------


def report(
    dingstore: tuple[Load, Checked], floor: tuple[Load, Checked], settings: dict[str, object]
) -> dict[str, object]:
    table = Table(
        title=f"AddFolder — {settings['backend']}, {settings['connections']} connections, "
        f"{settings['spaces']} spaces, {settings['duration_s']} s"
    )
    table.add_column("server")
    for column in ("requests/s", "p50 ms", "p99 ms", "folders made", "ratio to floor"):
        table.add_column(column, justify="right")
    ratio = dingstore[0].requests_per_s / floor[0].requests_per_s
    for label, (load, checked), shown in (
        ("dingstore AddFolder", dingstore, f"{ratio:.2f}"),
        ("floor (bare Starlette, one transaction)", floor, "1.00"),
    ):
        table.add_row(
            label,
            f"{load.requests_per_s:,.0f}",
            f"{load.p50_ms:.2f}",
            f"{load.p99_ms:.2f}",
            f"{checked.folders:,}",
            shown,
        )
    out.print(table)
    out.print(f"ratio dingstore/floor requests/s: [bold]{ratio:.2f}[/bold] (issue 14 target ≥ 0.5)")
    return {
        "settings": settings,
        "add_folder": {
            "dingstore": {**asdict(dingstore[0]), "store": asdict(dingstore[1])},
            "floor": {**asdict(floor[0]), "store": asdict(floor[1])},
            "ratio": round(ratio, 4),
        },
    }


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, wrk: str, stack: contextlib.ExitStack) -> dict[str, object]:
    widen_output()
    tmp = temp_dir(stack)
    data_dir, logs = tmp / "data", tmp
    script = tmp / "add_folder.lua"
    script.write_text(LUA)

    url: str | None = None
    if args.backend == "postgres":
        url = stack.enter_context(pg_database(args.pg_url))

    port, floor_port = free_port(), free_port()
    fixture = asyncio.run(seed(data_dir, port, url, args.spaces))

    server = dingstore_server(data_dir, port, url, "dingstore AddFolder")
    dingstore = measure(server, "ds", fixture, args, wrk, script, logs, data_dir, url)
    floor = floor_server(data_dir, floor_port, url)
    floor_result = measure(floor, "fl", fixture, args, wrk, script, logs, data_dir, url)

    settings: dict[str, object] = {
        "backend": args.backend,
        "duration_s": args.duration,
        "connections": args.connections,
        "spaces": args.spaces,
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
    return report(dingstore, floor_result, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = require_wrk()
    return common.run_benchmark(lambda stack: run(args, wrk, stack), "writes")


if __name__ == "__main__":
    sys.exit(main())
