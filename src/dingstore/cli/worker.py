"""``dingstore worker``: a process that only runs tasks, beside any number of ``serve`` and
``worker`` processes sharing one database."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from dingstore import logs
from dingstore.cli.common import DatabaseUrl, DataDir, require_store, settings_from
from dingstore.service.container import open_services


def worker(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", help="Tasks run at once (env DINGSTORE_WORKERS)."),
    ] = None,
) -> None:
    """Run tasks until SIGTERM or SIGINT: each worker then finishes its step and gives its
    lease back, so another process resumes the task at once."""
    settings = settings_from(data_dir, database_url, workers=concurrency)
    if settings.resolved_database_url.startswith("sqlite"):
        # An embedded store is made by serve or admin init, never by a worker started in the
        # wrong directory; on PostgreSQL any process may be the first (docs/deploy.md).
        require_store(settings)
    logs.configure(settings.log_level, json=settings.log_json)

    async def main() -> None:
        services = await open_services(settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        services.engine.concurrency = max(1, settings.workers)
        services.engine.start()
        services.push.start()  # HTTP pushes go out of every process that runs tasks
        try:
            await stop.wait()
        finally:
            await services.push.stop()
            await services.engine.stop()
            await services.close()

    asyncio.run(main())
