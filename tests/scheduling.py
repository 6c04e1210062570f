"""The order of the run, so that pytest-xdist's workers finish together.

``--dist worksteal`` first hands each of the N workers a contiguous share of the collected
tests, ``len // N`` of them, in collection order, and steals only later, from the longest queue.
A test that runs a minute (the SIGKILL tests start dozens of processes) that lands at the end of
a share ends the run a minute after the others are done. Each ``heavy(seconds)`` test is placed
at the front of one share instead, the longest first on the least loaded share (longest
processing time first), so the workers begin with them and the light tests fill in around.
A ``quiet`` test (a wake-up measured on PostgreSQL, whose event horizon is the whole database
server's: the SIGKILL tests' long transactions in their own databases hold it back) goes to the
end of the last share instead, after the heavy tests are done.
The order is a pure function of the collection, the same on every worker, as xdist requires.
"""

from __future__ import annotations

import os

import pytest


def weight(item: pytest.Item) -> float:
    mark = item.get_closest_marker("heavy")
    return float(mark.args[0]) if mark is not None and mark.args else 0.0


def share_sizes(total: int, workers: int) -> list[int]:
    """The sizes of the shares, as ``WorkStealingScheduling.check_schedule`` cuts them."""
    sizes, left = [], total
    for i in range(workers):
        size = left // (workers - i)
        sizes.append(size)
        left -= size
    return sizes


def heavy_first(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    heavy = sorted((item for item in items if weight(item)), key=weight, reverse=True)
    if workers < 2 or not heavy:
        return items
    quiet = [item for item in items if item.get_closest_marker("quiet") and not weight(item)]
    light = [item for item in items if not weight(item) and item not in quiet] + quiet
    sizes = share_sizes(len(items), workers)
    loads = [0.0] * workers
    fronts: list[list[pytest.Item]] = [[] for _ in range(workers)]
    for item in heavy:
        # The least loaded share that still has room for it.
        share = min(
            (i for i in range(workers) if len(fronts[i]) < sizes[i]), key=lambda i: loads[i]
        )
        fronts[share].append(item)
        loads[share] += weight(item)
    ordered: list[pytest.Item] = []
    rest = iter(light)
    for front, size in zip(fronts, sizes, strict=True):
        ordered.extend(front)
        ordered.extend(next(rest) for _ in range(size - len(front)))
    return ordered


def workers(config: pytest.Config) -> int:
    """How many xdist workers share the run: set on each worker; 0 outside xdist."""
    return int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
