"""Waiting in tests: every poll has a deadline, so a condition that never comes fails the test
with a message instead of hanging the suite."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


def until(
    probe: Callable[[], T | None], *, timeout: float, interval: float = 0.02, what: str = ""
) -> T:
    """Call ``probe`` until it returns something other than None (or False); return that. Raise
    ``AssertionError`` naming ``what`` once ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or probe}")
        time.sleep(interval)


async def until_async(
    probe: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    interval: float = 0.02,
    what: str = "",
) -> T:
    """``until`` for a coroutine probe, sleeping on the event loop."""
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what or probe}")
        await asyncio.sleep(interval)
