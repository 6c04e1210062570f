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
