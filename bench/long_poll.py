"""Benchmark GetTask's long-poll (``waitSeconds``, docs/tasks.md#long-poll): how long after a
task ends does the client waiting for it get its answer?

What is measured
----------------
Each round copies a folder (one subfolder in it) with dingstore's own services, which enqueues
a COPY task. Its first step is held back until a client has sent ``GET
/v1.0/storage/tasks/{id}?waitSeconds=30`` over HTTP and the server has registered the waiter;
then the task runs. The wake-up latency is the time from the task's end — the commit of the
transaction that ends it, as a listener of ``task_rows.DONE_CHANNEL`` in the process that ran
it hears it — to the client holding the answer, ``SUCCESS``.

* ``sqlite``: one services instance serves HTTP and runs the task: the end wakes the waiter in
  process, right after the commit.
* ``postgres``: two services instances on one database, as two processes of a deployment: one
  serves HTTP and runs no workers, the other runs the task. The end reaches the waiter only
  through ``NOTIFY`` and the serving side's ``LISTEN`` connection.

Everything runs in one process and one event loop (uvicorn, the client, the workers): the
figures include the loop's scheduling of all three. The target (issue 18): p50 and p99 <= 20 ms.

Run: ``.venv/bin/python bench/long_poll.py [--backend sqlite|postgres] [--pg-url URL]
[--rounds 200]``. Results are printed and written to
``bench/results/long_poll_<backend>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import common
import httpx
from common import BenchError, out, verdict
from rich.table import Table

TARGET_MS = 20.0
WAIT_S = 30


class Held:
    """The copy handler, whose tasks wait at their first step until released, noting when each
    ends."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.released: dict[int, asyncio.Event] = {}

    def release(self, task_id: int) -> None:
        self.released.setdefault(task_id, asyncio.Event()).set()

    async def prepare(self, task: Any) -> bool:
        await self.released.setdefault(task.id, asyncio.Event()).wait()
        return True

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def start(self, conn: Any, task: Any) -> Any:
        return await self.inner.start(conn, task)

    async def step(self, conn: Any, task: Any, limit: int) -> Any:
        return await self.inner.step(conn, task, limit)


@contextlib.asynccontextmanager
async def serving(svc: Any, settings: Any) -> AsyncIterator[str]:
    """``svc`` behind uvicorn on ``settings.port``, in this loop."""
    import uvicorn

    from dingstore.api.app import create_app

    app = create_app(settings, svc)
    config = uvicorn.Config(app, host="127.0.0.1", port=settings.port, log_config=None)
    server = uvicorn.Server(config)
    running = asyncio.create_task(server.serve())
    while not server.started:
        if running.done():
            running.result()
            raise BenchError("uvicorn did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{settings.port}"
    finally:
        server.should_exit = True
        await running


async def measure(data_dir: Path, database_url: str | None, rounds: int) -> dict[str, Any]:
    from dingstore.service.bulk.copies import CopyPayload
    from dingstore.service.container import open_services
    from dingstore.service.spaces import NewSpace
    from dingstore.settings import Settings
    from dingstore.store import task_rows

    port = common.free_port()
    split = database_url is not None  # PostgreSQL: the waiter's process runs no workers
    front_settings = Settings(
        data_dir=data_dir, port=port, database_url=database_url, workers=0 if split else 1
    )
    front = await open_services(front_settings)
    back = await open_services(front_settings.model_copy(update={"workers": 1})) if split else front
    # When a task ends: its ending transaction's commit, as this process's listeners of the
    # channel hear it (called right after the commit, before any other work).
    committed: list[float] = []
    noting = asyncio.create_task(
        back.db.listen(task_rows.DONE_CHANNEL, lambda: committed.append(time.perf_counter()))
    )
    kind = CopyPayload.kind
    held = Held(back.engine.handlers[kind])
    back.engine.handlers[kind] = held  # type: ignore[index]
    latencies: list[float] = []
    early = 0  # rounds answered before the ending process heard its own commit
    try:
        tenant = await common.bootstrap_tenant(front)
        actor = await common.actor(front, tenant)
        source = await front.spaces.add(actor, NewSpace(name="s", scene="b", scene_id="s"))
        target = await front.spaces.add(actor, NewSpace(name="t", scene="b", scene_id="t"))
        top = await front.dentries.add_folder(actor, str(source.id), "0", "top", None, [])
        await front.dentries.add_folder(actor, str(source.id), str(top.id), "sub", None, [])
        if split:
            back.engine.start()
        async with (
            serving(front, front_settings) as url,
            httpx.AsyncClient(base_url=url, timeout=WAIT_S + 10) as client,
        ):
            headers = {common.TOKEN_HEADER: tenant.token}
            for _ in range(rounds):
                done = await front.dentries.copy(
                    actor, str(source.id), str(top.id), str(target.id), "0", None
                )
                task_id = done.task_id
                assert task_id is not None
                params = {"unionId": tenant.union_id, "waitSeconds": str(WAIT_S)}
                waiting = asyncio.create_task(
                    client.get(f"/v1.0/storage/tasks/{task_id}", params=params, headers=headers)
                )
                while task_id not in front.tasks.watch._waiters:  # registered: it waits
                    if waiting.done():
                        raise BenchError(f"GetTask answered before the task ran: {waiting}")
                    await asyncio.sleep(0.001)
                committed.clear()
                held.release(task_id)
                response = await waiting
                answered = time.perf_counter()
                body = response.json()
                if response.status_code != 200 or body["task"]["status"] != "SUCCESS":
                    raise BenchError(f"GetTask answered {response.status_code}: {response.text}")
                # The ending process hears its own commit after the commit's bookkeeping: the
                # answer may come first (PostgreSQL: heard twice, in process and by NOTIFY).
                for _ in range(1000):
                    if committed:
                        break
                    await asyncio.sleep(0.001)
                else:
                    raise BenchError(f"the end of task {task_id} was not heard")
                early += answered < committed[0]
                latencies.append(max(0.0, answered - committed[0]) * 1000)
    finally:
        noting.cancel()
        await asyncio.gather(noting, return_exceptions=True)
        if split:
            await back.engine.stop()
            await back.close()
        await front.close()
    return {
        "rounds": rounds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": common.nearest_rank(latencies, 99),
        "max_ms": max(latencies),
        "mean_ms": statistics.fmean(latencies),
        "answered_before_the_end_was_heard": early,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common.add_backend_args(parser)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    common.widen_output()

    def work(stack: contextlib.ExitStack) -> dict[str, Any]:
        data_dir = common.temp_dir(stack)
        url = (
            stack.enter_context(common.pg_database(args.pg_url))
            if args.backend == "postgres"
            else None
        )
        figures = asyncio.run(measure(data_dir, url, args.rounds))
        met = figures["p50_ms"] <= TARGET_MS and figures["p99_ms"] <= TARGET_MS
        table = Table(title=f"GetTask long-poll: wake-up after the task ends ({args.backend})")
        for column in (
            "rounds",
            "p50 ms",
            "p99 ms",
            "max ms",
            "mean ms",
            f"target <= {TARGET_MS:g} ms",
        ):
            table.add_column(column, justify="right")
        table.add_row(
            str(figures["rounds"]),
            f"{figures['p50_ms']:.2f}",
            f"{figures['p99_ms']:.2f}",
            f"{figures['max_ms']:.2f}",
            f"{figures['mean_ms']:.2f}",
            verdict(met),
        )
        out.print(table)
        return {
            "backend": args.backend,
            "target_ms": TARGET_MS,
            **figures,
            "target_met": met,
            **common.git_revision(),
        }

    return common.run_benchmark(work, f"long_poll_{args.backend}")


if __name__ == "__main__":
    raise SystemExit(main())
