"""Sans-IO: every client operation is written once, as a *flow*, a generator that yields the
steps it needs (an HTTP exchange, several flows at once, a pause) and receives their results.
It does no I/O itself. ``drivers.py`` runs flows: ``SyncDriver`` with a blocking
``httpx.Client`` and threads, ``AsyncDriver`` with ``httpx.AsyncClient`` and asyncio. So
``Client`` and ``AsyncClient`` share every line of request logic, and differ only in how a step
is carried out.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeAlias, TypeVar

T = TypeVar("T")

CHUNK = 256 * 1024
"""Bytes read from a file or from the network at a time."""

Progress: TypeAlias = Callable[[int, int], None]
"""Called with (bytes done, bytes in all) as a transfer goes."""


class Meter:
    """Counts the bytes of one transfer, which several threads may move at once, and tells
    ``progress``."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self._progress = progress
        self._lock = threading.Lock()

    def expect(self, total: int) -> None:
        """Set the total once it is known (a download learns it from the answer)."""
        if self.total == 0:
            self.total = total

    def add(self, count: int) -> None:
        with self._lock:
            self.done += count
            done = self.done
        if self._progress is not None:
            self._progress(done, self.total)


@dataclass(frozen=True)
class Source:
    """A request body read as it is sent: ``length`` bytes of ``data`` (bytes, or a file's
    path) from ``offset``."""

    data: bytes | Path
    offset: int
    length: int
    meter: Meter | None = None

    def chunks(self) -> Iterator[bytes]:
        if isinstance(self.data, bytes):
            view = memoryview(self.data)[self.offset : self.offset + self.length]
            for start in range(0, self.length, CHUNK):
                chunk = bytes(view[start : start + CHUNK])
                yield chunk
                if self.meter is not None:
                    self.meter.add(len(chunk))
            return
        with self.data.open("rb") as file:
            file.seek(self.offset)
            left = self.length
            while left > 0:
                chunk = file.read(min(CHUNK, left))
                if not chunk:
                    raise OSError(f"{self.data} is shorter than expected")
                left -= len(chunk)
                yield chunk
                if self.meter is not None:
                    self.meter.add(len(chunk))


@dataclass(frozen=True)
class Sink:
    """Where a response body goes as it arrives, instead of into memory."""

    path: Path
    meter: Meter | None = None


@dataclass(frozen=True)
class Exchange:
    """One HTTP request. ``content`` or ``source`` is the body; with ``sink`` a successful
    answer's body is written to the file (the reply's body is then empty)."""

    method: str
    url: str
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] | None = None
    content: bytes | None = None
    source: Source | None = None
    sink: Sink | None = None
    timeout: float | None = None
    """Seconds, over the client's own timeout (a long poll waits longer)."""


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes


@dataclass(frozen=True)
class Parallel:
    """Run ``flows`` at once, at most ``limit`` at a time; the result is their results, in
    order. The first failure is raised (the others are left to finish)."""

    flows: Sequence[Generator[Any, Any, Any]]
    limit: int


@dataclass(frozen=True)
class Sleep:
    seconds: float


Step: TypeAlias = Exchange | Parallel | Sleep
Flow: TypeAlias = Generator[Step, Any, T]
"""A flow that ends with a ``T``."""


class Running(Generic[T]):
    """A flow being run by a driver: ``next()`` is its next step, or None once it has ended
    (``result`` is then its result); the driver hands back each step's result (``give``) or
    the error it raised (``fail``: thrown into the flow, which may catch it and retry)."""

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self._sent: Any = None
        self._failed: BaseException | None = None
        self.result: T | None = None

    def next(self) -> Step | None:
        failed, self._failed = self._failed, None
        try:
            return self._flow.send(self._sent) if failed is None else self._flow.throw(failed)
        except StopIteration as stop:
            self.result = stop.value
            return None

    def give(self, value: Any) -> None:
        self._sent = value

    def fail(self, error: BaseException) -> None:
        self._failed = error


class Writer:
    """Writes a response body into a ``Sink`` as its chunks arrive, counting them."""

    def __init__(self, sink: Sink, length: str | None) -> None:
        self._meter = sink.meter
        if self._meter is not None and length is not None and length.isdigit():
            self._meter.expect(int(length))
        self._file = sink.path.open("wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        if self._meter is not None:
            self._meter.add(len(chunk))

    def close(self) -> None:
        self._file.close()


@dataclass
class Page(Generic[T]):
    """One page of a listing; ``next`` is None on the last."""

    items: list[T]
    next: str | None


Pages: TypeAlias = Callable[[str | None], Flow[Page[T]]]
"""A listing: the flow of the page after a token (None: the first page)."""
