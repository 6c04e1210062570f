"""A task that cannot begin at all still ends: FAIL with its reason, the folder it was for
counted failed, successCount + failCount == totalCount."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dingstore.store import schema
from tests import polling
from tests.engine import trees
from tests.live import LiveServer


def test_a_task_that_fails_before_it_begins_counts_its_folder_failed(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(task_poll_interval=0.05)
    services = server.services
    assert services is not None
    account = server.run(trees.new_account(services))

    async def create() -> int:
        task_id = await services.tasks.new_id()
        async with services.db.write() as conn:
            await services.tasks.create(
                conn, task_id, corp_id=account.actor.corp_id, creator_id=account.union_id,
                app_id=None, kind="no-such-kind", payload={},
            )  # fmt: skip
        return task_id

    task_id = server.run(create())
    services.engine.wake()

    async def read() -> Any:
        async with services.db.read() as conn:
            stmt = sa.select(schema.tasks).where(schema.tasks.c.id == task_id)
            return (await conn.execute(stmt)).first()

    def ended() -> Any:
        row = server.run(read())
        assert row is not None
        return row if row.status in ("SUCCESS", "FAIL") else None

    row = polling.until(ended, timeout=10, what=f"task {task_id}'s end")
    assert (row.status, row.fail_message) == ("FAIL", "systemError")
    assert (row.total_count, row.success_count, row.fail_count) == (1, 0, 1)
    assert row.begin_time is not None and row.end_time is not None
