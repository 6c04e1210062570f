"""What the benchmarks share: a fresh store seeded through dingstore's own services, the real
``dingstore serve`` as a subprocess that is always stopped, and the reporting conventions (rich
output on stdout, diagnostics on stderr, results as JSON under ``bench/results/``).

Imported by the benchmark scripts, which run as ``python bench/<name>.py`` (so ``bench/`` is on
``sys.path``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from rich.console import Console

if TYPE_CHECKING:
    from dingstore.service import models
    from dingstore.service.container import Services

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
TOKEN_HEADER = "x-acs-dingtalk-access-token"

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0

out = Console()
err = Console(stderr=True)


class BenchError(Exception):
    """The benchmark cannot give a trustworthy figure; the message says why."""


@dataclass(frozen=True)
class Tenant:
    """The bootstrap org's admin and app, and an access token for that app."""

    token: str
    union_id: str
    corp_id: str
    app_key: str = ""  # the app's credentials, where a benchmark signs in as it (bench/events.py)
    app_secret: str = ""


@dataclass(frozen=True)
class Server:
    """How to start one server under test, and where to find it."""

    label: str
    cmd: list[str]
    env: dict[str, str]
    port: int
    ready_path: str

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# --- running a benchmark -----------------------------------------------------------------------


def add_backend_args(parser: argparse.ArgumentParser) -> None:
    """``--backend sqlite|postgres`` and ``--pg-url`` (alias ``--database-url``)."""
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--pg-url",
        "--database-url",
        dest="pg_url",
        default=DEFAULT_PG_URL,
        help="postgres: the server, as a user that may CREATE DATABASE; a fresh "
        "dingstore_bench_<random> database is made there (through the URL's database, or "
        "postgres) and dropped after",
    )


def run_benchmark(work: Callable[[contextlib.ExitStack], dict[str, Any]], name: str) -> int:
    """Run ``work`` with no inherited settings, SIGTERM ending it as Ctrl-C does, and everything
    it puts on the stack cleaned up however it ends; write its results to ``<name>.json``. The
    exit status: 0, or 1 when it failed or its results are not ``all_verified``, 130 when
    interrupted."""
    scrub_environment()
    exit_on_sigterm()
    with contextlib.ExitStack() as stack:
        try:
            results = work(stack)
        except BenchError as exc:
            err.print(f"[red]benchmark failed:[/red] {exc}")
            return 1
        except KeyboardInterrupt:
            err.print("[yellow]interrupted; cleaning up[/yellow]")
            return 130
    write_results(name, results)
    return 0 if results.get("all_verified", True) else 1


# --- environment -------------------------------------------------------------------------------


def scrub_environment() -> None:
    """Drop inherited ``DINGSTORE_*`` settings: they would change (or redirect!) the store."""
    for name in [n for n in os.environ if n.startswith("DINGSTORE_")]:
        err.print(f"[yellow]ignoring {name} from the environment[/yellow]")
        del os.environ[name]


def exit_on_sigterm() -> None:
    """SIGTERM ends the run like Ctrl-C does: through the caller's cleanups."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def temp_dir(stack: contextlib.ExitStack, prefix: str = "dingstore-bench-") -> Path:
    """A fresh temporary directory, removed (with everything in it) when ``stack`` closes."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    stack.callback(shutil.rmtree, path, ignore_errors=True)
    return path


# --- PostgreSQL --------------------------------------------------------------------------------


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead of its own."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def admin_url(pg_url: str) -> str:
    """Where to connect to manage databases: the URL's own database, or ``postgres``."""
    return pg_url if urlsplit(pg_url).path.strip("/") else with_database(pg_url, "postgres")


@contextlib.contextmanager
def pg_database(pg_url: str) -> Iterator[str]:
    """A fresh database ``dingstore_bench_<random>`` on the server of ``pg_url``, made through
    the URL's own database (``postgres`` when it names none) as a user that may ``CREATE
    DATABASE``, and dropped (``WITH (FORCE)``) when the block ends, however it ends; yields its
    URL."""
    admin = admin_url(pg_url)
    name = f"dingstore_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield with_database(pg_url, name)
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- seeding -----------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def fresh_services(
    data_dir: Path, port: int, database_url: str | None = None
) -> AsyncIterator[tuple[Services, Tenant]]:
    """dingstore's services on a fresh store in ``data_dir`` (on ``database_url``, if given),
    with its bootstrap tenant; closed when the block ends."""
    from dingstore.service.container import open_services
    from dingstore.settings import Settings

    svc = await open_services(Settings(data_dir=data_dir, port=port, database_url=database_url))
    try:
        yield svc, await bootstrap_tenant(svc)
    finally:
        await svc.close()


async def bootstrap_tenant(svc: Services) -> Tenant:
    """On a fresh store: the bootstrap org, admin and app, and a token for the app."""
    boot = await svc.identity.bootstrap()
    if boot is None:
        raise BenchError("the fresh store was not empty: bootstrap made nothing")
    app = boot.credentials.app
    assert app.app_key is not None
    tok = await svc.tokens.issue_for_app(app.app_key, boot.credentials.app_secret)
    return Tenant(
        tok.access_token,
        boot.admin.union_id,
        boot.org.corp_id,
        app.app_key,
        boot.credentials.app_secret,
    )


async def actor(svc: Services, tenant: Tenant, union_id: str | None = None) -> models.Actor:
    """The tenant's app acting for ``union_id`` (the admin when None), as a request would."""
    from dingstore.service import models

    return models.Actor(
        await svc.tokens.authenticate(tenant.token),
        await svc.identity.operator(tenant.corp_id, union_id or tenant.union_id),
        svc.clock,
    )


async def analyze(svc: Services) -> None:
    """On PostgreSQL, fresh planner statistics: a store that has been running has them
    (autovacuum keeps them); without them after a bulk load the planner would scan whole
    tables."""
    import sqlalchemy as sa

    if svc.db.dialect == "postgresql":
        async with svc.db.write() as conn:
            await conn.execute(sa.text("ANALYZE"))


async def seed_events(svc: Services, tenant: Tenant, count: int, batch: int = 2_000) -> None:
    """``count`` create events in the outbox, written as changes write them (``emit``), for the
    apps already subscribed to the tenant's org; of made-up files, in one made-up space."""
    from dingstore.store import events

    now = svc.clock.now_ms()
    for first in range(0, count, batch):
        changes = [
            events.Change(events.CREATE, "upload", 10**12 + i, "FILE", f"f{i}.docx")
            for i in range(first, min(count, first + batch))
        ]
        async with svc.db.write(long=True) as conn:
            await events.emit(
                conn,
                corp_id=tenant.corp_id,
                space_id=1,
                union_id=tenant.union_id,
                now=now,
                changes=changes,
            )


class Api:
    """Storage API calls as raw HTTP on one keep-alive client, for the operator ``union_id``;
    any answer but 200 is a :class:`BenchError`."""

    def __init__(self, client: httpx.Client, union_id: str) -> None:
        self.client = client
        self.query = {"unionId": union_id}

    def call(
        self, method: str, path: str, params: dict[str, str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        response = self.client.request(method, path, params=self.query | (params or {}), **kwargs)
        if response.status_code != 200:
            raise BenchError(f"{method} {path} answered {response.status_code}: {response.text}")
        body: dict[str, Any] = response.json()
        return body


# --- servers -----------------------------------------------------------------------------------


def _dingstore(
    data_dir: Path, database_url: str | None, *argv: str
) -> tuple[list[str], dict[str, str]]:
    exe = Path(sys.executable).with_name("dingstore")
    cmd = [str(exe) if exe.exists() else "dingstore", *argv, "--data-dir", str(data_dir)]
    env = {**os.environ, "DINGSTORE_LOG_LEVEL": "WARNING"}
    if database_url:
        env["DINGSTORE_DATABASE_URL"] = database_url
    return cmd, env


def dingstore_server(
    data_dir: Path, port: int, database_url: str | None = None, label: str = "dingstore"
) -> Server:
    """``dingstore serve`` on ``data_dir`` (and ``database_url``, if given), logging at WARNING."""
    cmd, env = _dingstore(data_dir, database_url, "serve", "--port", str(port))
    return Server(label, cmd, env, port, "/healthz")


def dingstore_worker(data_dir: Path, database_url: str | None, label: str) -> Server:
    """``dingstore worker --concurrency 1``: a process that runs one task at a time and serves
    nothing (its ``port`` is 0)."""
    cmd, env = _dingstore(data_dir, database_url, "worker", "--concurrency", "1")
    return Server(label, cmd, env, 0, "")


@contextlib.contextmanager
def running(server: Server, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """The server's process for the block; SIGTERM (then SIGKILL) when it ends, however."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(server.cmd, env=server.env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield proc
    except Exception:
        err.print(f"[red]{server.label} log (last lines):[/red]\n{tail(log_path)}")
        raise
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
    return text or "(empty log)"


def wait_ready(proc: subprocess.Popen[bytes], url: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"the server exited with status {proc.returncode} while starting")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, headers=headers, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise BenchError(f"{url} did not answer 200 within {READY_TIMEOUT_S:g} s")


def peak_rss_bytes(pid: int) -> int | None:
    """The process's peak resident set size (``VmHWM``), while it still runs; Linux only."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None


# --- report ------------------------------------------------------------------------------------


def nearest_rank(values: list[float], percentile: float) -> float:
    """The ``percentile``-th percentile of ``values``, by nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percentile / 100 * len(ordered)) - 1)]


def widen_output(width: int = 132) -> None:
    """Tables ``width`` columns wide when stdout is not a terminal (rich would assume 80)."""
    if not out.is_terminal:
        out.width = width


def verdict(met: bool) -> str:
    return "[green]met[/green]" if met else "[red]not met[/red]"


def write_results(name: str, results: dict[str, object]) -> Path:
    path = RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    err.print(f"[dim]wrote {path}[/dim]")
    return path


def git_revision() -> dict[str, object]:
    """The commit measured, and whether the working tree differed from it."""

    def git(*argv: str) -> str:
        done = subprocess.run(
            ["git", *argv],
            cwd=BENCH_DIR.parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout.strip() if done.returncode == 0 else ""

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = git("rev-parse", "HEAD")
        if commit:
            return {"git_commit": commit, "git_dirty": bool(git("status", "--porcelain", "src"))}
    return {}
