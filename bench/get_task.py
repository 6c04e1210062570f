"""Benchmark GetTask (``GET /v1.0/storage/tasks/{taskId}?unionId=U``) against a floor.

What is measured
----------------
Throughput (requests/s), latency (p50, p99) and the server's CPU time per request of the real
``dingstore serve`` — one uvicorn worker, uvloop + httptools, on a fresh store — answering
GetTask for one existing task, loaded by ``wrk`` for a fixed time at each number of connections
asked for (50 and 200 by default). Every request carries a valid access token and the admin's
unionId, so each one passes the whole stack: the request middleware, routing, token
authentication (cached), the scope and rate-limit checks, the operator lookup (cached), the
task read (one prepared statement: on PostgreSQL on the read pool, one round trip), the pydantic
response model and orjson.

The floor
---------
``bench/floor_app.py``: a bare Starlette app on the same uvicorn setup (uvloop, httptools, one
worker, no access log) with the one route, reading the same row by primary key from the same
database with the driver directly (one aiosqlite connection; for PostgreSQL an asyncpg pool with
as many connections as dingstore's reads have, sending no reset query) and returning it with
``JSONResponse``. It is what any Python ASGI server must pay for this request — HTTP parsing,
an event-loop turn, one indexed read through the async driver, a JSON body — and nothing
dingstore chooses to add. Their ratios are therefore the cost of dingstore's own layers. Issue
14's targets, at every number of connections: requests/s >= 0.8 of the floor's on SQLite
(>= 0.75 on PostgreSQL), p99 <= 1.5x the floor's (<= 2x on PostgreSQL).

The CPU time per request (user + system, read from /proc around the load) says what the server
process itself spends on a request, whatever else runs on the machine: on a loaded machine the
requests/s of both servers swing with what the others take, their CPU per request much less.

Both servers run one after the other (never together) on an otherwise idle machine; wrk uses one
thread. Results are printed and written to ``bench/results/get_task.json``.

Run: ``.venv/bin/python bench/get_task.py [--backend sqlite|postgres] [--pg-url URL]
[--duration 10] [--connections 50,200]`` (needs ``wrk`` on PATH).
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
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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
    verdict,
    wait_ready,
)
from rich.table import Table

# Issue 14: dingstore's requests/s at least this share of the floor's, and its p99 at most this
# many times the floor's, at every number of connections.
RATIO_TARGET = {"sqlite": 0.8, "postgres": 0.75}
P99_RATIO_TARGET = {"sqlite": 1.5, "postgres": 2.0}
CONNECTIONS = (50, 200)
WARMUP_S = 2


@dataclass(frozen=True)
class Fixture:
    token: str
    union_id: str
    task_id: int


@dataclass(frozen=True)
class Load:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    # The server process's CPU time (user + system) over the load, per request answered: what
    # the server itself spends on one, whatever else the machine runs (Linux only).
    cpu_us_per_request: float | None = None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far, where /proc tells it."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_backend_args(parser)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server")
    parser.add_argument(
        "--connections",
        type=_counts,
        default=CONNECTIONS,
        help="wrk connections: one load at each (comma-separated; default 50,200)",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0:
        parser.error("--duration must be positive")
    return args


def _counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from None
    if not counts or min(counts) <= 0:
        raise argparse.ArgumentTypeError("connections must be positive numbers")
    return counts


def require_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        err.print(
            "[red]error:[/red] this benchmark needs [bold]wrk[/bold] on PATH; "
            "install it with `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk` (macOS)."
        )
        raise SystemExit(2)
    return path


async def seed(data_dir: Path, port: int, database_url: str | None) -> Fixture:
    """A migrated store with the bootstrap org, admin and app, a token and one task."""
    from dingstore.service import tasks

    class Unrun:
        """An empty ``copy`` payload: the task is only read, never run."""

        kind = "copy"

        def to_json(self) -> dict[str, object]:
            return {}

    async with common.fresh_services(data_dir, port, database_url) as (svc, tenant):
        task_id = await svc.ids.next()
        async with svc.db.write() as conn:
            creator = tasks.Creator(tenant.corp_id, tenant.union_id, None)
            await tasks.enqueue(conn, task_id, Unrun(), creator, now=svc.clock.now_ms())
    return Fixture(tenant.token, tenant.union_id, task_id)


# --- servers -----------------------------------------------------------------------------------


def floor_server(
    data_dir: Path, port: int, database_url: str | None, task_path: str, pool: int
) -> Server:
    env = dict(os.environ)
    if database_url:
        env["FLOOR_DATABASE_URL"] = database_url
        env["FLOOR_POOL_SIZE"] = str(pool)
    else:
        env["FLOOR_SQLITE_PATH"] = str(data_dir / "dingstore.db")
    cmd = [sys.executable, "-m", "uvicorn", "floor_app:app", "--app-dir", str(BENCH_DIR)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    cmd += ["--no-access-log", "--log-level", "warning"]
    return Server("floor (bare Starlette, PK read)", cmd, env, port, task_path)


def check_once(url: str, headers: dict[str, str]) -> None:
    """One request must succeed with a task in its body: never benchmark errors."""
    response = httpx.get(url, headers=headers, timeout=5)
    body = response.text
    if response.status_code != 200:
        raise BenchError(f"GET {url} answered {response.status_code}: {body[:300]}")
    try:
        parsed = response.json()
    except ValueError as exc:
        raise BenchError(f"GET {url} answered a body that is not JSON: {body[:300]}") from exc
    if not isinstance(parsed, dict) or "task" not in parsed:
        raise BenchError(f"GET {url} answered JSON without a task: {body[:300]}")


# --- load --------------------------------------------------------------------------------------

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s*(\d+(?:\.\d+)?)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def run_wrk(wrk: str, url: str, token: str, duration: int, connections: int) -> str:
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    cmd += ["-H", f"{TOKEN_HEADER}: {token}", url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 30, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def parse_wrk(text: str) -> Load:
    """Requests/s, p50 and p99 (in ms) from wrk's ``--latency`` report; errors are fatal."""
    non_2xx = _NON_2XX.search(text)
    if non_2xx:
        raise BenchError(f"wrk saw {non_2xx.group(1)} non-2xx/3xx responses:\n{text}")
    percentiles = {
        float(m.group(1)): float(m.group(2)) * _UNITS_MS[m.group(3)]
        for m in _PERCENTILE.finditer(text)
    }
    rps, total = _RPS.search(text), _TOTAL.search(text)
    if rps is None or total is None or 50.0 not in percentiles or 99.0 not in percentiles:
        raise BenchError(f"could not read wrk's report:\n{text}")
    if int(total.group(1)) == 0:
        raise BenchError(f"wrk completed no request:\n{text}")
    sockets = _SOCKET.search(text)
    errors = {}
    if sockets:
        errors = dict(
            zip(("connect", "read", "write", "timeout"), map(int, sockets.groups()), strict=True)
        )
    return Load(
        requests_per_s=float(rps.group(1)),
        p50_ms=percentiles[50.0],
        p99_ms=percentiles[99.0],
        requests=int(total.group(1)),
        socket_errors=errors,
    )


def measure(
    server: Server, path: str, fixture: Fixture, args: argparse.Namespace, wrk: str, logs: Path
) -> dict[int, Load]:
    """Start the server, check one request, then at each number of connections warm it up and
    load it; stop it."""
    base = f"http://127.0.0.1:{server.port}"
    headers = {TOKEN_HEADER: fixture.token}
    loads: dict[int, Load] = {}
    err.print(f"[dim]{server.label}: starting on {base}[/dim]")
    with running(server, logs / f"server-{server.port}.log") as proc:
        wait_ready(proc, base + server.ready_path, headers)
        check_once(base + path, headers)
        for connections in args.connections:
            run_wrk(wrk, base + path, fixture.token, WARMUP_S, connections)
            err.print(f"[dim]{server.label}: {args.duration} s at {connections} connections[/dim]")
            before = cpu_seconds(proc.pid)
            text = run_wrk(wrk, base + path, fixture.token, args.duration, connections)
            after = cpu_seconds(proc.pid)
            load = parse_wrk(text)
            if before is not None and after is not None:
                cpu = round((after - before) / load.requests * 1e6, 1)
                load = dataclasses.replace(load, cpu_us_per_request=cpu)
            loads[connections] = load
            if proc.poll() is not None:
                raise BenchError(f"the server exited ({proc.returncode}) during the load")
            if any(load.socket_errors.values()):
                err.print(
                    f"[yellow]{server.label}, {connections} connections: "
                    f"wrk socket errors {load.socket_errors}[/yellow]"
                )
    return loads


# --- report ------------------------------------------------------------------------------------


def compare(backend: str, dingstore: Load, floor: Load) -> dict[str, object]:
    """The ratios of one connection count, and whether they meet the targets."""
    ratio = dingstore.requests_per_s / floor.requests_per_s
    p99_ratio = dingstore.p99_ms / floor.p99_ms
    cpu_ratio = None
    if dingstore.cpu_us_per_request and floor.cpu_us_per_request:
        cpu_ratio = round(floor.cpu_us_per_request / dingstore.cpu_us_per_request, 4)
    return {
        "dingstore": asdict(dingstore),
        "floor": asdict(floor),
        "ratio": round(ratio, 4),
        "p99_ratio": round(p99_ratio, 4),
        # The floor's CPU per request over dingstore's: the requests/s ratio a machine where the
        # server's core is the limit would show.
        "cpu_ratio": cpu_ratio,
        "targets": {
            "ratio_min": RATIO_TARGET[backend],
            "ratio_met": ratio >= RATIO_TARGET[backend],
            "p99_ratio_max": P99_RATIO_TARGET[backend],
            "p99_ratio_met": p99_ratio <= P99_RATIO_TARGET[backend],
        },
    }


def report(
    dingstore: dict[int, Load], floor: dict[int, Load], settings: dict[str, object]
) -> dict[str, object]:
    backend = str(settings["backend"])
    title = f"GetTask — {backend}, {settings['duration_s']} s a load"
    if backend == "postgres":
        title += f", {settings['read_connections']} read connections each"
    table = Table(title=title)
    for column in ("connections", "server", "requests/s", "p50 ms", "p99 ms", "CPU µs/req"):
        table.add_column(column, justify="left" if column == "server" else "right")
    runs: dict[str, dict[str, Any]] = {}
    for connections, load in dingstore.items():
        runs[str(connections)] = compare(backend, load, floor[connections])
        for label, measured in (("dingstore", load), ("floor", floor[connections])):
            cpu = measured.cpu_us_per_request
            table.add_row(
                str(connections),
                label,
                f"{measured.requests_per_s:,.0f}",
                f"{measured.p50_ms:.2f}",
                f"{measured.p99_ms:.2f}",
                "" if cpu is None else f"{cpu:.0f}",
            )
    out.print(table)
    for connections, run in runs.items():
        targets = run["targets"]
        cpu = "" if run["cpu_ratio"] is None else f"; CPU a request {run['cpu_ratio']:.2f}"
        out.print(
            f"{connections} connections: requests/s {run['ratio']:.2f} of the floor's "
            f"(>= {targets['ratio_min']} {verdict(targets['ratio_met'])}), "
            f"p99 {run['p99_ratio']:.2f}x the floor's "
            f"(<= {targets['p99_ratio_max']} {verdict(targets['p99_ratio_met'])}){cpu}"
        )
    return {"settings": settings, "runs": runs}


# --- main --------------------------------------------------------------------------------------


def read_connections() -> int:
    """How many connections dingstore's reads run on with the default settings (the bench runs
    it with no ``DINGSTORE_*`` setting): the floor gets as many."""
    from dingstore.settings import Settings
    from dingstore.store import postgres

    return postgres.read_pool_size(Settings.model_fields["db_pool_size"].default)


def run(args: argparse.Namespace, wrk: str, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = temp_dir(stack)
    data_dir, logs = tmp / "data", tmp

    database_url: str | None = None
    if args.backend == "postgres":
        database_url = stack.enter_context(pg_database(args.pg_url))

    port, floor_port = free_port(), free_port()
    fixture = asyncio.run(seed(data_dir, port, database_url))
    path = f"/v1.0/storage/tasks/{fixture.task_id}?unionId={fixture.union_id}"
    pool = read_connections()

    dingstore = measure(
        dingstore_server(data_dir, port, database_url, "dingstore GetTask"),
        path,
        fixture,
        args,
        wrk,
        logs,
    )
    floor = floor_server(data_dir, floor_port, database_url, path, pool)
    floor_loads = measure(floor, path, fixture, args, wrk, logs)

    settings: dict[str, object] = {
        "backend": args.backend,
        "duration_s": args.duration,
        "connections": args.connections,
        "wrk_threads": 1,
        "warmup_s": WARMUP_S,
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    if args.backend == "postgres":
        settings["read_connections"] = pool
    return report(dingstore, floor_loads, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = require_wrk()
    return common.run_benchmark(lambda stack: run(args, wrk, stack), "get_task")


if __name__ == "__main__":
    sys.exit(main())
