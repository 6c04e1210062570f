"""Probe: what large request bodies cost the server's memory (issue 12, item 2).

What is measured
----------------
One fresh ``dingstore serve`` (embedded shape, default settings: ``DINGSTORE_MAX_BODY_SIZE`` =
1 MiB) receives, per scenario, ``--concurrency`` (20) requests at once, each with a
``--size-mb`` (200 MB, decimal) body, sent whole over raw sockets whatever the server answers
(the worst case for the server: a client that does not stop when refused). Scenarios: AddSpace
(``POST /v1.0/storage/spaces``) with no token, a bad token and a good token, and GetAccessToken
(``POST /v1.0/oauth2/accessToken``, no token by design), each with a ``Content-Length`` and
chunked. The server's resident set (``VmRSS``) is sampled every 10 ms while a scenario runs; its
growth is the highest sample minus the one taken just before the scenario. The answers must be
the expected DingTalk errors (400 ``InvalidAuthentication`` without a good token, 413
``RequestEntityTooLarge`` with one). Target: growth <= 50 MB in every scenario.

Results are printed and written to ``bench/results/body_limit.json``.

Run: ``.venv/bin/python bench/body_limit.py [--size-mb 200] [--concurrency 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import common
from common import (
    TOKEN_HEADER,
    BenchError,
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

GROWTH_TARGET_BYTES = 50 * 1_000_000
PIECE = b"x" * (1 << 20)
SAMPLE_S = 0.01


@dataclass(frozen=True)
class Scenario:
    label: str
    path: str
    token: str | None  # "good" is replaced by the tenant's token
    chunked: bool
    expected: tuple[int, str]


@dataclass
class Outcome:
    label: str
    framing: str
    answers: dict[str, int]  # "413 RequestEntityTooLarge" → how many
    expected: str
    rss_before_bytes: int
    rss_growth_bytes: int
    seconds: float
    ok: bool


def scenarios() -> list[Scenario]:
    space = "/v1.0/storage/spaces?unionId={union_id}"
    token = "/v1.0/oauth2/accessToken"
    auth = (400, "InvalidAuthentication")
    large = (413, "RequestEntityTooLarge")
    made: list[Scenario] = []
    for chunked in (False, True):
        made += [
            Scenario("AddSpace, no token", space, None, chunked, auth),
            Scenario("AddSpace, bad token", space, "not-a-token", chunked, auth),
            Scenario("AddSpace, good token", space, "good", chunked, large),
            Scenario("GetAccessToken", token, None, chunked, large),
        ]
    return made


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise BenchError("no VmRSS for the server process")


class RssSampler:
    """The highest ``VmRSS`` of ``pid`` seen, sampled on a thread while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            with contextlib.suppress(OSError):
                self.peak = max(self.peak, rss_bytes(self.pid))

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def read_answer(reader: asyncio.StreamReader) -> str:
    """``"<status> <code>"`` of the response (its JSON body's ``code``)."""
    status_line = await reader.readline()
    if not status_line:
        return "closed"
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    body = await reader.readexactly(length)
    status = status_line.split()[1].decode()
    with contextlib.suppress(ValueError, AttributeError):
        return f"{status} {json.loads(body).get('code')}"
    return status


async def send_one(port: int, path: str, token: str | None, size: int, chunked: bool) -> str:
    """One request with a ``size``-byte body sent whole (unless the server closes), and the
    answer, read while the body is still being sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json"]
    if token is not None:
        head.append(f"{TOKEN_HEADER}: {token}")
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {size}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    answer = asyncio.create_task(read_answer(reader))
    try:
        sent = 0
        while sent < size:
            piece = PIECE[: min(len(PIECE), size - sent)]
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            sent += len(piece)
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
    except ConnectionError:
        pass  # the server closed: its answer, if any, is already on its way
    try:
        return await asyncio.wait_for(answer, 60)
    except (ConnectionError, asyncio.IncompleteReadError):
        return "reset"
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def send_many(
    port: int, path: str, token: str | None, size: int, chunked: bool, n: int
) -> list[str]:
    return await asyncio.gather(*(send_one(port, path, token, size, chunked) for _ in range(n)))


def measure(
    pid: int, port: int, scenario: Scenario, tenant: common.Tenant, args: argparse.Namespace
) -> Outcome:
    path = scenario.path.format(union_id=tenant.union_id)
    token = tenant.token if scenario.token == "good" else scenario.token
    size = args.size_mb * 1_000_000
    time.sleep(0.5)  # let the previous scenario's connections wind down
    before = rss_bytes(pid)
    started = time.perf_counter()
    with RssSampler(pid) as sampler:
        answers = asyncio.run(
            send_many(port, path, token, size, scenario.chunked, args.concurrency)
        )
    seconds = time.perf_counter() - started
    counted: dict[str, int] = {}
    for answer in answers:
        counted[answer] = counted.get(answer, 0) + 1
    expected = f"{scenario.expected[0]} {scenario.expected[1]}"
    growth = max(0, sampler.peak - before)
    return Outcome(
        scenario.label,
        "chunked" if scenario.chunked else "Content-Length",
        counted,
        expected,
        before,
        growth,
        round(seconds, 2),
        counted == {expected: args.concurrency} and growth <= GROWTH_TARGET_BYTES,
    )


def report(
    outcomes: list[Outcome], peak: int | None, settings: dict[str, object]
) -> dict[str, object]:
    table = Table(title=f"{settings['concurrency']} concurrent {settings['size_mb']} MB bodies")
    for column in ("request", "framing", "answers", "RSS before MB", "growth MB", "s", "ok"):
        table.add_column(column)
    for o in outcomes:
        answers = ", ".join(f"{n} x {a}" for a, n in sorted(o.answers.items()))
        table.add_row(
            o.label,
            o.framing,
            answers,
            f"{o.rss_before_bytes / 1e6:,.1f}",
            f"{o.rss_growth_bytes / 1e6:,.1f}",
            f"{o.seconds:.1f}",
            verdict(o.ok),
        )
    out.print(table)
    worst = max(o.rss_growth_bytes for o in outcomes)
    met = all(o.ok for o in outcomes)
    out.print(
        f"largest growth {worst / 1e6:,.1f} MB (target <= {GROWTH_TARGET_BYTES / 1e6:g} MB), "
        f"server peak RSS {'?' if peak is None else f'{peak / 1e6:,.1f} MB'}: {verdict(met)}"
    )
    return {
        "benchmark": "body_limit",
        "settings": settings,
        "outcomes": [asdict(o) for o in outcomes],
        "largest_growth_bytes": worst,
        "server_peak_rss_bytes": peak,
        "targets": {"growth_max_bytes": GROWTH_TARGET_BYTES, "met": met},
        "all_verified": met,
    }


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, object]:
    tmp = temp_dir(stack)
    data_dir, port = tmp / "data", free_port()

    async def seed() -> common.Tenant:
        async with common.fresh_services(data_dir, port) as (_, tenant):
            return tenant

    tenant = asyncio.run(seed())
    server = dingstore_server(data_dir, port, label="dingstore body limit")
    with running(server, tmp / "server.log") as proc:
        wait_ready(proc, server.base_url + server.ready_path, {})
        outcomes = []
        for scenario in scenarios():
            err.print(f"[dim]{scenario.label}, {'chunked' if scenario.chunked else 'sized'}[/dim]")
            outcomes.append(measure(proc.pid, port, scenario, tenant, args))
            if proc.poll() is not None:
                raise BenchError(f"the server exited ({proc.returncode}) during the run")
        peak = peak_rss_bytes(proc.pid)
    settings: dict[str, object] = {
        "size_mb": args.size_mb,
        "concurrency": args.concurrency,
        "nproc": os.cpu_count(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(outcomes, peak, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args(argv)
    common.widen_output()
    return common.run_benchmark(lambda stack: run(args, stack), "body_limit")


if __name__ == "__main__":
    sys.exit(main())
