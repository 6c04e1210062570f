"""A task that cannot begin at all still ends: FAIL with its reason, the folder it was for
counted failed, successCount + failCount == totalCount."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dingstore.store import schema
from tests import enqueued, polling
from tests.engine import trees
from tests.live import LiveServer


def test_a_task_that_fails_before_it_begins_counts_its_folder_failed(
    make_server: Callable[..., LiveServer],
) -> None:
    server = make_server(task_poll_interval=0.05)
    services = server.services
    account = server.run(trees.new_account(services))

    unknown = enqueued.payload("no-such-kind")
    task_id = server.run(
        enqueued.enqueue(services, account.actor.corp_id, account.union_id, unknown)
    )

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
