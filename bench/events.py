"""Benchmark change-event delivery (issue 15): throughput over one Stream connection and over
HTTP push, commit-to-receipt latency under a steady load of changes, and a 100k-node copy's
events end to end.

What is measured
----------------
Each phase runs on a fresh store (``--backend sqlite``: ``dingstore serve`` on SQLite with its
task workers; ``postgres``: ``dingstore serve --no-workers`` and one ``dingstore worker``, see
``stores.py``) with the bootstrap org's app subscribed to the org:

* **stream**: ``--events`` events (default 20,000) are in the outbox before the server starts
  (written by ``store/events.py emit`` through the services, as changes would write them); then
  DingTalk's official Stream SDK (``dingtalk_stream``, unchanged, in a process of its own:
  ``tests/stream_client.py``, as the tests drive it) connects and acks each one. Events/s =
  events / (last receipt - first receipt). Target: ≥ 2,000/s on SQLite.
* **push**: the same with the app in push mode: an HTTP receiver (``push_receiver.py``:
  aiohttp, checks the signature, decrypts, answers ``success`` encrypted) at the app's callback.
* **latency**: two apps of the org subscribed, one connected by the Stream SDK, one pushed to;
  AddFolder at ``--rate`` requests/s (default 200, open loop, 16 connections) for
  ``--duration`` s (default 10). Latency = receipt - ``eventBornTime`` (taken by the server at
  the start of the change's transaction, so the commit is inside it). Target: p99 ≤ 50 ms on
  both backends.
* **copy**: CopyDentry of a folder of ``--copy-nodes`` nodes (default 100,000; seeded as
  ``trees.py`` seeds them) into another space, the Stream SDK connected. The copy's time is from
  the request to GetTask's SUCCESS; the events' time from the request to the receipt of the
  last of its ``nodes`` create events. Target: events <= 2x the copy.

Every phase checks that every event was received (each eventId at least once) and that the
store marked every one delivered; duplicates are counted.

Run: ``python bench/events.py [--backend sqlite|postgres] [--phases stream,push,latency,copy]``.
Results: ``bench/results/events-<backend>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import httpx
import stores
import trees
from common import TOKEN_HEADER, Api, BenchError, Tenant, err, out
from get_task import cpu_seconds
from rich.table import Table

PHASES = ("stream", "push", "latency", "copy")
BENCH = Path(__file__).resolve().parent
PUSH_RECEIVER = BENCH / "push_receiver.py"
STREAM_CLIENT = BENCH.parent / "tests" / "stream_client.py"  # the official SDK, as tests drive it
PUSH_TOKEN = "benchtoken"
PUSH_AES_KEY = "Yue0EfdN5900c1ce5cf6A152c63DDe1808a60c5ecd7"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_backend_args(parser)
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--copy-nodes", type=int, default=100_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    args.phases = [p for p in args.phases.split(",") if p]
    unknown = set(args.phases) - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    return args


# --- consumers ---------------------------------------------------------------------------------


class Receiver:
    """A consumer process and the events it printed, each ``{"id", "type", "born", "at"}``."""

    def __init__(self, label: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.label = label
        self.events: list[dict[str, Any]] = []
        self.cpu_at_first: float | None = None  # the process's CPU seconds at its first event
        self._changed = threading.Condition()
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, *argv],
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            event = json.loads(line)
            if event.get("kind") == "system":
                continue
            if event.get("kind") == "event":  # tests/stream_client.py: the frame's headers
                h = event["headers"]
                at = int(time.time() * 1000)
                event = {
                    "id": h["eventId"],
                    "type": h["eventType"],
                    "born": int(h["eventBornTime"]),
                    "at": at,
                }
            if self.cpu_at_first is None:
                self.cpu_at_first = cpu_seconds(self.proc.pid)
            with self._changed:
                self.events.append(event)
                self._changed.notify_all()

    def wait_for(self, ids: set[str], timeout: float) -> bool:
        """Until every event of ``ids`` arrived (True), or ``timeout`` s (False)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not ids <= {e["id"] for e in self.events}:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def wait_count(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len({e["id"] for e in self.events}) < count:
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return False
                self._changed.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        common.stop(self.proc)  # type: ignore[arg-type]
        self._log.close()


def stream_receiver(
    stack: contextlib.ExitStack, base_url: str, tenant: Tenant, log: Path
) -> Receiver:
    env = {
        **os.environ,
        "DINGTALK_OPENAPI_ENDPOINT": base_url,
        "NO_PROXY": "127.0.0.1",
        "STREAM_CLIENT_LOG_LEVEL": "WARNING",
    }
    argv = [str(STREAM_CLIENT), tenant.app_key, tenant.app_secret, "ok"]
    receiver = Receiver("stream", argv, env, log)
    stack.callback(receiver.close)
    return receiver


def push_receiver(stack: contextlib.ExitStack, port: int, app_key: str, log: Path) -> Receiver:
    argv = [str(PUSH_RECEIVER), str(port), PUSH_TOKEN, PUSH_AES_KEY, app_key]
    receiver = Receiver("push", argv, dict(os.environ), log)
    stack.callback(receiver.close)
    deadline = time.monotonic() + common.READY_TIMEOUT_S
    while time.monotonic() < deadline:  # listening?
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return receiver
        time.sleep(0.05)
    raise BenchError("the push receiver did not start")


# --- seeding -----------------------------------------------------------------------------------


@dataclass
class Seeded:
    tenant: Tenant
    app_ids: dict[str, str] = field(default_factory=dict)  # by mode: the app of each consumer
    push_app_key: str = ""
    tree: Any = None


async def _seed(
    data_dir: Path,
    url: str | None,
    port: int,
    *,
    push_port: int | None,
    stream_app: bool,
    events: int,
    copy_nodes: int,
) -> Seeded:
    """The tenant; the apps subscribed to the org (the bootstrap app for Stream, a second app
    with a callback for push); ``events`` events in the outbox of each; a tree to copy."""
    from dingstore.store import events as outbox

    async with common.fresh_services(data_dir, port, url) as (svc, tenant):
        seeded = Seeded(tenant)
        now = svc.clock.now_ms()
        boot_app = (await svc.tokens.authenticate(tenant.token)).app_id
        if stream_app:
            seeded.app_ids["stream"] = boot_app
        if push_port is not None:
            made = await svc.identity.create_app(tenant.corp_id, "bench push")
            seeded.app_ids["push"] = made.app.app_id
            seeded.push_app_key = made.app.app_key or ""
            async with svc.db.write() as conn:
                await outbox.set_callback(
                    conn,
                    tenant.corp_id,
                    made.app.app_id,
                    url=f"http://127.0.0.1:{push_port}/",
                    token=PUSH_TOKEN,
                    aes_key=PUSH_AES_KEY,
                    now=now,
                )
        async with svc.db.write() as conn:
            for app_id in seeded.app_ids.values():
                await outbox.subscribe(conn, tenant.corp_id, app_id, "ORG", tenant.corp_id, now)
        await common.seed_events(svc, tenant, events)
        if copy_nodes:
            seeded.tree = await trees.seed_tree(
                svc, await common.actor(svc, tenant), tenant, trees.COPY, copy_nodes, 0
            )
        await common.analyze(svc)
    return seeded


def _expected(db: stores.Sql, app_id: str) -> set[str]:
    """The eventIds of every event of the app in the store."""
    from dingstore.service.events import messages

    ids = db.column("SELECT id FROM events WHERE app_id = :a", a=app_id)
    return {messages.event_id(int(i)) for i in ids}


def _undelivered(db: stores.Sql, app_id: str) -> int:
    return int(
        db.one("SELECT count(*) FROM events WHERE app_id = :a AND status <> 'DELIVERED'", a=app_id)
    )


# --- phases ------------------------------------------------------------------------------------


def _throughput(
    args: argparse.Namespace, stack: contextlib.ExitStack, tmp: Path, mode: str
) -> dict[str, Any]:
    port = common.free_port()
    push_port = common.free_port() if mode == "push" else None
    with stores.fresh_store(args, tmp, mode) as (data_dir, url):
        seeded = asyncio.run(
            _seed(data_dir, url, port, push_port=push_port, stream_app=mode == "stream",
                  events=args.events, copy_nodes=0)
        )  # fmt: skip
        app_id = seeded.app_ids[mode]
        with contextlib.ExitStack() as phase:
            if push_port is not None:
                receiver = push_receiver(phase, push_port, seeded.push_app_key, tmp / "push.log")
            headers = {TOKEN_HEADER: seeded.tenant.token}
            shape = stores.processes(data_dir, url, port)
            running = phase.enter_context(stores.serving(shape, tmp, mode, data_dir, url, headers))
            if mode == "stream":
                receiver = stream_receiver(
                    phase, running.server.base_url, seeded.tenant, tmp / "stream.log"
                )
            wanted = _expected(running.db, app_id)
            pids = [p.pid for p in running.procs.values()]  # postgres: the workers push
            server_cpu = _cpu(pids)
            started = time.perf_counter()
            done = receiver.wait_for(wanted, args.timeout)
            waited = time.perf_counter() - started
            server_cpu = _per_event(server_cpu, _cpu(pids), len(wanted))
            client_cpu = _per_event(
                receiver.cpu_at_first, cpu_seconds(receiver.proc.pid), len(wanted)
            )
            _settle(running.db, app_id)
            result = _tally(receiver, wanted, running.db, app_id)
            result["waited_s"] = round(waited, 2)
            result["server_cpu_us_per_event"] = server_cpu
            result["consumer_cpu_us_per_event"] = client_cpu
            result["complete"] = done
            result["server_peak_rss_bytes"] = running.peak_rss_bytes()
    ats = sorted(e["at"] for e in receiver.events)
    span = (ats[-1] - ats[0]) / 1000 if len(ats) > 1 else None
    result["events_per_s"] = round(len(wanted) / span) if span else None
    return result


def _cpu(pids: list[int]) -> float | None:
    """The CPU seconds of dingstore's processes together."""
    readings = [cpu_seconds(pid) for pid in pids]
    return None if None in readings else sum(r for r in readings if r is not None)


def _per_event(before: float | None, after: float | None, events: int) -> float | None:
    """CPU microseconds an event, between two readings of a process's CPU seconds."""
    if before is None or after is None or not events:
        return None
    return round((after - before) / events * 1e6, 1)


def _settle(db: stores.Sql, app_id: str, timeout: float = 10.0) -> None:
    """Acks travel after the receipt: give the store a moment to record the last ones."""
    deadline = time.monotonic() + timeout
    while _undelivered(db, app_id) and time.monotonic() < deadline:
        time.sleep(0.05)


def _tally(receiver: Receiver, wanted: set[str], db: stores.Sql, app_id: str) -> dict[str, Any]:
    got = [e["id"] for e in receiver.events if e["id"] in wanted]
    return {
        "events": len(wanted),
        "received": len(set(got)),
        "duplicates": len(got) - len(set(got)),
        "undelivered_in_store": _undelivered(db, app_id),
    }


def _latency(args: argparse.Namespace, stack: contextlib.ExitStack, tmp: Path) -> dict[str, Any]:
    port, push_port = common.free_port(), common.free_port()
    with stores.fresh_store(args, tmp, "latency") as (data_dir, url):
        seeded = asyncio.run(
            _seed(data_dir, url, port, push_port=push_port, stream_app=True, events=0,
                  copy_nodes=0)
        )  # fmt: skip
        tenant = seeded.tenant
        with contextlib.ExitStack() as phase:
            pushed = push_receiver(phase, push_port, seeded.push_app_key, tmp / "push-lat.log")
            headers = {TOKEN_HEADER: tenant.token}
            shape = stores.processes(data_dir, url, port)
            running = phase.enter_context(
                stores.serving(shape, tmp, "latency", data_dir, url, headers)
            )
            streamed = stream_receiver(phase, running.server.base_url, tenant, tmp / "s-lat.log")
            space = _space(running.server.base_url, tenant)
            time.sleep(2.0)  # the SDK connects
            sent = asyncio.run(_drive(running.server.base_url, tenant, space, args))
            result: dict[str, Any] = {"rate": args.rate, **sent}
            for mode, receiver in (("stream", streamed), ("push", pushed)):
                app_id = seeded.app_ids[mode]
                wanted = _expected(running.db, app_id)
                receiver.wait_for(wanted, 60.0)
                _settle(running.db, app_id)
                tally = _tally(receiver, wanted, running.db, app_id)
                firsts: dict[str, float] = {}
                for e in receiver.events:
                    firsts.setdefault(e["id"], e["at"] - e["born"])
                lat = list(firsts.values())
                tally["p50_ms"] = common.nearest_rank(lat, 50) if lat else None
                tally["p99_ms"] = common.nearest_rank(lat, 99) if lat else None
                result[mode] = tally
    return result


def _space(base_url: str, tenant: Tenant) -> str:
    with httpx.Client(base_url=base_url, headers={TOKEN_HEADER: tenant.token}) as client:
        api = Api(client, tenant.union_id)
        option = {"name": "latency", "scene": "bench", "sceneId": "latency"}
        body = api.call("POST", "/v1.0/storage/spaces", json={"option": option})
    return str(body["space"]["id"])


async def _drive(
    base_url: str, tenant: Tenant, space: str, args: argparse.Namespace
) -> dict[str, Any]:
    """AddFolder at ``args.rate`` a second for ``args.duration`` s, each sent at its time
    whatever the answers before it (open loop); the AddFolder answers' own latency. The client
    is aiohttp: httpx's own cost (a few hundred requests a second on a busy core) would queue
    the requests in the client."""
    import aiohttp

    headers = {TOKEN_HEADER: tenant.token}
    url = f"{base_url}/v1.0/storage/spaces/{space}/dentries/0/folders"
    total = int(args.rate * args.duration)
    took: list[float] = []
    connector = aiohttp.TCPConnector(limit=16)
    async with aiohttp.ClientSession(headers=headers, connector=connector) as client:

        async def one(n: int) -> None:
            sent = time.perf_counter()
            params = {"unionId": tenant.union_id}
            async with client.post(url, params=params, json={"name": f"f{n}"}) as r:
                if r.status != 200:
                    raise BenchError(f"AddFolder answered {r.status}: {await r.text()}")
                await r.read()
            took.append((time.perf_counter() - sent) * 1000)

        start = time.perf_counter()
        pending = []
        for n in range(total):
            delay = start + n / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(one(n)))
        await asyncio.gather(*pending)
    return {
        "sent": total,
        "request_p50_ms": round(common.nearest_rank(took, 50), 1),
        "request_p99_ms": round(common.nearest_rank(took, 99), 1),
    }


def _copy(args: argparse.Namespace, stack: contextlib.ExitStack, tmp: Path) -> dict[str, Any]:
    port = common.free_port()
    with stores.fresh_store(args, tmp, "copy") as (data_dir, url):
        seeded = asyncio.run(
            _seed(data_dir, url, port, push_port=None, stream_app=True, events=0,
                  copy_nodes=args.copy_nodes)
        )  # fmt: skip
        tenant, tree = seeded.tenant, seeded.tree
        with contextlib.ExitStack() as phase:
            headers = {TOKEN_HEADER: tenant.token}
            shape = stores.processes(data_dir, url, port)
            running = phase.enter_context(
                stores.serving(shape, tmp, "copy", data_dir, url, headers)
            )
            receiver = stream_receiver(phase, running.server.base_url, tenant, tmp / "s-copy.log")
            time.sleep(2.0)  # the SDK connects
            with httpx.Client(
                base_url=running.server.base_url, headers=headers, timeout=60
            ) as client:
                began = time.time()
                outcome = trees.perform(trees.Api(client, tenant.union_id), [tree], args.timeout)
                copy_s = time.time() - began
            app_id = seeded.app_ids["stream"]
            done = receiver.wait_count(tree.nodes, args.timeout)
            last = max((e["at"] for e in receiver.events), default=None)
            events_s = last / 1000 - began if last is not None else None
            _settle(running.db, app_id, 30.0)
            wanted = _expected(running.db, app_id)
            result = _tally(receiver, wanted, running.db, app_id)
            result.update(
                nodes=tree.nodes,
                copy_status=outcome.status,
                copy_s=round(copy_s, 2),
                events_s=round(events_s, 2) if events_s else None,
                complete=done,
            )
    return result


# --- report ------------------------------------------------------------------------------------


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict[str, Any]:
    tmp = common.temp_dir(stack)
    results: dict[str, Any] = {"backend": args.backend, **common.git_revision()}
    for phase in args.phases:
        err.print(f"[dim]{args.backend}: {phase}[/dim]")
        if phase in ("stream", "push"):
            results[phase] = _throughput(args, stack, tmp, phase)
        elif phase == "latency":
            results[phase] = _latency(args, stack, tmp)
        else:
            results[phase] = _copy(args, stack, tmp)
    report(results)
    return results


def report(results: dict[str, Any]) -> None:
    """The table; ``all_verified`` when every event arrived and the store delivered each."""
    common.widen_output()
    table = Table(title=f"Change events, {results['backend']}")
    for column in ("phase", "events", "received", "dup", "left in store", "figure", "target"):
        table.add_column(column, justify="left" if column in ("phase", "figure") else "right")
    sqlite = results["backend"] == "sqlite"
    ok = True

    def row(phase: str, r: dict[str, Any], figure: str, target: str) -> None:
        nonlocal ok
        ok &= r["received"] == r["events"] and not r["undelivered_in_store"]
        counts = (f"{r['events']:,}", f"{r['received']:,}", str(r["duplicates"]))
        table.add_row(phase, *counts, str(r["undelivered_in_store"]), figure, target)

    for mode in ("stream", "push"):
        if r := results.get(mode):
            rate = r["events_per_s"]
            target = ""
            if mode == "stream" and sqlite:
                target = ">= 2,000/s " + common.verdict(rate is not None and rate >= 2000)
            server, consumer = r["server_cpu_us_per_event"], r["consumer_cpu_us_per_event"]
            cpu = f" (CPU µs/event: dingstore {server}, consumer {consumer})"
            row(mode, r, f"{rate} events/s{cpu}", target)
    if lat := results.get("latency"):
        for mode in ("stream", "push"):
            r = lat[mode]
            met = r["p99_ms"] is not None and r["p99_ms"] <= 50
            figure = f"p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms"
            figure += f" (AddFolder p50 {lat['request_p50_ms']}, p99 {lat['request_p99_ms']} ms)"
            row(
                f"latency at {lat['rate']:g}/s, {mode}",
                r,
                figure,
                "p99 <= 50 ms " + common.verdict(met),
            )
    if c := results.get("copy"):
        ratio = c["events_s"] / c["copy_s"] if c["events_s"] and c["copy_s"] else None
        ok &= c["copy_status"] == "SUCCESS"
        figure = f"copy {c['copy_s']} s, events {c['events_s']} s"
        if ratio:
            figure += f" ({ratio:.2f}x)"
        met = ratio is not None and ratio <= 2
        row(f"copy of {c['nodes']:,} nodes", c, figure, "<= 2x " + common.verdict(met))
    results["all_verified"] = ok
    out.print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return common.run_benchmark(lambda stack: run(args, stack), f"events-{args.backend}")


if __name__ == "__main__":
    raise SystemExit(main())
