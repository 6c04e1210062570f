"""Benchmark file transfers against nginx, and a deep listing: what the embedded store costs.

What is measured
----------------
Against one fresh ``dingstore serve`` (one uvicorn worker, the embedded default: SQLite and local
files, its data dir in a temp dir) and, as the floor, one nginx process (``nginx.py``) serving
and taking the same files, over loopback, each through one keep-alive connection of the same
lean client (``rawhttp.py``: uploads leave it by ``sendfile``, downloads land in a reused 1 MiB
buffer; httpx was measured to be the bottleneck):

* **Upload** of a 1 MB and a 100 MB file (decimal MB), the whole of it as an SDK user sees it:
  GetFileUploadInfo, the PUT of the bytes to ``headerSignatureInfo.resourceUrls[0]`` with exactly
  the signed headers and a ``Content-Length``, and CommitFile. The server writes the body to a
  temporary file, fsyncs it, links it into place and fsyncs the directory before it answers.
  The floor: one PUT of the same file to nginx (its DAV module: a temporary file renamed into
  place, no fsync).
* **Download** of each uploaded file: GetFileDownloadInfo and the GET; the floor: one GET of
  nginx's copy. The client keeps nothing but a CRC-32 of what arrived, which must equal the
  source's, for both.
* **Disk write + fsync** of the same bytes (written, then one fsync), for context: what a
  durable write costs on this disk (nginx's upload is not durable; dingstore's is, and starts
  the writeback as the bytes arrive, so it can come out ahead of this figure).
* **Listing** of one folder holding ``--children`` (100,000) folders, inserted in bulk before the
  server starts: ListDentries with ``maxResults=50`` from the first page to the last, each page
  timed. The keyset pagination should make the last page cost what the first does; every child
  must be seen exactly once.
* The server's **peak RSS** (``VmHWM``) at the end of the run.

Each 100 MB transfer is repeated ``--repeat`` times (default 3), each 1 MB one ten times as
often (a few milliseconds each, they vary most), interleaved with the floor's; the median is
reported. Targets: dingstore / nginx >= 0.5 for the 100 MB upload and download,
>= 0.3 for 1 MB (where the three-request upload protocol costs what it costs); listing: last
pages <= 2x first pages (median of the last 10 against median of the first 10).

Results are printed and written to ``bench/results/files.json``.

Run: ``.venv/bin/python bench/files.py [--repeat 3] [--children 100000] [--skip-large]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import os
import statistics
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

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
    peak_rss_bytes,
    temp_dir,
    verdict,
)
from rich.table import Table

if TYPE_CHECKING:
    from dingstore.service.container import Services

MB = 1_000_000
SMALL, LARGE = 1 * MB, 100 * MB
PIECE = 1024 * 1024  # what the server reads and writes at a time, and so does the disk floor
PAGE_SIZE = 50
EDGE_PAGES = 10  # pages compared at each end of the listing
INSERT_BATCH = 10_000

# dingstore / nginx, by size: a 1 MB upload pays for three requests and two commits.
TRANSFER_RATIO_TARGETS = {SMALL: 0.3, LARGE: 0.5}
SMALL_REPEAT = 10  # 1 MB transfers run this many times as often as --repeat says
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
    nginx_put_mb_s: float
    nginx_get_mb_s: float
    disk_write_mb_s: float
    samples_s: dict[str, list[float]]

    @property
    def upload_ratio(self) -> float:
        return self.upload_mb_s / self.nginx_put_mb_s

    @property
    def download_ratio(self) -> float:
        return self.download_mb_s / self.nginx_get_mb_s


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


def make_source(path: Path, size: int) -> None:
    """A file of ``size`` random bytes, fsynced (no step should pay for its writeback)."""
    with path.open("wb") as f:
        for offset in range(0, size, PIECE):
            f.write(os.urandom(min(PIECE, size - offset)))
        f.flush()
        os.fsync(f.fileno())


def pieces_of(path: Path) -> Iterator[bytes]:
    with path.open("rb") as f:
        while piece := f.read(PIECE):
            yield piece


# --- transfers ---------------------------------------------------------------------------------


def disk_write(source: Path, target: Path) -> float:
    """Seconds to copy ``source`` to a new ``target`` in pieces, fsynced: the disk's part."""
    started = time.perf_counter()
    with target.open("xb") as f:
        for piece in pieces_of(source):
            f.write(piece)
        f.flush()
        os.fsync(f.fileno())
    return time.perf_counter() - started


class Checksum:
    """A download's sink: the CRC-32 of what arrived (4 GB/s here, so the client stays cheap;
    writing the bytes to a new file made both servers' figures depend on the page cache)."""

    def __init__(self) -> None:
        self.crc = 0

    def __call__(self, piece: memoryview) -> None:
        self.crc = zlib.crc32(piece, self.crc)


def crc_of(path: Path) -> int:
    crc = 0
    for piece in pieces_of(path):
        crc = zlib.crc32(piece, crc)
    return crc


def fetch_checked(fetch: Callable[[transfers.Sink], float], expected: int, what: str) -> float:
    """Seconds ``fetch`` took to bring a body, whose CRC-32 must be ``expected``."""
    sink = Checksum()
    seconds = fetch(sink)
    if sink.crc != expected:
        raise BenchError(f"{what} differs from what was uploaded")
    return seconds


def measure_transfers(
    api: transfers.Api, floor: transfers.Floor, work: Path, size: int, repeat: int
) -> Transfer:
    """Uploads and downloads through dingstore and through nginx, and the disk's write,
    interleaved, ``repeat`` times; medians."""
    source, written = work / "source.bin", work / "written.bin"
    make_source(source, size)
    expected = crc_of(source)
    kinds = ("upload", "download", "nginx_put", "nginx_get", "disk_write")
    samples: dict[str, list[float]] = {kind: [] for kind in kinds}
    try:
        for n in range(repeat):
            path = f"/files/{size}-{n}.bin"
            samples["disk_write"].append(disk_write(source, written))
            written.unlink()
            samples["nginx_put"].append(floor.upload((source, size), path))
            floor.sync(path)
            seconds, dentry = api.upload((source, size), f"file-{size}-{n}.bin")
            samples["upload"].append(seconds)
            samples["nginx_get"].append(
                fetch_checked(
                    functools.partial(floor.download, path, size=size), expected, f"nginx's {path}"
                )
            )
            samples["download"].append(
                fetch_checked(
                    functools.partial(api.download, str(dentry["id"]), size=size),
                    expected,
                    f"the download of {dentry['id']}",
                )
            )
    finally:
        for leftover in (source, written):
            leftover.unlink(missing_ok=True)

    def rate(kind: str) -> float:
        return size / MB / statistics.median(samples[kind])

    return Transfer(
        size_bytes=size,
        upload_mb_s=rate("upload"),
        download_mb_s=rate("download"),
        nginx_put_mb_s=rate("nginx_put"),
        nginx_get_mb_s=rate("nginx_get"),
        disk_write_mb_s=rate("disk_write"),
        samples_s=samples,
    )


# --- listing -----------------------------------------------------------------------------------


def measure_listing(api: transfers.Api, fixture: Fixture) -> Listing:
    """Every page of the big folder, first to last; each page's time, and the ids seen."""
    times_ms: list[float] = []
    seen: list[str] = []
    token: str | None = None
    while True:
        started = time.perf_counter()
        response = api.list_page(fixture.folder_id, PAGE_SIZE, token)
        times_ms.append((time.perf_counter() - started) * 1000)
        if response.status != 200:
            raise BenchError(f"ListDentries answered {response.status}: {response.text}")
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
    runs = settings["repeat"]
    table = Table(
        title=f"files — embedded store against nginx, median of {runs} (1 MB: {runs} x "
        f"{SMALL_REPEAT})"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_column("target")
    targets: dict[str, bool] = {}
    for t in transfers:
        label = size_label(t.size_bytes)
        goal = TRANSFER_RATIO_TARGETS[t.size_bytes]
        up_met = t.upload_ratio >= goal
        down_met = t.download_ratio >= goal
        targets[f"upload_{label.replace(' ', '')}"] = up_met
        targets[f"download_{label.replace(' ', '')}"] = down_met
        table.add_row(f"{label} upload MB/s (3 requests)", f"{t.upload_mb_s:,.1f}", "")
        table.add_row(f"{label} nginx PUT MB/s", f"{t.nginx_put_mb_s:,.1f}", "")
        table.add_row(
            f"{label} upload / nginx", f"{t.upload_ratio:.2f}", f">= {goal} {verdict(up_met)}"
        )
        table.add_row(f"{label} disk write + fsync MB/s", f"{t.disk_write_mb_s:,.1f}", "")
        table.add_row(f"{label} download MB/s (2 requests)", f"{t.download_mb_s:,.1f}", "")
        table.add_row(f"{label} nginx GET MB/s", f"{t.nginx_get_mb_s:,.1f}", "")
        table.add_row(
            f"{label} download / nginx",
            f"{t.download_ratio:.2f}",
            f">= {goal} {verdict(down_met)}",
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
            "transfer_ratio_min": {size_label(k): v for k, v in TRANSFER_RATIO_TARGETS.items()},
            "listing_ratio_max": LISTING_RATIO_TARGET,
            "met": targets,
        },
    }


# --- main --------------------------------------------------------------------------------------


def measure(
    base_urls: tuple[str, str],
    floor_root: Path,
    fixture: Fixture,
    work: Path,
    sizes: list[int],
    repeat: int,
) -> tuple[list[Transfer], Listing]:
    api = transfers.Api(base_urls[0], fixture.tenant, fixture.space_id)
    floor = transfers.Floor(base_urls[1], floor_root)
    try:
        api.list_page(0, PAGE_SIZE, None)  # warm the auth caches and the connection
        results = []
        for size in sizes:
            runs = repeat * SMALL_REPEAT if size == SMALL else repeat
            err.print(f"[dim]{size_label(size)}: {runs} uploads and downloads of each[/dim]")
            results.append(measure_transfers(api, floor, work, size, runs))
        err.print(f"[dim]ListDentries: {len(fixture.child_ids):,} children[/dim]")
        listing = measure_listing(api, fixture)
    finally:
        api.close()
        floor.close()
    return results, listing


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = temp_dir(stack)
    data_dir, work, floor_dir = tmp / "data", tmp / "work", tmp / "nginx"
    work.mkdir()
    floor_dir.mkdir()
    port = free_port()
    err.print(f"[dim]seeding a store with {args.children:,} children in {tmp}[/dim]")
    fixture = asyncio.run(seed(data_dir, port, args.children))
    err.print(f"[dim]seeded in {fixture.seed_s:.1f} s[/dim]")

    sizes = [SMALL] if args.skip_large else [SMALL, LARGE]
    server = dingstore_server(data_dir, port, label="dingstore files")
    with nginx.beside(server, fixture.tenant.token, tmp, floor_dir) as pair:
        floor, floor_root = pair.floor, pair.root
        results, listing = measure(
            (server.base_url, floor.base_url), floor_root, fixture, work, sizes, args.repeat
        )
        pair.check_alive()
        rss = peak_rss_bytes(pair.procs[0].pid)
    settings: dict[str, object] = {
        "repeat": args.repeat,
        "children": args.children,
        "page_size": PAGE_SIZE,
        "skip_large": args.skip_large,
        "seed_s": round(fixture.seed_s, 2),
        "nginx": nginx.version(),
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(results, listing, rss, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return common.run_benchmark(lambda stack: run(args, stack), "files")


if __name__ == "__main__":
    sys.exit(main())
