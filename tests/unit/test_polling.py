"""The tests' one way to wait: a condition that never comes fails the test at its deadline."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests import polling


def test_until_returns_what_the_probe_found() -> None:
    answers = iter([None, False, 0, "found"])
    assert polling.until(lambda: next(answers), timeout=5, interval=0) == 0


def test_until_fails_at_its_deadline() -> None:
    started = time.monotonic()
    with pytest.raises(AssertionError, match="never"):
        polling.until(lambda: None, timeout=0.2, interval=0.01, what="never")
    assert 0.2 <= time.monotonic() - started < 2


async def test_until_async_fails_at_its_deadline() -> None:
    with pytest.raises(AssertionError, match="never"):
        await polling.until_async(lambda: asyncio.sleep(0), timeout=0.1, what="never")
