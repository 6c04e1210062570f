"""Time as dingstore keeps it (epoch milliseconds) and as the wire shows it (ISO 8601 UTC).

Services read the time from a :class:`Clock` they are given, never from the OS directly, so that
a test can move time forward (:class:`ManualClock`) instead of sleeping past an expiry.
"""

from __future__ import annotations

import time


def now_ms() -> int:
    """The OS's wall time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


class Clock:
    """Wall time, the way every service reads it."""

    def now_ms(self) -> int:
        return now_ms()

    def monotonic(self) -> float:
        """Seconds that never go back, for what measures elapsed time (cache lifetimes)."""
        return time.monotonic()


class ManualClock(Clock):
    """Wall time plus an offset a test moves forward: expiry without sleeping. Time still
    passes on its own, so leases and timeouts of the code under test keep working."""

    def __init__(self) -> None:
        self.offset_ms = 0

    def now_ms(self) -> int:
        return now_ms() + self.offset_ms

    def monotonic(self) -> float:
        return time.monotonic() + self.offset_ms / 1000

    def advance(self, seconds: float) -> None:
        """Move the clock ``seconds`` forward."""
        self.offset_ms += round(seconds * 1000)

    def reset(self) -> None:
        """Back to the OS's time: between tests on a shared server only, as this moves even
        :meth:`monotonic` back (a cache entry made after an advance may outlive its time)."""
        self.offset_ms = 0


SYSTEM = Clock()


def iso(ms: int | None) -> str | None:
    """``2022-01-01T10:00:00Z`` — second precision, UTC, the shape DingTalk's examples print."""
    if ms is None:
        return None
    # time.strftime: a third of the cost of a datetime's (GetTask prints two of these).
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))
