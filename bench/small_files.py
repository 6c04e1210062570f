"""Benchmark many small uploads against nginx: files per second from concurrent clients.

What is measured
----------------
``--files`` (1,000) files of ``--size`` (10 KB) random bytes each, uploaded by ``--clients`` (8)
concurrent clients (threads, each with its own keep-alive connection of ``rawhttp.py``; client
``i`` sends files ``i``, ``i + clients``, …), first to nginx, then to a fresh ``dingstore serve``
(the embedded shape: SQLite and local files):

* **nginx** (``nginx.py``, one process): one PUT a file, into a temporary file renamed into
  place, never fsynced; ``FLOOR_ROUNDS`` (5) rounds of all the files, the median round kept.
* **dingstore**: what an SDK user does for each file, GetFileUploadInfo, the PUT of the bytes to
  the signed URL and CommitFile into one folder (``small/``): three requests, the blob's file
  and directory fsyncs and two durable SQLite commits (``synchronous = FULL``) a file.
* **dingstore's PUTs alone**: the same files again, their upload URLs fetched first, only the
  PUTs timed (the data plane's share), then committed into a second folder (``puts/``),
  untimed.

Reported: files per second (all files over the wall time from the first request to the last
answer) and each file's latency (p50, p99), for each, each of dingstore's three requests' p50,
and the ratios to nginx.

After the run the store is checked: each folder lists exactly the files sent, each once, each
of ``--size`` bytes; a sample of ``--check`` files downloads byte for byte from each; no upload
is left uncommitted (SQLite ``uploads`` table empty) and there is one blob row a file. nginx's
copies are checked the same way.

Results are printed and written to ``bench/results/small_files.json``.

Run: ``.venv/bin/python bench/small_files.py [--files 1000] [--size 10000] [--clients 8]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import random
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import common
import nginx
import transfers
from common import (
    BenchError,
    Tenant,
    dingstore_server,
    err,
    free_port,
    git_revision,
    out,
    temp_dir,
    verdict,
)
from rich.table import Table

PAGE_SIZE = 50
# nginx takes the files in tens of milliseconds, where a scheduling hiccup shows: the median of
# this many rounds.
FLOOR_ROUNDS = 5


@dataclass(frozen=True)
class Fixture:
    tenant: Tenant
    space_id: int
    folder_id: int  # the files sent through the whole protocol
    puts_folder_id: int  # the same files, their PUTs timed alone


@dataclass(frozen=True)
class Run:
    """One side's figures: files per second over the whole run, latencies in ms (for dingstore
    also each request's p50)."""

    files: int
    seconds: float
    p50_ms: float
    p99_ms: float
    step_p50_ms: dict[str, float]

    @property
    def files_per_s(self) -> float:
        return self.files / self.seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=1000, help="files to upload")
    parser.add_argument("--size", type=int, default=10_000, help="bytes in each file")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--check", type=int, default=50, help="files downloaded to compare")
    args = parser.parse_args(argv)
    if min(args.files, args.size, args.clients) <= 0 or args.check < 0:
        parser.error("--files, --size and --clients must be positive")
    return args


async def seed(data_dir: Path, port: int) -> Fixture:
    """A fresh store: the bootstrap tenant, a space and two empty folders in it."""
    from dingstore.service.spaces import NewSpace

    async with common.fresh_services(data_dir, port) as (svc, tenant):
        actor = await common.actor(svc, tenant)
        space = await svc.spaces.add(actor, NewSpace(name="bench", scene="bench", scene_id="1"))
        folder = await svc.dentries.add_folder(actor, str(space.id), "0", "small", None)
        puts = await svc.dentries.add_folder(actor, str(space.id), "0", "puts", None)
    return Fixture(tenant, space.id, folder.id, puts.id)


def name_of(n: int) -> str:
    return f"file-{n:06d}.bin"


def concurrently(
    clients: int, count: int, make: Callable[[], transfers.Api | transfers.Floor], one: Callable
) -> Run:
    """``one(connection, n)`` for every ``n`` below ``count``, ``clients`` threads at once, each
    with its own connection; the wall time and each call's latency."""
    latencies: list[float] = []
    failures: list[BaseException] = []
    connections = [make() for _ in range(clients)]
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        mine = []
        start.wait()
        try:
            for n in range(i, count, clients):
                began = time.perf_counter()
                one(connections[i], n)
                mine.append(time.perf_counter() - began)
        except BaseException as exc:  # reported once all threads end
            failures.append(exc)
        latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    steps: dict[str, list[float]] = {}
    for conn in connections:
        conn.close()
        for step, taken in getattr(conn, "steps", {}).items():
            steps.setdefault(step, []).extend(taken)
    if failures:
        raise BenchError(f"{len(failures)} client(s) failed; the first: {failures[0]!r}")
    return Run(
        count,
        seconds,
        statistics.median(latencies) * 1000,
        common.nearest_rank(latencies, 99) * 1000,
        {step: statistics.median(taken) * 1000 for step, taken in steps.items() if taken},
    )


def puts_alone(
    args: argparse.Namespace,
    base_url: str,
    fixture: Fixture,
    payloads: list[bytes],
    api_conn: Callable[[], transfers.Api],
) -> Run:
    """The data plane's part alone: GetFileUploadInfo for every file first, then the PUTs timed
    from ``--clients`` clients, then CommitFile into the second folder (untimed, so that the
    store is left with no pending upload)."""
    err.print(f"[dim]dingstore: {args.files:,} PUTs alone from {args.clients} clients[/dim]")
    setup = api_conn()
    infos = [setup.upload_info() for _ in payloads]
    setup.close()

    def put(conn: transfers.Api, n: int) -> None:
        conn.put(infos[n]["headerSignatureInfo"], payloads[n])

    def commit(conn: transfers.Api, n: int) -> None:
        conn.commit(infos[n]["uploadKey"], name_of(n), fixture.puts_folder_id)

    timed = concurrently(args.clients, args.files, api_conn, put)
    concurrently(args.clients, args.files, api_conn, commit)
    return timed


# --- checks ------------------------------------------------------------------------------------


def check_store(
    base_url: str, fixture: Fixture, data_dir: Path, payloads: list[bytes], sample: list[int]
) -> dict[str, bool]:
    """What dingstore holds after the run, through the API and in its database."""
    api = transfers.Api(base_url, fixture.tenant, fixture.space_id)
    expected = {name_of(n) for n in range(len(payloads))}
    checks = {}
    try:
        for label, folder_id in (("small", fixture.folder_id), ("puts", fixture.puts_folder_id)):
            listed = list_folder(api, folder_id)
            checks[f"{label}/: every file listed once"] = set(listed) == expected and all(
                len(found) == 1 for found in listed.values()
            )
            checks[f"{label}/: every file of its size"] = all(
                int(str(d["size"])) == len(payloads[0]) for found in listed.values() for d in found
            )
            same = True
            for n in sample:
                received = bytearray()
                dentry_id = str(listed[name_of(n)][0]["id"])
                api.download(dentry_id, received.extend, len(payloads[n]))
                same = same and bytes(received) == payloads[n]
            checks[f"{label}/: {len(sample)} sampled downloads byte for byte"] = same
    finally:
        api.close()
    with contextlib.closing(sqlite3.connect(data_dir / "dingstore.db")) as db:
        left = db.execute("SELECT count(*) FROM uploads").fetchone()[0]
        blob_rows = db.execute("SELECT count(*) FROM blobs").fetchone()[0]
    checks["no upload left uncommitted"] = left == 0
    checks["one blob a file"] = blob_rows == 2 * len(payloads)
    return checks


def list_folder(api: transfers.Api, folder_id: int) -> dict[str, list[dict[str, object]]]:
    """Every child of the folder, by name."""
    listed: dict[str, list[dict[str, object]]] = {}
    token = None
    while True:
        response = api.list_page(folder_id, PAGE_SIZE, token)
        if response.status != 200:
            raise BenchError(f"ListDentries answered {response.status}: {response.text}")
        body = response.json()
        for dentry in body["dentries"]:
            listed.setdefault(dentry["name"], []).append(dentry)
        token = body.get("nextToken")
        if not token:
            return listed


def check_floor(root: Path, payloads: list[bytes], sample: list[int]) -> dict[str, bool]:
    rounds = [root / f"round-{k}" for k in range(FLOOR_ROUNDS)]
    expected = {name_of(n) for n in range(len(payloads))}
    return {
        "nginx holds every file": all({p.name for p in r.iterdir()} == expected for r in rounds),
        "nginx's sample byte for byte": all(
            (r / name_of(n)).read_bytes() == payloads[n] for r in rounds for n in sample
        ),
    }


# --- report ------------------------------------------------------------------------------------


def report(
    dingstore: Run, puts: Run, floor: Run, checks: dict[str, bool], settings: dict[str, object]
) -> dict[str, object]:
    table = Table(
        title=f"small files — {settings['files']:,} x {settings['size']:,} bytes, "
        f"{settings['clients']} clients"
    )
    table.add_column("figure")
    table.add_column("dingstore", justify="right")
    table.add_column("nginx", justify="right")
    table.add_row("files/s", f"{dingstore.files_per_s:,.0f}", f"{floor.files_per_s:,.0f}")
    table.add_row("p50 ms a file", f"{dingstore.p50_ms:.2f}", f"{floor.p50_ms:.2f}")
    table.add_row("p99 ms a file", f"{dingstore.p99_ms:.2f}", f"{floor.p99_ms:.2f}")
    for step, ms in dingstore.step_p50_ms.items():
        table.add_row(f"  {step} p50 ms", f"{ms:.2f}", "")
    table.add_row("seconds", f"{dingstore.seconds:.2f}", f"{floor.seconds:.2f}")
    ratio = dingstore.files_per_s / floor.files_per_s
    table.add_row("dingstore / nginx", f"{ratio:.3f}", "", end_section=True)
    puts_ratio = puts.files_per_s / floor.files_per_s
    table.add_row("PUTs alone (URLs fetched before), files/s", f"{puts.files_per_s:,.0f}", "")
    table.add_row("PUTs alone p50 / p99 ms", f"{puts.p50_ms:.2f} / {puts.p99_ms:.2f}", "")
    table.add_row("PUTs alone / nginx", f"{puts_ratio:.3f}", "", end_section=True)
    for what, met in checks.items():
        table.add_row(what, "yes" if met else "no", verdict(met))
    out.print(table)
    return {
        "settings": settings,
        "dingstore": {**asdict(dingstore), "files_per_s": round(dingstore.files_per_s, 1)},
        "nginx": {**asdict(floor), "files_per_s": round(floor.files_per_s, 1)},
        "ratio": round(ratio, 4),
        "puts_alone": {**asdict(puts), "files_per_s": round(puts.files_per_s, 1)},
        "puts_alone_ratio": round(puts_ratio, 4),
        "checks": checks,
        "all_verified": all(checks.values()),
    }


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = temp_dir(stack)
    data_dir, floor_dir = tmp / "data", tmp / "nginx"
    floor_dir.mkdir()
    port = free_port()
    fixture = asyncio.run(seed(data_dir, port))
    payloads = [os.urandom(args.size) for _ in range(args.files)]
    sample = sorted(random.sample(range(args.files), min(args.check, args.files)))

    server = dingstore_server(data_dir, port, label="dingstore small files")
    with nginx.beside(server, fixture.tenant.token, tmp, floor_dir) as pair:
        floor, root = pair.floor, pair.root

        def to_floor(round_: int) -> Callable[[transfers.Floor, int], None]:
            def one(conn: transfers.Floor, n: int) -> None:
                conn.upload(payloads[n], f"/round-{round_}/{name_of(n)}")

            return one

        def to_dingstore(conn: transfers.Api, n: int) -> None:
            conn.upload(payloads[n], name_of(n), fixture.folder_id)

        def floor_conn() -> transfers.Floor:
            return transfers.Floor(floor.base_url, root)

        def api_conn() -> transfers.Api:
            return transfers.Api(server.base_url, fixture.tenant, fixture.space_id)

        err.print(f"[dim]nginx: {args.files:,} PUTs from {args.clients} clients[/dim]")
        floor_runs = [
            concurrently(args.clients, args.files, floor_conn, to_floor(k))
            for k in range(FLOOR_ROUNDS)
        ]
        floor_run = sorted(floor_runs, key=lambda r: r.seconds)[FLOOR_ROUNDS // 2]
        for written in root.glob("round-*/*"):  # nginx does not fsync; dingstore must not wait
            transfers.fsync_path(written)  # for the writeback of nginx's files
        err.print(f"[dim]dingstore: {args.files:,} uploads from {args.clients} clients[/dim]")
        dingstore_run = concurrently(args.clients, args.files, api_conn, to_dingstore)
        puts_run = puts_alone(args, server.base_url, fixture, payloads, api_conn)
        checks = check_store(server.base_url, fixture, data_dir, payloads, sample)
        checks.update(check_floor(root, payloads, sample))
        pair.check_alive()
    settings: dict[str, object] = {
        "files": args.files,
        "size": args.size,
        "clients": args.clients,
        "checked": len(sample),
        "nginx": nginx.version(),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(dingstore_run, puts_run, floor_run, checks, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    common.widen_output()
    return common.run_benchmark(lambda stack: run(args, stack), "small_files")


if __name__ == "__main__":
    sys.exit(main())
