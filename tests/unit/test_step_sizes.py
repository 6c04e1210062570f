"""Steps sized by time (``DINGSTORE_TASK_CHUNK`` 0): each step settles as many nodes as the last
one's pace fits in the time asked, growing at most fourfold a step, within bounds."""

from __future__ import annotations

from dingstore.engine import worker


def test_a_step_of_the_time_asked_keeps_its_size() -> None:
    assert worker.next_chunk(5000, 5000, 0.1, 0.1) == 5000


def test_a_fast_step_grows_the_next_at_most_fourfold() -> None:
    assert worker.next_chunk(1000, 1000, 0.05, 0.1) == 2000
    assert worker.next_chunk(1000, 1000, 0.001, 0.1) == 4000


def test_a_slow_step_shrinks_the_next_to_its_pace() -> None:
    assert worker.next_chunk(10_000, 10_000, 0.5, 0.1) == 2000


def test_sizes_stay_within_bounds() -> None:
    low, high = worker.CHUNK_RANGE
    assert worker.next_chunk(1000, 10, 10.0, 0.1) == low
    assert worker.next_chunk(high, high, 0.001, 0.1) == high


def test_a_step_that_settled_nothing_leaves_the_size() -> None:
    """The step that takes a task's snapshot settles no node: its time says nothing of the
    pace."""
    assert worker.next_chunk(1000, 0, 0.4, 0.1) == 1000


def test_a_short_last_step_is_sized_by_what_it_settled() -> None:
    """The last step of a task settles what was left, fewer than asked."""
    assert worker.next_chunk(8000, 500, 0.01, 0.1) == 5000
