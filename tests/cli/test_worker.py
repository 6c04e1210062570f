"""``serve --no-workers`` answers the API and runs no task; ``dingstore worker`` runs them and
stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dingstore.service.container import open_services
from dingstore.settings import Settings
from tests.cli.test_serve import wait_healthy
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk, free_port
from tests.storage import Storage


def seed(data_dir: Path) -> Tenant:
    async def main() -> Tenant:
        services = await open_services(Settings(data_dir=data_dir))
        try:
            boot = await services.identity.bootstrap()
            assert boot is not None
            app = boot.credentials
            assert app.app.app_key
            token = await services.tokens.issue_for_app(app.app.app_key, app.app_secret)
            return Tenant(boot, token.access_token)
        finally:
            await services.close()

    return asyncio.run(main())


def test_a_separate_worker_runs_the_tasks(tmp_path: Path) -> None:
    tenant = seed(tmp_path)
    port = free_port()
    env = {**os.environ, "DINGSTORE_LOG_LEVEL": "WARNING", "DINGSTORE_TASK_POLL_INTERVAL": "0.2"}
    base = [sys.executable, "-m", "dingstore"]
    where = ["--data-dir", str(tmp_path)]
    api = subprocess.Popen(
        [*base, "serve", *where, "--port", str(port), "--no-workers"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    worker = None
    try:
        wait_healthy(port, api)
        sdk = Sdk(f"127.0.0.1:{port}")
        server = LiveServer.__new__(LiveServer)  # only its url is used by Storage.raw
        server.settings = Settings(data_dir=tmp_path, port=port)
        st = Storage(server, sdk, tenant.token, tenant.admin_id)
        space = st.new_space()
        top = st.add_folder(space.id, "top")
        st.upload(space.id, b"inside", "in.txt", top.id)
        task_id = st.copy(space.id, top.id, space.id).task_id
        time.sleep(1)
        assert st.get_task(task_id).status == "INIT"  # no worker in the API process

        worker = subprocess.Popen(
            [*base, "worker", *where, "--concurrency", "1"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        task = st.wait_task(task_id)
        assert (task.status, task.total_count, task.success_count) == ("SUCCESS", 2, 2)
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
        assert worker.returncode == 0, err
    finally:
        for process in (api, worker):
            if process is not None:
                if process.poll() is None:
                    process.kill()
                process.communicate()
