"""Live progress: while a bulk task runs, GetTask shows successCount rising step by step, never
falling, and reaching totalCount at the end."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from alibabacloud_dingtalk.storage_1_0 import models as m

from tests import polling
from tests.engine import trees
from tests.live import LiveServer, Sdk
from tests.storage import Storage

NODES = 4_000
CHUNK = 40  # a hundred steps


def test_success_count_rises_while_a_copy_runs(make_server: Callable[..., LiveServer]) -> None:
    server = make_server(task_chunk=CHUNK)
    services = server.services
    account = server.run(trees.new_account(services))
    source = server.run(trees.new_space(services, account, "source"))
    target = server.run(trees.new_space(services, account, "target"))
    seeded = server.run(trees.seed_tree(services, account, source, "top", NODES, fanout=50))
    st = Storage(server, Sdk(server.endpoint), account.token, account.union_id)

    result = st.copy(str(source), str(seeded.root_id), str(target))
    assert result.async_ and result.task_id
    seen: list[tuple[float, int]] = []

    def ended() -> m.GetTaskResponseBodyTask | None:
        task = st.get_task(result.task_id)
        if task.status == "IN_PROGRESS":
            assert task.total_count == NODES
            seen.append((time.monotonic(), int(task.success_count)))
        return task if task.status in ("SUCCESS", "FAIL") else None

    task = polling.until(ended, timeout=120, interval=0.002, what="the copy's end")
    assert (task.status, task.success_count, task.fail_count) == ("SUCCESS", NODES, 0)
    counts = [count for _, count in seen]
    assert counts == sorted(counts), "successCount went down"
    assert len(set(counts)) >= 3, f"progress was not visible: {counts}"
    rises = [at for (_, before), (at, count) in itertools.pairwise(seen) if count > before]
    gaps = [b - a for a, b in itertools.pairwise(rises)]
    assert max(gaps, default=0) < 1.0, f"successCount stood still for {max(gaps):.2f} s"
