"""``serve --no-workers`` answers the API and runs no task; ``dingstore worker`` runs them and,
on SIGTERM, finishes its step, gives the task's lease back and exits."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

from dingstore.service.container import open_services
from dingstore.settings import Settings
from tests import polling
from tests.conftest import Tenant
from tests.engine import trees
from tests.live import DingstoreProcess, LiveServer, Sdk, free_port
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
    env = {"DINGSTORE_LOG_LEVEL": "WARNING", "DINGSTORE_TASK_POLL_INTERVAL": "0.2"}
    where = ["--data-dir", str(tmp_path)]
    api = DingstoreProcess(
        "api", ["serve", *where, "--port", str(port), "--no-workers"], env, tmp_path, port=port
    )
    worker = DingstoreProcess("worker", ["worker", *where, "--concurrency", "1"], env, tmp_path)
    try:
        api.start().wait_ready(timeout=30, interval=0.1)
        sdk = Sdk(api.endpoint)
        server = LiveServer.__new__(LiveServer)  # only its url is used by Storage.raw
        server.settings = Settings(data_dir=tmp_path, port=port)
        st = Storage(server, sdk, tenant.token, tenant.admin_id)
        space = st.new_space()
        top = st.add_folder(space.id, "top")
        st.upload(space.id, b"inside", "in.txt", top.id)
        task_id = st.copy(space.id, top.id, space.id).task_id
        time.sleep(1)
        assert st.get_task(task_id).status == "INIT"  # no worker in the API process

        worker.start()
        task = st.wait_task(task_id)
        assert (task.status, task.total_count, task.success_count) == ("SUCCESS", 2, 2)
        assert worker.stop() == 0, worker.log()
    finally:
        api.kill()
        worker.kill()


TREE = 10_000  # nodes of the copied folder, itself included
CHUNK = 10  # nodes a step settles: a thousand steps, several seconds of work on either backend


def test_sigterm_ends_the_step_and_gives_the_lease_back(tmp_path: Path, database_url: str) -> None:
    """A worker told to stop mid-task exits 0 at once, the task's cursor and counts at a step
    boundary and its lease free (long as it is), so another worker resumes at once and ends
    the task with exact counts."""
    store = trees.Store(Settings(data_dir=tmp_path, database_url=database_url, workers=1))
    worker = DingstoreProcess(
        "worker",
        ["worker", "--data-dir", str(tmp_path), "--database-url", database_url,
         "--concurrency", "1"],
        {"DINGSTORE_TASK_CHUNK": str(CHUNK), "DINGSTORE_TASK_LEASE": "600",
         "DINGSTORE_TASK_POLL_INTERVAL": "0.1", "DINGSTORE_LOG_LEVEL": "WARNING"},
        tmp_path,
    )  # fmt: skip
    try:
        acct = store.run(trees.new_account(store.services))
        source = store.run(trees.new_space(store.services, acct, "from"))
        target = store.run(trees.new_space(store.services, acct, "to"))
        seeded = store.run(trees.seed_tree(store.services, acct, source, "top", TREE))
        before = store.run(trees.tree(store.db, source))
        worker.start()
        copied = store.run(
            store.services.dentries.copy(
                acct.actor, str(source), str(seeded.root_id), str(target), "0", None
            )
        )
        assert copied.task_id is not None
        task_id = copied.task_id

        def settling() -> bool:  # the worker took the task and settled a few hundred nodes
            row = store.run(trees.task_rows(store.db))[task_id]
            owner = (row.lease_owner or "").split(":")
            assert worker.running, worker.log()
            return row.success_count >= 300 and len(owner) >= 3 and owner[-3] == str(worker.pid)

        polling.until(settling, timeout=30, interval=0.01, what="the worker's first steps")
        signalled = time.monotonic()
        assert worker.stop() == 0, worker.log()
        assert time.monotonic() - signalled < 5, "the worker did not stop promptly"

        row = store.run(trees.task_rows(store.db))[task_id]
        assert row.status == "IN_PROGRESS" and row.lease_owner is None
        assert row.cursor, row.cursor  # where the next step begins
        done = int(row.success_count)
        assert (row.total_count, row.fail_count) == (TREE, 0)
        assert done < TREE, "the task ended before the worker was told to stop"
        # A step boundary: the folder's copy (the task's first step) and whole chunks, and the
        # target space holds exactly what the counts say.
        assert (done - 1) % CHUNK == 0, done
        assert store.run(trees.count_where(store.db, trees.d, trees.d.c.space_id == target)) == done

        store.run(resume(store))  # another worker, in this process, lease as long
        finished = store.run(trees.task_rows(store.db))[task_id]
        assert (finished.status, finished.total_count, finished.success_count) == (
            "SUCCESS", TREE, TREE,
        )  # fmt: skip
        assert finished.fail_count == 0
        assert store.run(trees.tree(store.db, target)) == before
        assert store.run(trees.problems(store.db)) == []
    finally:
        worker.kill()
        store.close()


async def resume(store: trees.Store) -> None:
    """Run the engine of ``store`` until no task is left to run (within a minute)."""
    engine = store.services.engine
    engine.lease_ms, engine.chunk = 600_000, 1000
    engine.start()
    try:

        async def ended() -> bool:
            rows = (await trees.task_rows(store.db)).values()
            return not any(r.status in ("INIT", "IN_PROGRESS") for r in rows)

        await polling.until_async(ended, timeout=60, interval=0.05, what="the task's resumption")
    finally:
        await engine.stop()


def test_a_worker_refuses_a_data_dir_without_a_store(tmp_path: Path) -> None:
    """Started in the wrong place, an embedded worker would wait forever on an empty store it
    made itself: it stops instead, naming the data dir, and creates nothing."""
    data = tmp_path / "data"
    worker = DingstoreProcess("worker", ["worker", "--data-dir", str(data)], {}, tmp_path)
    worker.start()
    assert worker.process is not None
    try:
        worker.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    finally:
        worker.kill()
    assert worker.process.returncode == 1
    out = worker.output()
    assert f"no dingstore store in {data}" in out and "Traceback" not in out, out
    assert not data.exists()
