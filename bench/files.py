"""Benchmark file transfers and deep listing against floors: what the embedded store costs.

What is measured
----------------
Against one fresh ``dingstore serve`` (one uvicorn worker, the embedded default: SQLite and local
files, its data dir in a temp dir), over loopback with one keep-alive httpx client:

* **Upload** of a 1 MB and a 100 MB file (decimal MB), the whole of it as a client sees it:
  GetFileUploadInfo, the PUT of the bytes to ``headerSignatureInfo.resourceUrls[0]`` with exactly
  the signed headers (streamed from a file on disk in 1 MiB pieces, with a ``Content-Length``),
  and CommitFile. The server writes the body to a temporary file, fsyncs it, renames it into
  place and fsyncs the directory before it answers.
* **Download** of each uploaded file: GetFileDownloadInfo and the GET, its body streamed to a
  file on disk (never held in memory; not fsynced). The sha256 of what arrived must equal that
  of what was sent.
* **Listing** of one folder holding ``--children`` (100,000) folders, inserted in bulk before the
  server starts: ListDentries with ``maxResults=50`` from the first page to the last, each page
  timed. The keyset pagination should make the last page cost what the first does; every child
  must be seen exactly once.
* The server's **peak RSS** (``VmHWM``) at the end of the run.

Each transfer is repeated ``--repeat`` times (default 3); the median is reported.

The floors
----------
Interleaved with the transfers, in the same temp dir on the same disk: writing the same bytes
from the same source file to a new file in 1 MiB pieces followed by one ``fsync`` (the least a
durable store must do; the server also renames and fsyncs the directory, which the floor skips,
so the floor is slightly flattering to the disk), and reading that file back in 1 MiB pieces
(from the page cache, as the server's freshly written blob is too; nothing is dropped). The
ratios upload/write and download/read are the share of the disk's speed that survives HTTP,
Python, the signature check and the metadata calls; the target is >= 0.5 for both. Listing's
target is last pages <= 2x first pages (median of the last 10 against median of the first 10).

Results are printed and written to ``bench/results/files.json``.

Run: ``.venv/bin/python bench/files.py [--repeat 3] [--children 100000] [--skip-large]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import hashlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common
import httpx
from common import (
    TOKEN_HEADER,
    BenchError,
    Server,
    Tenant,
    dingstore_server,
    err,
    free_port,
    git_revision,
    out,
    peak_rss_bytes,
    running,
    temp_dir,
    verdict,
    wait_ready,
)
from rich.table import Table

if TYPE_CHECKING:
    from dingstore.service.container import Services

MB = 1_000_000
SMALL, LARGE = 1 * MB, 100 * MB
PIECE = 1024 * 1024  # what the server reads and writes at a time, and so do the client and floor
PAGE_SIZE = 50
EDGE_PAGES = 10  # pages compared at each end of the listing
INSERT_BATCH = 10_000

TRANSFER_RATIO_TARGET = 0.5
LISTING_RATIO_TARGET = 2.0


@dataclass(frozen=True)
class Fixture:
    tenant: Tenant
    space_id: int
    folder_id: int
    child_ids: range
    seed_s: float


@dataclass(frozen=True)
class Transfer:
    """Median figures for one file size, in MB/s, with every sample in seconds."""

    size_bytes: int
    upload_mb_s: float
    download_mb_s: float
    write_mb_s: float
    read_mb_s: float
    samples_s: dict[str, list[float]]

    @property
    def upload_ratio(self) -> float:
        return self.upload_mb_s / self.write_mb_s

    @property
    def download_ratio(self) -> float:
        return self.download_mb_s / self.read_mb_s


@dataclass(frozen=True)
class Listing:
    children: int
    pages: int
    first_ms: float
    median_ms: float
    p99_ms: float
    last_ms: float
    first_pages_median_ms: float
    last_pages_median_ms: float
    all_seen_once: bool

    @property
    def ratio(self) -> float:
        return self.last_pages_median_ms / self.first_pages_median_ms


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each transfer (median)")
    parser.add_argument("--children", type=int, default=100_000, help="children of the folder")
    parser.add_argument("--skip-large", action="store_true", help="skip the 100 MB file")
    args = parser.parse_args(argv)
    if args.repeat <= 0:
        parser.error("--repeat must be positive")
    if args.children < 2 * EDGE_PAGES * PAGE_SIZE:
        parser.error(f"--children must be at least {2 * EDGE_PAGES * PAGE_SIZE}")
    return args


async def seed(data_dir: Path, port: int, children: int) -> Fixture:
    """A fresh store: the bootstrap tenant, a space, and in it a folder with ``children``
    child folders inserted in bulk (ids reserved from the store's allocator)."""
    from dingstore.service.spaces import NewSpace

    started = time.perf_counter()
    async with common.fresh_services(data_dir, port) as (svc, tenant):
        actor = await common.actor(svc, tenant)
        space = await svc.spaces.add(actor, NewSpace(name="bench", scene="bench", scene_id="1"))
        folder = await svc.dentries.add_folder(actor, str(space.id), "0", "many", None)
        first = await svc.ids.reserve(children)
        child_ids = range(first, first + children)
        await insert_children(svc, space.id, folder.id, child_ids, tenant.union_id)
    return Fixture(tenant, space.id, folder.id, child_ids, time.perf_counter() - started)


async def insert_children(
    svc: Services, space_id: int, parent_id: int, ids: range, creator_id: str
) -> None:
    """Folders ``child-000000``… under ``parent_id``, one write transaction, executemany.
    Modified times step by 1 ms, as if made one after another."""
    import sqlalchemy as sa

    from dingstore.clock import now_ms
    from dingstore.store import dentries as store_dentries
    from dingstore.store.schema import dentries

    now = now_ms() - len(ids)
    rows = [
        {
            "id": dentry_id,
            "space_id": space_id,
            "parent_id": parent_id,
            "name": f"child-{n:06d}",
            "type": "FOLDER",
            "size": 0,
            "status": "NORMAL",
            "uuid": uuid.uuid4().hex,
            "creator_id": creator_id,
            "modifier_id": creator_id,
            "created_at": now + n,
            "modified_at": now + n,
        }
        for n, dentry_id in enumerate(ids)
    ]
    async with svc.db.write() as conn:
        for start in range(0, len(rows), INSERT_BATCH):
            await conn.execute(sa.insert(dentries), rows[start : start + INSERT_BATCH])
        await store_dentries.grow_chain(conn, parent_id, len(rows), 0)


def make_source(path: Path, size: int) -> str:
    """A file of ``size`` random bytes; its sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        for offset in range(0, size, PIECE):
            piece = os.urandom(min(PIECE, size - offset))
            digest.update(piece)
            f.write(piece)
    return digest.hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(PIECE):
            digest.update(piece)
    return digest.hexdigest()


def pieces_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while piece := f.read(PIECE):
            yield piece


# --- the API -----------------------------------------------------------------------------------


class Api(common.Api):
    """The storage API calls the benchmark makes."""

    def __init__(self, client: httpx.Client, fixture: Fixture) -> None:
        super().__init__(client, fixture.tenant.union_id)
        self.space = f"/v1.0/storage/spaces/{fixture.space_id}"

    def upload_info(self) -> dict[str, Any]:
        body = {"protocol": "HEADER_SIGNATURE", "multipart": False}
        path = f"{self.space}/files/uploadInfos/query"
        return self.call("POST", path, json=body)

    def commit(self, upload_key: str, name: str) -> dict[str, Any]:
        body = {"uploadKey": upload_key, "name": name, "parentId": "0"}
        path = f"{self.space}/files/commit"
        dentry: dict[str, Any] = self.call("POST", path, json=body)["dentry"]
        return dentry

    def download_info(self, dentry_id: str) -> dict[str, Any]:
        path = f"{self.space}/dentries/{dentry_id}/downloadInfos/query"
        return self.call("POST", path, json={})

    def list_page(self, parent_id: int, next_token: str | None) -> httpx.Response:
        params = {**self.query, "parentId": str(parent_id), "maxResults": str(PAGE_SIZE)}
        if next_token is not None:
            params["nextToken"] = next_token
        return self.client.get(f"{self.space}/dentries", params=params)

    def put(self, signed: dict[str, Any], source: Path, size: int) -> None:
        headers = {**signed["headers"], "Content-Length": str(size)}
        url = signed["resourceUrls"][0]
        response = self.client.put(url, content=pieces_of(source), headers=headers)
        if response.status_code != 200:
            raise BenchError(f"PUT {url} answered {response.status_code}: {response.text}")

    def get_to(self, signed: dict[str, Any], target: Path) -> int:
        url = signed["resourceUrls"][0]
        received = 0
        with (
            self.client.stream("GET", url, headers=signed["headers"]) as response,
            target.open("wb") as f,
        ):
            if response.status_code != 200:
                response.read()
                raise BenchError(f"GET {url} answered {response.status_code}: {response.text}")
            for piece in response.iter_bytes():
                f.write(piece)
                received += len(piece)
        return received


# --- transfers ---------------------------------------------------------------------------------


def upload(api: Api, source: Path, size: int, name: str) -> tuple[float, str]:
    """Seconds for the whole upload; the new file's dentry id."""
    started = time.perf_counter()
    info = api.upload_info()
    api.put(info["headerSignatureInfo"], source, size)
    dentry = api.commit(info["uploadKey"], name)
    elapsed = time.perf_counter() - started
    if int(dentry["size"]) != size:
        raise BenchError(f"CommitFile recorded {dentry['size']} bytes, not {size}")
    return elapsed, str(dentry["id"])


def download(api: Api, dentry_id: str, target: Path, size: int) -> float:
    """Seconds for the whole download, into ``target``."""
    started = time.perf_counter()
    info = api.download_info(dentry_id)
    received = api.get_to(info["headerSignatureInfo"], target)
    elapsed = time.perf_counter() - started
    if received != size:
        raise BenchError(f"the download of {dentry_id} brought {received} bytes, not {size}")
    return elapsed


def direct_write(source: Path, target: Path) -> float:
    """Seconds to copy ``source`` to a new ``target`` in pieces, fsynced: the upload floor."""
    started = time.perf_counter()
    with target.open("xb") as f:
        for piece in pieces_of(source):
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - started


def direct_read(path: Path) -> float:
    """Seconds to read ``path`` in pieces (page cache and all): the download floor."""
    started = time.perf_counter()
    for _ in pieces_of(path):
        pass
    return time.perf_counter() - started


def measure_transfers(api: Api, work: Path, size: int, repeat: int) -> Transfer:
    """Upload, download and both floors, interleaved, ``repeat`` times; medians."""
    source, floor, fetched = work / "source.bin", work / "floor.bin", work / "fetched.bin"
    expected = make_source(source, size)
    samples: dict[str, list[float]] = {"upload": [], "download": [], "write": [], "read": []}
    try:
        for n in range(repeat):
            samples["write"].append(direct_write(source, floor))
            seconds, dentry_id = upload(api, source, size, f"file-{size}-{n}.bin")
            samples["upload"].append(seconds)
            samples["read"].append(direct_read(floor))
            floor.unlink()
            samples["download"].append(download(api, dentry_id, fetched, size))
            if sha256_of(fetched) != expected:
                raise BenchError(f"the download of {dentry_id} differs from what was uploaded")
            fetched.unlink()
    finally:
        for path in (source, floor, fetched):
            path.unlink(missing_ok=True)

    def rate(kind: str) -> float:
        return size / MB / statistics.median(samples[kind])

    return Transfer(size, rate("upload"), rate("download"), rate("write"), rate("read"), samples)


# --- listing -----------------------------------------------------------------------------------


def measure_listing(api: Api, fixture: Fixture) -> Listing:
    """Every page of the big folder, first to last; each page's time, and the ids seen."""
    times_ms: list[float] = []
    seen: list[str] = []
    token: str | None = None
    while True:
        started = time.perf_counter()
        response = api.list_page(fixture.folder_id, token)
        times_ms.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise BenchError(f"ListDentries answered {response.status_code}: {response.text}")
        body = response.json()
        seen.extend(str(d["id"]) for d in body["dentries"])
        token = body.get("nextToken")
        if not token:
            break
    expected = {str(i) for i in fixture.child_ids}
    return Listing(
        children=len(fixture.child_ids),
        pages=len(times_ms),
        first_ms=times_ms[0],
        median_ms=statistics.median(times_ms),
        p99_ms=common.nearest_rank(times_ms, 99),
        last_ms=times_ms[-1],
        first_pages_median_ms=statistics.median(times_ms[:EDGE_PAGES]),
        last_pages_median_ms=statistics.median(times_ms[-EDGE_PAGES:]),
        all_seen_once=len(seen) == len(expected) and set(seen) == expected,
    )


# --- report ------------------------------------------------------------------------------------


def size_label(size: int) -> str:
    return f"{size // MB} MB"


def report(
    transfers: list[Transfer], listing: Listing, rss: int | None, settings: dict[str, object]
) -> dict[str, object]:
    table = Table(title=f"files — embedded store, median of {settings['repeat']}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target")
    targets: dict[str, bool] = {}
    for t in transfers:
        label = size_label(t.size_bytes)
        up_met = t.upload_ratio >= TRANSFER_RATIO_TARGET
        down_met = t.download_ratio >= TRANSFER_RATIO_TARGET
        targets[f"upload_{label.replace(' ', '')}"] = up_met
        targets[f"download_{label.replace(' ', '')}"] = down_met
        table.add_row(f"{label} upload MB/s", f"{t.upload_mb_s:,.1f}", "")
        table.add_row(f"{label} direct write+fsync MB/s", f"{t.write_mb_s:,.1f}", "")
        table.add_row(
            f"{label} upload / direct write",
            f"{t.upload_ratio:.2f}",
            f">= {TRANSFER_RATIO_TARGET} {verdict(up_met)}",
        )
        table.add_row(f"{label} download MB/s", f"{t.download_mb_s:,.1f}", "")
        table.add_row(f"{label} direct read MB/s", f"{t.read_mb_s:,.1f}", "")
        table.add_row(
            f"{label} download / direct read",
            f"{t.download_ratio:.2f}",
            f">= {TRANSFER_RATIO_TARGET} {verdict(down_met)}",
            end_section=True,
        )
    list_met = listing.ratio <= LISTING_RATIO_TARGET
    targets["listing_last_vs_first"] = list_met
    targets["listing_all_seen_once"] = listing.all_seen_once
    table.add_row(f"ListDentries pages ({listing.children:,} children)", f"{listing.pages:,}", "")
    table.add_row("first page ms", f"{listing.first_ms:.2f}", "")
    table.add_row("median page ms", f"{listing.median_ms:.2f}", "")
    table.add_row("p99 page ms", f"{listing.p99_ms:.2f}", "")
    table.add_row("last page ms", f"{listing.last_ms:.2f}", "")
    table.add_row(f"first {EDGE_PAGES} pages median ms", f"{listing.first_pages_median_ms:.2f}", "")
    table.add_row(f"last {EDGE_PAGES} pages median ms", f"{listing.last_pages_median_ms:.2f}", "")
    table.add_row(
        "last / first",
        f"{listing.ratio:.2f}",
        f"<= {LISTING_RATIO_TARGET:g} {verdict(list_met)}",
    )
    table.add_row(
        "every child seen exactly once",
        "yes" if listing.all_seen_once else "no",
        verdict(listing.all_seen_once),
        end_section=True,
    )
    table.add_row("server peak RSS MiB", "?" if rss is None else f"{rss / 2**20:,.1f}", "")
    out.print(table)
    return {
        "settings": settings,
        "transfers": [
            {
                **asdict(t),
                "upload_ratio": round(t.upload_ratio, 4),
                "download_ratio": round(t.download_ratio, 4),
            }
            for t in transfers
        ],
        "listing": {**asdict(listing), "ratio": round(listing.ratio, 4)},
        "server_peak_rss_bytes": rss,
        "targets": {
            "transfer_ratio_min": TRANSFER_RATIO_TARGET,
            "listing_ratio_max": LISTING_RATIO_TARGET,
            "met": targets,
        },
    }


# --- main --------------------------------------------------------------------------------------


def measure_server(
    server: Server,
    proc: subprocess.Popen[bytes],
    fixture: Fixture,
    work: Path,
    sizes: list[int],
    repeat: int,
) -> tuple[list[Transfer], Listing, int | None]:
    headers = {TOKEN_HEADER: fixture.tenant.token}
    wait_ready(proc, server.base_url + server.ready_path, headers)
    timeout = httpx.Timeout(60.0)
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=timeout) as client:
        api = Api(client, fixture)
        api.list_page(0, None).raise_for_status()  # warm the auth caches and the connection
        transfers = []
        for size in sizes:
            err.print(f"[dim]{size_label(size)}: {repeat} uploads, downloads and floors[/dim]")
            transfers.append(measure_transfers(api, work, size, repeat))
        err.print(f"[dim]ListDentries: {len(fixture.child_ids):,} children[/dim]")
        listing = measure_listing(api, fixture)
    if proc.poll() is not None:
        raise BenchError(f"the server exited ({proc.returncode}) during the run")
    return transfers, listing, peak_rss_bytes(proc.pid)


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = temp_dir(stack)
    data_dir, work = tmp / "data", tmp / "work"
    work.mkdir()
    port = free_port()
    err.print(f"[dim]seeding a store with {args.children:,} children in {tmp}[/dim]")
    fixture = asyncio.run(seed(data_dir, port, args.children))
    err.print(f"[dim]seeded in {fixture.seed_s:.1f} s[/dim]")

    sizes = [SMALL] if args.skip_large else [SMALL, LARGE]
    server = dingstore_server(data_dir, port, label="dingstore files")
    with running(server, tmp / "server.log") as proc:
        transfers, listing, rss = measure_server(server, proc, fixture, work, sizes, args.repeat)
    settings: dict[str, object] = {
        "repeat": args.repeat,
        "children": args.children,
        "page_size": PAGE_SIZE,
        "skip_large": args.skip_large,
        "seed_s": round(fixture.seed_s, 2),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(transfers, listing, rss, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return common.run_benchmark(lambda stack: run(args, stack), "files")


if __name__ == "__main__":
    sys.exit(main())
