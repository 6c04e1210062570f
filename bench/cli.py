"""Benchmark the file CLI: ``dingstore put -r`` of many small files and ``put`` of one big file,
beside the floors of the performance issue, and the long-poll's wake-up as the CLI waits.

What is measured
----------------
On a fresh ``dingstore serve`` (the embedded shape, or ``--backend postgres``: PostgreSQL and
local files), as a user runs the commands (a process each, credentials from the environment):

* **many files**: ``dingstore put -r --transfers N`` of ``--files`` (1,000) files of ``--size``
  (10 KB) each, in folders of 100; files/s and MB/s over the command's own transfer time (its
  ``--json`` summary) and over the process's wall time (with its start-up);
* **one big file**: ``dingstore put`` of one file of ``--big-size`` (1 GiB; multipart, 16 MiB
  parts, 4 at a time); MB/s;
* **the floors**, the same bytes: ``cp -r`` of the tree (and ``cp`` of the big file) on the same
  disk, then ``sync``; and ``curl`` PUTting every file to nginx (``nginx.py``; one curl process,
  ``--parallel --parallel-max N``), skipped with a note when nginx is not installed
  (``scripts/bench-tools``);
* **long-poll wake-up**: the CLI waits for a task as ``dingstore.client``'s ``Task.wait()`` does,
  with GetTask's ``waitSeconds``; ``--rounds`` (50) rounds of ``bench/long_poll.py``'s
  ``measure``: from the commit that ends a copy task to the HTTP client holding ``SUCCESS``
  (GetTask's ``endTime`` has second precision, too coarse to measure this from outside).

After the run: ``get -r`` brings the tree back and every file is compared by sha256, and the
big file's size is checked on the server.

Run: ``.venv/bin/python bench/cli.py [--files 1000] [--size 10000] [--big-size 1073741824]
[--transfers 16] [--rounds 50] [--backend sqlite|postgres]``. Results are printed and written to
``bench/results/cli.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import common
import long_poll
import nginx
from common import BenchError, dingstore_server, free_port, out, running, temp_dir, wait_ready
from rich.table import Table

from dingstore.client import Client

MB = 1_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=10_000, help="bytes in each small file")
    parser.add_argument("--big-size", type=int, default=1 << 30, help="bytes in the big file")
    parser.add_argument("--transfers", type=int, default=16, help="files moved at once")
    parser.add_argument("--rounds", type=int, default=50, help="long-poll rounds")
    common.add_backend_args(parser)
    args = parser.parse_args(argv)
    if min(args.files, args.size, args.big_size, args.transfers, args.rounds) <= 0:
        parser.error("every count and size must be positive")
    return args


def make_tree(root: Path, files: int, size: int) -> None:
    for n in range(files):
        folder = root / f"d{n // 100:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n:06d}.bin").write_bytes(os.urandom(size))


def make_big(path: Path, size: int) -> None:
    chunk = os.urandom(1 << 20)
    with path.open("wb") as f:
        left = size
        while left > 0:
            f.write(chunk[: min(left, len(chunk))])
            left -= len(chunk)


def digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def cli(env: dict[str, str], *args: str) -> tuple[float, dict[str, Any]]:
    """``dingstore ARGS --json`` as a process: its wall time and its ``summary`` record."""
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "dingstore", *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - began
    if done.returncode != 0:
        raise BenchError(f"dingstore {' '.join(args)} exited {done.returncode}: {done.stderr}")
    records = [json.loads(line) for line in done.stdout.splitlines()]
    return wall, records[-1]["summary"]


def timed(*cmd: str, **kw: Any) -> float:
    began = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    return time.perf_counter() - began


def curl_floor(tmp: Path, tree: Path, big: Path, transfers: int) -> dict[str, float] | None:
    """Seconds for curl to PUT the tree, then the big file, to nginx; None without nginx."""
    try:
        nginx.executable()
    except BenchError as exc:
        common.err.print(f"[yellow]no nginx floor: {exc}[/yellow]")
        return None
    floor_dir = tmp / "nginx"
    floor_dir.mkdir()
    server, _root = nginx.nginx_server(floor_dir, free_port())
    with running(server, floor_dir / "nginx.log") as proc:
        wait_ready(proc, server.base_url + server.ready_path, {})
        config = tmp / "curl.conf"
        lines = ["silent", "show-error", "fail"]
        for path in sorted(tree.rglob("*.bin")):
            lines += [
                f'upload-file = "{path}"',
                f'url = "{server.base_url}/tree/{path.relative_to(tree)}"',
            ]
        config.write_text("\n".join(lines) + "\n")
        many = timed(
            "curl", "-sS", "--no-progress-meter", "-f", "--parallel",
            "--parallel-max", str(transfers), "-K", str(config), "-o", "/dev/null",
        )  # fmt: skip
        one = timed(
            "curl", "-sS", "-f", "-T", str(big), f"{server.base_url}/big.bin", "-o", "/dev/null"
        )
    return {"tree_s": many, "big_s": one}


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = temp_dir(stack)
    data_dir = tmp / "data"
    tree, big = tmp / "tree", tmp / "big.bin"
    make_tree(tree, args.files, args.size)
    make_big(big, args.big_size)
    tree_bytes = args.files * args.size
    port = free_port()
    database_url = None
    if args.backend == "postgres":
        database_url = stack.enter_context(common.pg_database(args.pg_url))

    async def seed() -> common.Tenant:
        async with common.fresh_services(data_dir, port, database_url) as (_, tenant):
            return tenant

    tenant = asyncio.run(seed())
    server = dingstore_server(data_dir, port, database_url, label="dingstore cli")
    with running(server, tmp / "server.log") as proc:
        wait_ready(proc, server.base_url + server.ready_path, {common.TOKEN_HEADER: tenant.token})
        env = {
            **os.environ,
            "DINGSTORE_ENDPOINT": f"127.0.0.1:{port}",
            "DINGSTORE_APP_KEY": tenant.app_key,
            "DINGSTORE_APP_SECRET": tenant.app_secret,
            "DINGSTORE_UNION_ID": tenant.union_id,
            "DINGSTORE_CONFIG": str(tmp / "profiles.json"),
        }
        with Client(
            env["DINGSTORE_ENDPOINT"], tenant.app_key, tenant.app_secret, tenant.union_id
        ) as c:
            space = c.create_space("bench-cli").id
            transfers = str(args.transfers)
            common.err.print(f"[dim]put -r: {args.files:,} files of {args.size:,} bytes[/dim]")
            tree_wall, tree_sum = cli(
                env, "put", "-r", "--transfers", transfers, str(tree), f"{space}:/tree"
            )
            common.err.print(f"[dim]put: one file of {args.big_size:,} bytes[/dim]")
            big_wall, big_sum = cli(env, "put", str(big), f"{space}:/big.bin")
            common.err.print("[dim]get -r: the tree back, compared by sha256[/dim]")
            back = tmp / "back"
            cli(env, "get", "-r", "--transfers", transfers, f"{space}:/tree", str(back))
            same = digests(back) == digests(tree)
            remote_big = c.resolve((space, "0"), "/big.bin")
    disk_tree = timed("cp", "-r", str(tree), str(tmp / "tree-copy")) + timed("sync")
    disk_big = timed("cp", str(big), str(tmp / "big-copy.bin")) + timed("sync")
    floor = curl_floor(tmp, tree, big, args.transfers)
    common.err.print(f"[dim]long-poll: {args.rounds} copies waited for[/dim]")
    poll_db = None
    if args.backend == "postgres":
        poll_db = stack.enter_context(common.pg_database(args.pg_url))
    woken = asyncio.run(long_poll.measure(tmp / "long-poll", poll_db, args.rounds))
    shutil.rmtree(tmp / "tree-copy", ignore_errors=True)
    checks = {
        "every file back byte for byte (sha256)": same,
        "the big file's size on the server": remote_big is not None
        and remote_big.size == args.big_size,
        "every file sent": tree_sum["uploaded"] == args.files and tree_sum["failed"] == 0,
    }
    return report(
        args,
        tree_bytes,
        tree_wall,
        tree_sum,
        big_wall,
        big_sum,
        disk_tree,
        disk_big,
        floor,
        woken,
        checks,
    )


def report(
    args: argparse.Namespace,
    tree_bytes: int,
    tree_wall: float,
    tree_sum: dict[str, Any],
    big_wall: float,
    big_sum: dict[str, Any],
    disk_tree: float,
    disk_big: float,
    floor: dict[str, float] | None,
    woken: dict[str, Any],
    checks: dict[str, bool],
) -> dict[str, object]:
    table = Table(
        title=f"file CLI — {args.files:,} x {args.size:,} B; one file of {args.big_size:,} B"
    )
    for column in ("", "seconds", "files/s", "MB/s"):
        table.add_column(column, justify="right" if column else "left")
    n = args.files

    def row(label: str, seconds: float, files: int | None, size: int) -> dict[str, float]:
        rate = {"seconds": round(seconds, 3), "mb_per_s": round(size / MB / seconds, 2)}
        if files is not None:
            rate["files_per_s"] = round(files / seconds, 1)
        table.add_row(
            label,
            f"{seconds:.2f}",
            f"{files / seconds:,.0f}" if files else "",
            f"{rate['mb_per_s']:,.1f}",
        )
        return rate

    figures: dict[str, Any] = {
        "put_tree": row("put -r (transfer)", tree_sum["seconds"], n, tree_bytes),
        "put_tree_wall": row("put -r (process wall)", tree_wall, n, tree_bytes),
        "cp_tree_disk": row("cp -r + sync (disk)", disk_tree, n, tree_bytes),
    }
    if floor is not None:
        figures["curl_tree_nginx"] = row("curl -> nginx", floor["tree_s"], n, tree_bytes)
    table.add_section()
    figures["put_big"] = row("put big (transfer)", big_sum["seconds"], None, args.big_size)
    figures["put_big_wall"] = row("put big (process wall)", big_wall, None, args.big_size)
    figures["cp_big_disk"] = row("cp + sync (disk)", disk_big, None, args.big_size)
    if floor is not None:
        figures["curl_big_nginx"] = row("curl -> nginx", floor["big_s"], None, args.big_size)
    out.print(table)
    p50, p99 = woken["p50_ms"], woken["p99_ms"]
    out.print(
        f"long-poll wake-up, the task's end to the client's answer: p50 {p50:.1f} ms, "
        f"p99 {p99:.1f} ms (target <= 20 ms) {common.verdict(p99 <= 20)}"
    )
    for what, met in checks.items():
        out.print(f"{what}: {'yes' if met else 'no'}")
    return {
        "settings": {**vars(args), "pg_url": None},
        "figures": figures,
        "long_poll_ms": woken,
        "checks": checks,
        "all_verified": all(checks.values()),
        **common.git_revision(),
    }


if __name__ == "__main__":
    arguments = parse_args()
    sys.exit(common.run_benchmark(lambda stack: run(arguments, stack), "cli"))
