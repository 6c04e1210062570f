"""When to deliver an event again after a failed attempt: growing delays with jitter over more
than three days, then give up (the event is FAILED; an operator can redeliver it).

The delays follow Standard Webhooks' shape (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, ...) with a
few short steps first, so that a receiver that blinked (a restart, a deploy) gets its events
within minutes. Each delay is moved by up to ±``JITTER`` at random, so that the events a
receiver refused together do not all come back at the same instant. Even with every delay drawn
at its shortest, the attempts span more than ``MIN_SPAN_S`` (72 h); a test holds that.

HTTP push (``push.py``) and Stream nacks (``stream.py``) share this schedule.
"""

from __future__ import annotations

import random

# The pause after failed attempt n is DELAYS_S[n - 1]; after the last, the event is FAILED.
DELAYS_S: tuple[float, ...] = (
    5,
    30,
    2 * 60,
    5 * 60,
    30 * 60,
    60 * 60,
    2 * 60 * 60,
    5 * 60 * 60,
    *(10 * 60 * 60,) * 8,
)
ATTEMPTS = len(DELAYS_S) + 1  # the first delivery and one retry per delay: 17
JITTER = 0.1  # each delay is drawn from [0.9 d, 1.1 d)
MIN_SPAN_S = 72 * 60 * 60


def next_delay(attempt: int, rng: random.Random | None = None) -> float | None:
    """Seconds to wait after failed attempt ``attempt`` (1 for the first delivery) before the
    next one, with jitter drawn from ``rng`` (the module's generator when None); None when that
    was the last attempt: mark the event FAILED."""
    if attempt < 1:
        raise ValueError("attempts count from 1")
    if attempt > len(DELAYS_S):
        return None
    base = DELAYS_S[attempt - 1]
    draw = (rng or random).random()  # [0, 1)
    return base * (1 - JITTER + 2 * JITTER * draw)


def shortest_span_s() -> float:
    """The time from the first attempt to the last when every delay is drawn at its shortest."""
    return sum(DELAYS_S) * (1 - JITTER)
