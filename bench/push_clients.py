"""Which HTTP client should push events: signed deliveries per second and their latency.

What is measured
----------------
Each client delivers ``--count`` pushes as HTTP push does them (service/events/push.py): a flat
JSON message encrypted and signed for the app (service/events/crypto.py ``seal``), ``POST
url?msg_signature=..&signature=..&timestamp=..&nonce=..`` with the body ``{"encrypt": ...}``, a
1.5 s timeout, and the receiver's answer checked by the success rule (``check_reply``: JSON,
signature, decrypt, owner key, ``success``). So the figures include the crypto on both sides of
the client, as a real dispatcher pays it.

Two loads per client:

* **saturated**: ``--concurrency`` deliveries in flight at once (a bounded dispatcher), as
  fast as they go: deliveries/s;
* **paced**: ``--rate`` deliveries/s (200, the issue's rate) started on a fixed schedule for
  ``--paced-seconds``: latency p50/p99 of one delivery, from its start to its checked answer.

The receiver is a separate process (so it does not share the client's core): a bare asyncio
HTTP/1.1 server on uvloop that answers every POST with one correct encrypted ``success``
(made once), keep-alive. It is as cheap as a receiver can be, so the client is what is measured.

Clients: ``pyreqwest`` (dingstore's), ``aiohttp`` and ``httpx`` (all three in the dev venv), and
``aiosonic`` when importable (``--extra-site DIR`` appends a directory holding it to
``sys.path``, e.g. one made with ``pip install --target DIR aiosonic``, so the project's venv is
untouched). A pool of ``--concurrency`` keep-alive connections each. The issue's reference,
measured elsewhere: ~2,500 signed deliveries/s with p99 < 5 ms for an outbox dispatcher, ~200/s
with httpx.

``--events N`` measures the dispatcher itself instead (``PushDispatcher`` with its client, as a
process runs it): N events written to a fresh store (``--backend sqlite|postgres``) pushed to a
receiver until all are delivered.

On the busy 2-core machine (other suites running) the clients' order swings from run to run; on
a quiet core pyreqwest, aiohttp and aiosonic tie (~3,500-3,800/s) and httpx does ~300/s.

Run: ``.venv/bin/python bench/push_clients.py [--count 5000] [--concurrency 32] [--rate 200]
[--extra-site DIR]``, or ``--events 10000 [--backend postgres]``. Results go to
``bench/results/push_clients.json`` (``push_dispatcher_<backend>.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import common
from common import BenchError, err, free_port, git_revision, nearest_rank, out
from rich.table import Table

sys.path.insert(0, str(common.BENCH_DIR.parent / "src"))
from dingstore.service.events import crypto

TOKEN = "benchtoken"
AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"
APP_KEY = "dingbenchappkey00001"
TIMEOUT_S = 1.5
MESSAGE = {
    "EventType": "storage_dentry_create",
    "EventTime": 1700000000000,
    "CorpId": "dingcorp0000000000000000000000000",
    "BizId": "0000000000000000000000000000002a",
    "eventId": "0000000000000000000000000000002a",
    "spaceId": "123456",
    "dentryId": "7890123",
    "type": "FILE",
    "extension": "docx",
    "unionId": "unionid000000000000000",
    "eventScope": "SPACE",
    "eventScopeId": "123456",
    "dingstoreSeq": 42,
    "dingstoreAction": "upload",
}

# --- the receiver (a subprocess: ``push_clients.py --receiver PORT``) ----------------------------


def serve_receiver(port: int, app_key: str) -> None:
    import uvloop

    reply = json.dumps(
        crypto.CallbackCrypto(TOKEN, AES_KEY, app_key).reply("success", "1700000000", "n0nce")
    ).encode()
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(reply)).encode()
        + b"\r\n\r\n"
        + reply
    )

    class Receiver(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport
            self.buffer = b""

        def data_received(self, data: bytes) -> None:
            self.buffer += data
            while True:
                head_end = self.buffer.find(b"\r\n\r\n")
                if head_end < 0:
                    return
                head = self.buffer[:head_end].lower()
                length = 0
                at = head.find(b"content-length:")
                if at >= 0:
                    length = int(head[at + 15 :].split(b"\r\n", 1)[0])
                end = head_end + 4 + length
                if len(self.buffer) < end:
                    return
                self.buffer = self.buffer[end:]
                self.transport.write(answer)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Receiver, "127.0.0.1", port, backlog=1024)
        print("ready", flush=True)
        await server.serve_forever()

    uvloop.run(main())


# --- the clients ---------------------------------------------------------------------------------

Post = Callable[[str, dict[str, str], bytes], Awaitable[tuple[int, bytes]]]


@contextlib.asynccontextmanager
async def aiohttp_client(concurrency: int) -> Any:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def post(url: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
            headers = {"Content-Type": "application/json"}
            async with session.post(url, params=query, data=body, headers=headers) as r:
                return r.status, await r.read()

        yield post


@contextlib.asynccontextmanager
async def httpx_client(concurrency: int) -> Any:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=TIMEOUT_S) as client:

        async def post(url: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
            headers = {"Content-Type": "application/json"}
            r = await client.post(url, params=query, content=body, headers=headers)
            return r.status_code, r.content

        yield post


@contextlib.asynccontextmanager
async def pyreqwest_client(concurrency: int) -> Any:
    from datetime import timedelta

    from pyreqwest.client import ClientBuilder

    async with (
        ClientBuilder()
        .max_connections(concurrency)
        .timeout(timedelta(seconds=TIMEOUT_S))
        .error_for_status(False)
        .build()
    ) as client:

        async def post(url: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
            r = await (
                client.post(url)
                .query(query)
                .header("Content-Type", "application/json")
                .body_bytes(body)
                .build()
                .send()
            )
            return r.status, bytes(await r.bytes())

        yield post


@contextlib.asynccontextmanager
async def aiosonic_client(concurrency: int) -> Any:
    import aiosonic
    from aiosonic.connectors import TCPConnector
    from aiosonic.pools import PoolConfig
    from aiosonic.timeout import Timeouts

    pools = {":default": PoolConfig(size=concurrency)}
    client = aiosonic.HTTPClient(connector=TCPConnector(pool_configs=pools))
    timeouts = Timeouts(request_timeout=TIMEOUT_S)
    try:

        async def post(url: str, query: dict[str, str], body: bytes) -> tuple[int, bytes]:
            headers = {"Content-Type": "application/json"}
            r = await client.post(url, params=query, data=body, headers=headers, timeouts=timeouts)
            return r.status_code, await r.content()

        yield post
    finally:
        await client.aclose()


CLIENTS = {
    "pyreqwest": pyreqwest_client,
    "aiohttp": aiohttp_client,
    "httpx": httpx_client,
    "aiosonic": aiosonic_client,
}
IMPORTS = {"aiohttp": "aiohttp", "httpx": "httpx", "pyreqwest": "pyreqwest", "aiosonic": "aiosonic"}


# --- the loads -----------------------------------------------------------------------------------


@dataclass
class Load:
    deliveries: int
    failures: int
    seconds: float
    per_s: float
    p50_ms: float
    p99_ms: float


async def deliver(post: Post, url: str, cipher: crypto.CallbackCrypto, seq: int) -> float:
    """One push, as the dispatcher makes it: seal, POST, check the answer. Its latency (s)."""
    started = time.perf_counter()
    message = json.dumps({**MESSAGE, "dingstoreSeq": seq}, separators=(",", ":"))
    stamp = str(time.time_ns() // 1_000_000)
    query, body = cipher.seal(message, stamp, crypto.random_text(8))
    status, answer = await post(url, query, body)
    if not 200 <= status < 300:
        raise BenchError(f"the receiver answered {status}")
    cipher.check_reply(answer)
    return time.perf_counter() - started


def summary(latencies: list[float], failures: int, seconds: float) -> Load:
    ms = [x * 1000 for x in latencies] or [0.0]
    return Load(
        len(latencies),
        failures,
        round(seconds, 3),
        round(len(latencies) / seconds, 1),
        round(nearest_rank(ms, 50), 2),
        round(nearest_rank(ms, 99), 2),
    )


async def saturated(post: Post, url: str, count: int, concurrency: int) -> Load:
    cipher = crypto.CallbackCrypto(TOKEN, AES_KEY, APP_KEY)
    latencies: list[float] = []
    failures = 0
    next_seq = iter(range(count))

    async def lane() -> None:
        nonlocal failures
        for seq in next_seq:
            try:
                latencies.append(await deliver(post, url, cipher, seq))
            except Exception as exc:
                failures += 1
                if failures == 1:
                    err.print(f"[yellow]first failure: {exc!r}[/yellow]")

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return summary(latencies, failures, time.perf_counter() - started)


async def paced(post: Post, url: str, rate: float, seconds: float) -> Load:
    cipher = crypto.CallbackCrypto(TOKEN, AES_KEY, APP_KEY)
    latencies: list[float] = []
    failures = 0

    async def one(seq: int) -> None:
        nonlocal failures
        try:
            latencies.append(await deliver(post, url, cipher, seq))
        except Exception as exc:
            failures += 1
            if failures == 1:
                err.print(f"[yellow]first failure: {exc!r}[/yellow]")

    total = int(rate * seconds)
    started = time.perf_counter()
    pending = set()
    for seq in range(total):
        delay = started + seq / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one(seq))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return summary(latencies, failures, time.perf_counter() - started)


async def measure(name: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    async with CLIENTS[name](args.concurrency) as post:
        # warm up: open the pool's connections, prime imports and caches
        await saturated(post, url, min(500, args.count), args.concurrency)
        full = await saturated(post, url, args.count, args.concurrency)
        steady = await paced(post, url, args.rate, args.paced_seconds)
    return {"saturated": asdict(full), "paced": asdict(steady)}


def available(name: str) -> bool:
    try:
        __import__(IMPORTS[name])
    except ImportError:
        return False
    return True


def start_receiver(stack: contextlib.ExitStack, app_key: str) -> str:
    """A receiver process answering ``app_key``'s pushes, stopped with ``stack``; its URL."""
    port = free_port()
    receiver = subprocess.Popen(
        [sys.executable, __file__, "--receiver", str(port), "--receiver-app-key", app_key],
        stdout=subprocess.PIPE,
        text=True,
    )
    stack.callback(common.stop, receiver)  # type: ignore[arg-type]
    assert receiver.stdout is not None
    if receiver.stdout.readline().strip() != "ready":
        raise BenchError("the receiver did not start")
    return f"http://127.0.0.1:{port}/dingtalk/callback"


# --- the dispatcher, end to end through the store -----------------------------------------------


async def dispatch(
    args: argparse.Namespace, stack: contextlib.ExitStack, database_url: str | None
) -> dict[str, Any]:
    """``--events`` events written to a fresh store (500 a transaction), then pushed by one
    ``PushDispatcher`` running as a process runs it until none is left: deliveries/s through claims,
    aiohttp, the success rule and the settling transactions."""
    import sqlalchemy as sa

    from dingstore.service.events.push import PushDispatcher
    from dingstore.store import events as event_rows
    from dingstore.store import schema

    data_dir = common.temp_dir(stack)
    async with common.fresh_services(data_dir, free_port(), database_url) as (svc, tenant):
        (app,) = await svc.identity.list_apps(tenant.corp_id)
        assert app.app_key is not None
        url = start_receiver(stack, app.app_key)
        await svc.callbacks.set_callback(app.app_key, url=url, token=TOKEN, aes_key=AES_KEY)
        now = svc.clock.now_ms()
        async with svc.db.write() as conn:
            await event_rows.subscribe(conn, tenant.corp_id, app.app_id, "ORG", tenant.corp_id, now)
        await common.seed_events(svc, tenant, args.events)
        await common.analyze(svc)  # a running store has its statistics (autovacuum)
        dispatcher = PushDispatcher(svc.db, clock=svc.clock, concurrency=args.concurrency)
        pending = sa.select(sa.func.count()).where(schema.events.c.status == "PENDING")
        started = time.perf_counter()
        dispatcher.start()  # as a process runs it: woken, draining the app
        try:
            while True:
                async with svc.db.read() as conn:
                    if not (await conn.execute(pending)).scalar_one():
                        break
                if time.perf_counter() - started > 120:
                    raise BenchError("the events were not all delivered within 120 s")
                await asyncio.sleep(0.01)
            seconds = time.perf_counter() - started
        finally:
            await dispatcher.stop()
        _, rows = await svc.callbacks.deliveries(app.app_key, limit=args.events + 1)
    delivered = sum(1 for r in rows if r.status == "DELIVERED" and r.attempts == 1)
    return {
        "backend": "postgres" if database_url else "sqlite",
        "events": args.events,
        "delivered_once": delivered,
        "seconds": round(seconds, 3),
        "per_s": round(delivered / seconds, 1),
    }


def run_dispatcher(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    import uvloop

    database_url = None
    if args.backend == "postgres":
        database_url = stack.enter_context(common.pg_database(args.pg_url))
    result = uvloop.run(dispatch(args, stack, database_url))
    table = Table(title=f"the push dispatcher on {result['backend']}, {args.concurrency} in flight")
    for column in ("events", "delivered once", "seconds", "deliveries/s"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{result['events']:,}",
        f"{result['delivered_once']:,}",
        f"{result['seconds']:.2f}",
        f"{result['per_s']:,.0f}",
    )
    out.print(table)
    return {
        "benchmark": "push_clients",
        **git_revision(),
        "concurrency": args.concurrency,
        "dispatcher": result,
        "all_verified": result["delivered_once"] == result["events"],
    }


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    if args.events:
        return run_dispatcher(args, stack)
    url = start_receiver(stack, APP_KEY)
    import uvloop

    results: dict[str, Any] = {}
    for name in args.clients.split(","):
        if not available(name):
            err.print(f"[yellow]{name} is not importable; skipped[/yellow]")
            continue
        err.print(f"[dim]{name}…[/dim]")
        results[name] = uvloop.run(measure(name, url, args))

    table = Table(title=f"signed HTTP push deliveries, {args.concurrency} in flight")
    for column in ("client", "deliveries/s", "p50 ms", "p99 ms", f"paced {args.rate:g}/s p50 ms"):
        table.add_column(column, justify="right")
    table.add_column("paced p99 ms")
    table.add_column("failures", justify="right")
    for name, r in results.items():
        s, p = r["saturated"], r["paced"]
        table.add_row(
            name,
            f"{s['per_s']:,.0f}",
            f"{s['p50_ms']:.2f}",
            f"{s['p99_ms']:.2f}",
            f"{p['p50_ms']:.2f}",
            f"{p['p99_ms']:.2f}",
            str(s["failures"] + p["failures"]),
        )
    out.print(table)
    ranked = sorted(results, key=lambda n: results[n]["saturated"]["per_s"], reverse=True)
    return {
        "benchmark": "push_clients",
        **git_revision(),
        "count": args.count,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "paced_seconds": args.paced_seconds,
        "python": sys.version.split()[0],
        "clients": results,
        "fastest": ranked[0] if ranked else None,
        "all_verified": all(
            r["saturated"]["failures"] == 0 and r["paced"]["failures"] == 0
            for r in results.values()
        ),
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--receiver-app-key", default=APP_KEY, help=argparse.SUPPRESS)
    parser.add_argument(
        "--events",
        type=int,
        default=0,
        help="measure the dispatcher instead: this many events through a fresh store",
    )
    common.add_backend_args(parser)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    parser.add_argument("--clients", default=",".join(CLIENTS))
    parser.add_argument("--extra-site", type=Path, help="a directory appended to sys.path")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.receiver:
        serve_receiver(args.receiver, args.receiver_app_key)
        return 0
    if args.extra_site:
        sys.path.append(str(args.extra_site))
    common.widen_output()
    name = f"push_dispatcher_{args.backend}" if args.events else "push_clients"
    return common.run_benchmark(lambda stack: run(args, stack), name)


if __name__ == "__main__":
    sys.exit(main())
