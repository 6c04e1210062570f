"""Injected faults: answers a test arranges for the next calls of an operation.

A fault names an operation (the OpenAPI operationId, which is the SDK's action name, e.g.
``AddFolder``) and, optionally, an org; the API layer asks ``FaultTable.take`` before it runs
an operation, and answers with the fault's DingTalk error body instead when one fires. The
table is in memory, in the process that serves the request: test mode runs one ``serve``.
"""

from __future__ import annotations

import random
import threading
import uuid
from dataclasses import dataclass, field


@dataclass
class Fault:
    """``code`` None: the fault only delays (``delay_ms``), then the operation runs."""

    id: str
    operation: str
    code: str | None
    status: int = 400
    message: str | None = None
    times: int | None = 1  # None: every matching call
    after: int = 0  # the first ``after`` matching calls pass, then it fires
    delay_ms: int = 0
    probability: float | None = None
    seed: int | None = None
    corp_id: str | None = None
    fired: int = 0
    passed: int = 0  # matching calls let through, up to ``after``
    _random: random.Random | None = field(default=None, repr=False)

    def describe(self) -> dict[str, object]:
        """The fault as the HTTP controls list it (camelCase)."""
        return {
            "faultId": self.id,
            "operation": self.operation,
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "times": self.times,
            "after": self.after,
            "delayMs": self.delay_ms,
            "probability": self.probability,
            "seed": self.seed,
            "corpId": self.corp_id,
            "fired": self.fired,
        }


@dataclass(frozen=True, slots=True)
class Firing:
    """What a fault that fired asks of the request: wait ``delay_ms``, then answer the error
    (``code`` None: go on with the operation)."""

    code: str | None
    status: int
    message: str
    delay_ms: int


class FaultTable:
    def __init__(self) -> None:
        self._faults: dict[str, Fault] = {}
        # Read by the request path, written by the controls; a step of logic, no await inside.
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return bool(self._faults)

    def add(
        self,
        operation: str,
        code: str | None,
        *,
        status: int = 400,
        message: str | None = None,
        times: int | None = 1,
        after: int = 0,
        delay_ms: int = 0,
        probability: float | None = None,
        seed: int | None = None,
        corp_id: str | None = None,
    ) -> str:
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None: always)")
        if isinstance(after, bool) or not isinstance(after, int) or after < 0:
            raise ValueError(f"after must be a non-negative integer, not {after!r}")
        if probability is not None and not 0.0 <= probability <= 1.0:
            raise ValueError("probability must be between 0 and 1")
        if delay_ms < 0:
            raise ValueError("delayMs must not be negative")
        if code is None and not delay_ms:
            raise ValueError("a fault needs a code, a delay, or both")
        if not 100 <= status <= 599:
            raise ValueError("status must be an HTTP status (100-599)")
        fault = Fault(
            id=uuid.uuid4().hex[:16],
            operation=operation,
            code=code,
            status=status,
            message=message,
            times=times,
            after=after,
            delay_ms=delay_ms,
            probability=probability,
            seed=seed,
            corp_id=corp_id,
            _random=random.Random(seed) if probability is not None else None,
        )
        with self._lock:
            self._faults[fault.id] = fault
        return fault.id

    def list(self, corp_id: str | None = None) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults.values() if corp_id is None or f.corp_id == corp_id]

    def remove(self, fault_id: str) -> bool:
        with self._lock:
            return self._faults.pop(fault_id, None) is not None

    def clear(self, corp_id: str | None = None) -> None:
        """Every fault, or the faults of ``corp_id`` only."""
        with self._lock:
            if corp_id is None:
                self._faults.clear()
            else:
                self._faults = {k: f for k, f in self._faults.items() if f.corp_id != corp_id}

    def take(self, operation: str, corp_id: str | None) -> Firing | None:
        """The fault that fires for this call of ``operation`` by ``corp_id``, if any: the
        oldest matching one past its ``after`` calls whose probability draw says yes. Every
        matching fault still within its ``after`` counts the call, whichever fault fires on it.
        The fired fault's count goes down; a fault whose count is spent is gone."""
        firing: Fault | None = None
        with self._lock:
            for fault in self._faults.values():
                if fault.operation != operation:
                    continue
                if fault.corp_id is not None and fault.corp_id != corp_id:
                    continue
                if fault.passed < fault.after:
                    fault.passed += 1  # let through untouched (and no draw)
                    continue
                if firing is not None:
                    continue
                draw = fault._random
                if draw is not None and draw.random() >= (fault.probability or 0.0):
                    continue
                firing = fault
            if firing is None:
                return None
            firing.fired += 1
            if firing.times is not None and firing.fired >= firing.times:
                del self._faults[firing.id]
        return Firing(
            code=firing.code,
            status=firing.status,
            message=firing.message or f"injected fault on {operation}",
            delay_ms=firing.delay_ms,
        )
