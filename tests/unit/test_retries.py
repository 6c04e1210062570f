"""The retry schedule (service/events/retries.py): growing delays with jitter over at least
three days, then give up."""

from __future__ import annotations

import random

import pytest

from dingstore.service.events import retries


def test_delays_grow_and_jitter_stays_within_bounds() -> None:
    rng = random.Random(7)
    for attempt, base in enumerate(retries.DELAYS_S, start=1):
        for _ in range(50):
            delay = retries.next_delay(attempt, rng)
            assert delay is not None
            assert base * 0.9 <= delay < base * 1.1
    assert list(retries.DELAYS_S) == sorted(retries.DELAYS_S)
    assert retries.DELAYS_S[0] <= 5


def test_jitter_spreads_the_delays() -> None:
    rng = random.Random(1)
    drawn = {retries.next_delay(3, rng) for _ in range(20)}
    assert len(drawn) == 20


def test_the_schedule_spans_three_days_at_its_shortest_then_gives_up() -> None:
    assert retries.shortest_span_s() >= 72 * 3600
    low = random.Random()
    low.random = lambda: 0.0  # type: ignore[method-assign]
    total, attempt = 0.0, 1
    while (delay := retries.next_delay(attempt, low)) is not None:
        total += delay
        attempt += 1
    assert total >= 72 * 3600
    assert attempt == retries.ATTEMPTS
    assert retries.next_delay(retries.ATTEMPTS, low) is None
    assert retries.next_delay(retries.ATTEMPTS + 5, low) is None


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError):
        retries.next_delay(0)
    assert retries.next_delay(1) is not None
