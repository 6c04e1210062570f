"""Housekeeping outlives whatever fails a pass: each failure is logged, the next pass comes
after a pause that doubles up to the interval, and a pass that succeeds brings it back to the
interval."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest

from dingstore import errors
from dingstore.service import housekeeping
from tests import polling


class Sweeps:
    """Every service housekeeping calls, at once: each call raises the next of ``faults`` (None
    or none left: it succeeds) and records when it began."""

    def __init__(self, faults: list[BaseException | None]) -> None:
        self.faults = faults
        self.passes: list[float] = []

    async def purge_expired(self) -> int:
        self.passes.append(time.monotonic())
        fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            raise fault
        return 0

    async def collect(self) -> dict[str, int]:
        return {}


async def test_housekeeping_logs_each_failure_and_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(housekeeping, "RETRY_S", 0.02)
    faults: list[BaseException | None] = [
        RuntimeError("a bug"), KeyError("another"), errors.Unavailable(message="db down"), None,
        RuntimeError("again"),
    ]  # fmt: skip
    sweeps = Sweeps(faults)  # the first call of each pass
    first: Any = sweeps
    rest: Any = Sweeps([])
    keeper = housekeeping.Housekeeper(first, rest, rest, rest, rest, rest, interval=0.2)
    with caplog.at_level(logging.WARNING, logger=housekeeping.__name__):
        running = asyncio.create_task(keeper.run_forever())
        try:
            await polling.until_async(
                lambda: asyncio.sleep(0, len(sweeps.passes) >= 6), timeout=10, what="six passes"
            )
            assert not running.done()
        finally:
            running.cancel()
    failed = [r for r in caplog.records if "housekeeping failed a pass" in r.getMessage()]
    assert len(failed) == 4, caplog.text
    assert failed[0].exc_info is not None  # a bug: its traceback is in the log
    gaps = [b - a for a, b in zip(sweeps.passes, sweeps.passes[1:], strict=False)]
    # after three failures: 0.02, 0.04, 0.08 s; after a pass that succeeded: the interval; after
    # a failure again: the shortest pause
    least = (0.02, 0.04, 0.08, 0.2)
    assert all(round(g, 2) >= want for g, want in zip(gaps, least, strict=False)), gaps
    assert gaps[2] < 0.2 <= gaps[3] and gaps[4] < 0.2, gaps


class SlowPass(Sweeps):
    """A pass whose first call takes ``seconds``, and says whether it got to its end."""

    def __init__(self, seconds: float) -> None:
        super().__init__([])
        self.seconds = seconds
        self.ended = 0

    async def purge_expired(self) -> int:
        await super().purge_expired()
        await asyncio.sleep(self.seconds)
        self.ended += 1
        return 0


def keeper_of(first: Sweeps, interval: float) -> housekeeping.Housekeeper:
    rest: Any = Sweeps([])
    return housekeeping.Housekeeper(first, rest, rest, rest, rest, rest, interval=interval)  # type: ignore[arg-type]


async def test_stop_lets_a_pass_under_way_finish_and_ends_a_pause_at_once() -> None:
    """A server's shutdown stops housekeeping without cancelling a statement in flight (that
    costs the connection, and asyncpg logs an error for it): the pass ends, then the loop."""
    slow = SlowPass(0.3)
    keeper = keeper_of(slow, interval=60)
    running = asyncio.create_task(keeper.run_forever())
    await polling.until_async(lambda: asyncio.sleep(0, bool(slow.passes)), timeout=5, what="a pass")
    began = time.monotonic()
    await keeper.stop(running)
    assert running.done() and not running.cancelled()
    assert slow.ended == 1 and len(slow.passes) == 1
    assert 0.2 < time.monotonic() - began < 5

    # pausing (60 s to the next pass): it ends at once
    running = asyncio.create_task(keeper.run_forever())
    await polling.until_async(lambda: asyncio.sleep(0, slow.ended == 2), timeout=5, what="a pass")
    began = time.monotonic()
    await keeper.stop(running)
    assert running.done() and not running.cancelled() and time.monotonic() - began < 0.2


async def test_stop_cancels_a_pass_that_takes_too_long(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(housekeeping, "STOP_GRACE_S", 0.2)
    slow = SlowPass(30)
    keeper = keeper_of(slow, interval=60)
    running = asyncio.create_task(keeper.run_forever())
    await polling.until_async(lambda: asyncio.sleep(0, bool(slow.passes)), timeout=5, what="a pass")
    began = time.monotonic()
    await keeper.stop(running)
    assert running.cancelled() and slow.ended == 0
    assert time.monotonic() - began < 2
