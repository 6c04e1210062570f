"""Per-app, per-operation QPS limits (off by default), kept in this process's memory.

A token bucket per (app, operation): ``qps`` tokens a second, bursts of up to ``qps``. With
several API processes each enforces the limit on its own share of the traffic."""

from __future__ import annotations

import time

from dingstore import errors


class RateLimiter:
    def __init__(self, default_qps: float, per_operation: dict[str, float]) -> None:
        self._default = default_qps
        self._per_operation = per_operation
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}

    @property
    def enabled(self) -> bool:
        return self._default > 0 or any(v > 0 for v in self._per_operation.values())

    def check(self, app_id: str, operation: str) -> None:
        qps = self._per_operation.get(operation, self._default)
        if qps <= 0:
            return
        now = time.monotonic()
        key = (app_id, operation)
        tokens, last = self._buckets.get(key, (qps, now))
        tokens = min(max(qps, 1.0), tokens + (now - last) * qps)
        if tokens < 1.0:
            self._buckets[key] = (tokens, now)
            raise errors.QPS_LIMIT.error(
                f"the app exceeded {qps:g} requests a second on {operation}",
            )
        self._buckets[key] = (tokens - 1.0, now)
