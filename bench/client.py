"""What ``dingstore.client`` costs over the wire it drives, against ``dingstore serve``
(embedded: SQLite and local files) in a process of its own.

What is measured
----------------
* ``calls``: GetSpace made ``--calls`` times one after another, through ``Client.get_space``
  and as the same raw request on one keep-alive ``httpx.Client``: the client layer's own cost
  (flows, driver, parsing into a dataclass) per call, p50 and p99; and the raw request on
  pyreqwest's blocking client and on aiohttp, for the choice of HTTP library (docs/client.md).
* ``async calls``: the same number through ``AsyncClient.get_space``, ``--concurrency`` at once:
  calls per second.
* ``transfers``: one file of ``--size-mb`` MiB uploaded and downloaded (compared by sha256),
  in one PUT and in parts of ``--part-mb`` MiB, ``--parallel`` at a time: MB/s each way.

Run: ``.venv/bin/python bench/client.py [--calls 2000] [--size-mb 256]``. Results are printed and
written to ``bench/results/client.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

import common
import httpx
from common import BenchError, out

from dingstore.client import AsyncClient, Client

MiB = 1024 * 1024


def bootstrap(data_dir: Path) -> dict[str, str]:
    """``dingstore admin init --json``: the org's admin and app."""
    cmd, env = common._dingstore(data_dir, None, "admin", "init", "--json")
    cmd = [cmd[0], "admin", "init", "--json", "--data-dir", str(data_dir)]
    done = subprocess.run(cmd, env=env, capture_output=True, check=False)
    if done.returncode != 0:
        raise BenchError(f"admin init failed: {done.stderr.decode(errors='replace')}")
    answer: dict[str, str] = json.loads(done.stdout)
    return answer


def percentiles(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p99_ms": round(common.nearest_rank(ms, 99), 3),
    }


def calls(client: Client, base_url: str, creds: dict[str, str], n: int) -> dict[str, Any]:
    space = client.create_space("bench")
    union_id = creds["unionId"]
    asked = {"appKey": creds["appKey"], "appSecret": creds["appSecret"]}
    token = httpx.post(f"{base_url}/v1.0/oauth2/accessToken", json=asked).json()["accessToken"]
    timed: list[float] = []
    for _ in range(n):
        start = time.perf_counter()
        client.get_space(space.id)
        timed.append(time.perf_counter() - start)
    raw: list[float] = []
    with httpx.Client(base_url=base_url) as http:
        for _ in range(n):
            start = time.perf_counter()
            response = http.get(
                f"/v1.0/storage/spaces/{space.id}",
                params={"unionId": union_id},
                headers={common.TOKEN_HEADER: token},
            )
            response.json()
            raw.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise BenchError(f"GetSpace answered {response.status_code}")
    url = f"{base_url}/v1.0/storage/spaces/{space.id}"
    others = {
        "raw_pyreqwest": pyreqwest_calls(url, union_id, token, n),
        "raw_aiohttp": asyncio.run(aiohttp_calls(url, union_id, token, n)),
    }
    return {
        "client": percentiles(timed),
        "raw_httpx": percentiles(raw),
        **others,
        "space_id": space.id,
    }


def pyreqwest_calls(url: str, union_id: str, token: str, n: int) -> dict[str, float]:
    """The same GetSpace on pyreqwest's blocking client (Rust's reqwest; a dependency of the
    server's HTTP push): what another HTTP library would cost."""
    from pyreqwest.client import SyncClientBuilder

    timed = []
    with SyncClientBuilder().build() as client:
        for _ in range(n):
            start = time.perf_counter()
            request = client.get(url).query({"unionId": union_id})
            client_answer = request.header(common.TOKEN_HEADER, token).build().send()
            json.loads(bytes(client_answer.bytes()))
            timed.append(time.perf_counter() - start)
    return percentiles(timed)


async def aiohttp_calls(url: str, union_id: str, token: str, n: int) -> dict[str, float]:
    """The same GetSpace on aiohttp (asyncio only; a dev dependency of the tests)."""
    import aiohttp

    timed = []
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            start = time.perf_counter()
            params = {"unionId": union_id}
            headers = {common.TOKEN_HEADER: token}
            async with session.get(url, params=params, headers=headers) as answer:
                await answer.json()
            timed.append(time.perf_counter() - start)
    return percentiles(timed)


async def async_calls(
    creds: dict[str, str], base_url: str, space_id: str, n: int, at_once: int
) -> float:
    async with AsyncClient(base_url, creds["appKey"], creds["appSecret"], creds["unionId"]) as c:
        await c.get_space(space_id)  # the token
        gate = asyncio.Semaphore(at_once)

        async def one() -> None:
            async with gate:
                await c.get_space(space_id)

        start = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(n)))
        return n / (time.perf_counter() - start)


def transfers(client: Client, folder: Path, size: int, label: str) -> dict[str, Any]:
    source = folder / f"{label}.bin"
    with source.open("wb") as f:
        for _ in range(size // MiB):
            f.write(os.urandom(MiB))
    space = client.create_space(label)
    start = time.perf_counter()
    made = client.upload(source, space)
    up = time.perf_counter() - start
    start = time.perf_counter()
    back = client.download(made, folder / f"{label}.back")
    down = time.perf_counter() - start
    if hashlib.sha256(back.read_bytes()).digest() != hashlib.sha256(source.read_bytes()).digest():
        raise BenchError(f"{label}: the downloaded bytes differ")
    source.unlink()
    back.unlink()
    mb = size / 1e6
    return {"upload_MBps": round(mb / up, 1), "download_MBps": round(mb / down, 1)}


def work(stack: contextlib.ExitStack, args: argparse.Namespace) -> dict[str, Any]:
    data_dir = common.temp_dir(stack)
    creds = bootstrap(data_dir)
    server = common.dingstore_server(data_dir, common.free_port())
    proc = stack.enter_context(common.running(server, data_dir / "server.log"))
    common.wait_ready(proc, server.base_url + server.ready_path, {})
    size = args.size_mb * MiB
    part = args.part_mb * MiB
    settings = {"multipart_threshold": size + 1, "part_size": part, "parallel": args.parallel}
    single = stack.enter_context(
        Client(server.base_url, creds["appKey"], creds["appSecret"], creds["unionId"], **settings)
    )
    results: dict[str, Any] = {"calls": args.calls}
    measured = calls(single, server.base_url, creds, args.calls)
    results["get_space"] = measured
    results["async_calls_per_s"] = round(
        asyncio.run(
            async_calls(creds, server.base_url, measured["space_id"], args.calls, args.concurrency)
        )
    )
    results["one_put"] = transfers(single, data_dir, size, "single")
    parts = stack.enter_context(
        Client(
            server.base_url,
            creds["appKey"],
            creds["appSecret"],
            creds["unionId"],
            multipart_threshold=part,
            part_size=part,
            parallel=args.parallel,
        )
    )
    results["multipart"] = transfers(parts, data_dir, size, "parts")
    results["settings"] = vars(args)
    out.print(json.dumps(results, indent=2))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--size-mb", type=int, default=256)
    parser.add_argument("--part-mb", type=int, default=16)
    parser.add_argument("--parallel", type=int, default=4)
    args = parser.parse_args()
    return common.run_benchmark(lambda stack: work(stack, args), "client")


if __name__ == "__main__":
    raise SystemExit(main())
