"""``Deadlines`` (api/middleware.py), the one timer behind every request's deadline: a request
past it is cancelled and told so, one that ends in time or is cancelled for another reason is
not."""

from __future__ import annotations

import asyncio

import pytest

from dingstore.api.middleware import Deadlines


async def request(deadlines: Deadlines, seconds: float) -> str:
    deadline = deadlines.start()
    try:
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            if not deadlines.passed(deadline):
                raise
            return "timeout"
        return "done"
    finally:
        deadlines.finish(deadline)


async def test_only_requests_past_their_deadline_are_cancelled() -> None:
    deadlines = Deadlines(0.2)
    first = asyncio.create_task(request(deadlines, 0.05))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(request(deadlines, 1))  # due 0.1 s after the first
    third = asyncio.create_task(request(deadlines, 0.15))
    slow = asyncio.create_task(request(deadlines, 1))
    assert await asyncio.gather(first, second, third, slow) == [
        "done",
        "timeout",
        "done",
        "timeout",
    ]
    assert not deadlines._pending
    assert second.cancelling() == 0


async def test_another_cancellation_is_not_a_deadline() -> None:
    deadlines = Deadlines(5)
    task = asyncio.create_task(request(deadlines, 1))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not deadlines._pending


async def test_a_cancellation_on_top_of_the_deadline_stays() -> None:
    deadlines = Deadlines(0.05)

    async def cancelled_twice() -> str:
        deadline = deadlines.start()
        try:
            try:
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                asyncio.current_task().cancel()  # type: ignore[union-attr]
                if not deadlines.passed(deadline):
                    raise
                return "timeout"
            return "done"
        finally:
            deadlines.finish(deadline)

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(cancelled_twice())
