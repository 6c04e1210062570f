"""Benchmark thumbnails: how soon one is ready after its upload, how many a server makes a
second, and how much memory it takes to make them.

What is measured
----------------
Inputs are made by the benchmark: 12 MP (4000 x 3000) photo-like images (a gradient, a
Mandelbrot set and noise, one per channel: it compresses like a photo, not like noise) saved as
JPEG (q 90), PNG and WebP (q 85), and a 20-page PDF of A4 pages (150 dpi scans with text). Each
goes through a fresh ``dingstore serve`` (SQLite, or PostgreSQL with ``--backend postgres``;
local files; 2 task workers, ``DINGSTORE_THUMBNAIL_CONCURRENCY`` = ``--concurrency``, 1):

* **latency, idle server**: ``--latency`` (10) uploads of each input, one at a time; each timed
  from CommitFile's answer to the first GetDentryThumbnails answer with the thumbnail (polled
  every 5 ms). Target for the JPEG: p50 <= 300 ms.
* **throughput**: ``--files`` (20) files of each input uploaded by 4 clients at once; thumbnails
  per second = files / (time from the first CommitFile to the last thumbnail ready).
* **100 concurrent uploads**: ``--burst`` (100) 12 MP JPEGs uploaded by as many clients at
  once; the time until every thumbnail is ready, and memory: the server's peak RSS
  (``VmHWM``) and the largest RSS its helper processes (the sandbox) held at once, sampled every
  50 ms.

Each answer is checked: every thumbnail ends ready, fits in 256 x 256, and its URL serves an
image of the size the answer states.

Results are printed and written to ``bench/results/thumbnails.json``.

Run: ``.venv/bin/python bench/thumbnails.py [--latency 10] [--files 20] [--burst 100]
[--concurrency 1]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import common
import httpx
import transfers
from common import BenchError, Tenant, dingstore_server, err, free_port, git_revision, out
from rich.table import Table

POLL_S = 0.005
TARGET_MS = 300.0


def photo(width: int = 4000, height: int = 3000) -> Any:
    from PIL import Image

    base = Image.linear_gradient("L").resize((width, height))
    detail = Image.effect_mandelbrot((width, height), (-2.2, -1.2, 1.0, 1.2), 64)
    noise = Image.effect_noise((width, height), 24)
    return Image.merge("RGB", (base, detail, noise))


def pdf(pages: int = 20) -> bytes:
    from PIL import Image, ImageDraw

    made = []
    for n in range(pages):
        page = Image.new("RGB", (1240, 1754), "white")
        draw = ImageDraw.Draw(page)
        for y in range(100, 1700, 30):
            draw.text((100, y), f"page {n + 1} line {y} lorem ipsum dolor sit amet " * 3, "black")
        draw.ellipse((400, 600, 840, 1040), outline="red", width=8)
        made.append(page)
    out_ = io.BytesIO()
    made[0].save(out_, "PDF", save_all=True, append_images=made[1:], resolution=150, quality=80)
    return out_.getvalue()


def inputs() -> dict[str, tuple[str, bytes]]:
    image = photo()
    found: dict[str, tuple[str, bytes]] = {}
    for label, ext, fmt, options in (
        ("12 MP JPEG", "jpg", "JPEG", {"quality": 90}),
        ("12 MP PNG", "png", "PNG", {}),
        ("12 MP WebP", "webp", "WEBP", {"quality": 85}),
    ):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        found[label] = (ext, buffer.getvalue())
    found["20-page PDF"] = ("pdf", pdf())
    return found


async def seed(data_dir: Path, port: int, database_url: str | None) -> tuple[Tenant, int]:
    from dingstore.service.spaces import NewSpace

    async with common.fresh_services(data_dir, port, database_url) as (svc, tenant):
        actor = await common.actor(svc, tenant)
        space = await svc.spaces.add(actor, NewSpace(name="bench", scene="bench", scene_id="1"))
    return tenant, space.id


class Client(transfers.Api):
    def thumbnails(self, ids: list[str]) -> list[dict[str, Any]]:
        body = self.call("POST", f"{self.space}/thumbnails/query", {"dentryIds": ids})
        return list(body["resultItems"])

    def wait(self, ids: list[str], timeout: float = 120) -> dict[str, dict[str, Any]]:
        """Poll until every id's thumbnail is ready; each item as first seen ready."""
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + timeout
        while len(done) < len(ids):
            left = [i for i in ids if i not in done][:30]
            for item in self.thumbnails(left):
                if item.get("success"):
                    done[item["dentryId"]] = item
                elif item.get("errorCode") != "thumbnailNotExist":
                    raise BenchError(f"{item['dentryId']}: {item.get('errorCode')}")
            if time.monotonic() > deadline:
                raise BenchError(f"thumbnails not ready within {timeout} s")
            if len(done) < len(ids):
                time.sleep(POLL_S)
        return done


def check(item: dict[str, Any]) -> None:
    from PIL import Image

    thumb = item["thumbnail"]
    if max(thumb["width"], thumb["height"]) > 256:
        raise BenchError(f"a thumbnail of {thumb['width']} x {thumb['height']}")
    response = httpx.get(thumb["url"])
    if response.status_code != 200:
        raise BenchError(f"GET thumbnail answered {response.status_code}")
    size = Image.open(io.BytesIO(response.content)).size
    if size != (thumb["width"], thumb["height"]):
        raise BenchError(f"the thumbnail is {size}, not {thumb['width']} x {thumb['height']}")


def latency(make: Callable[[], Client], ext: str, data: bytes, n: int) -> list[float]:
    client = make()
    try:
        took = []
        for k in range(n):
            _, dentry = client.upload(data, f"lat-{k}.{ext}")
            committed = time.perf_counter()
            item = client.wait([dentry["id"]])[dentry["id"]]
            took.append((time.perf_counter() - committed) * 1000)
            if k == 0:
                check(item)
        return took
    finally:
        client.close()


def together(make: Callable[[], Client], ext: str, data: bytes, n: int, clients: int) -> float:
    """Seconds from the first CommitFile to the last thumbnail ready, ``n`` files."""
    ids: list[str] = []
    lock = threading.Lock()
    first: list[float] = []

    def send(start: int) -> None:
        client = make()
        try:
            for k in range(start, n, clients):
                _, dentry = client.upload(data, f"t-{k}-{os.getpid()}.{ext}")
                with lock:
                    first.append(time.perf_counter())
                    ids.append(dentry["id"])
        finally:
            client.close()

    threads = [threading.Thread(target=send, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if len(ids) != n:
        raise BenchError(f"{n - len(ids)} uploads failed")
    client = make()
    try:
        done = client.wait(ids, timeout=600)
    finally:
        client.close()
    check(next(iter(done.values())))
    return time.perf_counter() - min(first)


def children_rss(pid: int) -> int:
    """The RSS of ``pid``'s child processes (the sandbox's helpers), in bytes."""
    total = 0
    with contextlib.suppress(OSError):
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        for kid in kids:
            with contextlib.suppress(OSError, ValueError):
                for line in Path(f"/proc/{kid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
    return total


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=int, default=10)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1)
    common.add_backend_args(parser)
    return parser.parse_args()


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = common.temp_dir(stack)
    data_dir, port = tmp / "data", free_port()
    err.print("[dim]making the inputs[/dim]")
    made = inputs()
    url = None
    if args.backend == "postgres":
        url = stack.enter_context(common.pg_database(args.pg_url))
    tenant, space_id = asyncio.run(seed(data_dir, port, url))
    server = dingstore_server(data_dir, port, url, label="dingstore thumbnails")
    server.env["DINGSTORE_THUMBNAIL_CONCURRENCY"] = str(args.concurrency)
    proc = stack.enter_context(common.running(server, tmp / "server.log"))
    common.wait_ready(proc, server.base_url + server.ready_path, {})

    def make() -> Client:
        return Client(server.base_url, tenant, space_id)

    # The first thumbnail of a fresh server (its helper's first file) is not what is measured.
    latency(make, "jpg", made["12 MP JPEG"][1], 1)
    rows: list[dict[str, object]] = []
    for label, (ext, data) in made.items():
        err.print(f"[dim]{label}: latency, then throughput[/dim]")
        took = latency(make, ext, data, args.latency)
        seconds = together(make, ext, data, args.files, clients=4)
        rows.append(
            {
                "input": label,
                "bytes": len(data),
                "latency_ms_p50": round(statistics.median(took), 1),
                "latency_ms_max": round(max(took), 1),
                "thumbnails_per_s": round(args.files / seconds, 2),
            }
        )

    err.print(f"[dim]{args.burst} concurrent uploads of a 12 MP JPEG[/dim]")
    peak_children, stop = [0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak_children[0] = max(peak_children[0], children_rss(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    idle_rss = rss(proc.pid)
    sampler.start()
    try:
        burst_s = together(make, "jpg", made["12 MP JPEG"][1], args.burst, clients=args.burst)
    finally:
        stop.set()
        sampler.join()
    peak = common.peak_rss_bytes(proc.pid) or 0
    burst = {
        "files": args.burst,
        "seconds_to_all_ready": round(burst_s, 2),
        "thumbnails_per_s": round(args.burst / burst_s, 2),
        "server_rss_mb_before": round(idle_rss / 2**20, 1),
        "server_peak_rss_mb": round(peak / 2**20, 1),
        "helpers_peak_rss_mb": round(peak_children[0] / 2**20, 1),
    }
    jpeg = next(r for r in rows if r["input"] == "12 MP JPEG")
    met = float(jpeg["latency_ms_p50"]) <= TARGET_MS  # type: ignore[arg-type]

    common.widen_output()
    table = Table(
        title=f"Thumbnails ({args.backend}, local files, thumbnail concurrency "
        f"{args.concurrency}, load average {os.getloadavg()[0]:.1f})"
    )
    for column in ("input", "bytes", "ready after commit p50", "max", "thumbnails/s"):
        table.add_column(column, justify="left" if column == "input" else "right")
    for r in rows:
        table.add_row(
            str(r["input"]),
            f"{r['bytes']:,}",
            f"{r['latency_ms_p50']} ms",
            f"{r['latency_ms_max']} ms",
            str(r["thumbnails_per_s"]),
        )
    out.print(table)
    out.print(
        f"JPEG ready <= {TARGET_MS:g} ms after CommitFile (p50): {common.verdict(met)}\n"
        f"{args.burst} concurrent 12 MP JPEG uploads: all ready in "
        f"{burst['seconds_to_all_ready']} s"
        f" ({burst['thumbnails_per_s']}/s); server RSS {burst['server_rss_mb_before']} MB before,"
        f" peak {burst['server_peak_rss_mb']} MB; helpers' peak {burst['helpers_peak_rss_mb']} MB"
    )
    return {
        "benchmark": "thumbnails",
        "revision": git_revision(),
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "backend": args.backend,
        "concurrency": args.concurrency,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "inputs": rows,
        "burst": burst,
        "target_jpeg_p50_ms": TARGET_MS,
        "target_met": met,
        "all_verified": True,
    }


if __name__ == "__main__":
    arguments = parse()
    sys.exit(common.run_benchmark(lambda stack: run(arguments, stack), "thumbnails"))
