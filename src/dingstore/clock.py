"""Time as dingstore keeps it (epoch milliseconds) and as the wire shows it (ISO 8601 UTC)."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int | None) -> str | None:
    """``2022-01-01T10:00:00Z`` — second precision, UTC, the shape DingTalk's examples print."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
