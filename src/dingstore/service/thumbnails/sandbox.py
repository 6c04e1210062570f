"""Rendering thumbnails where a hostile file can harm nothing but a helper process.

Thumbnails are made by helper processes, ``python -m dingstore.service.thumbnails.sandbox``: a
clean interpreter each (nothing of the server's threads, sockets or memory), with Pillow and
pdfium imported once and its address space capped (``RLIMIT_AS`` = ``Limits.memory``: a
decompression bomb or a pathological PDF ends in ``MemoryError`` there). The server sends a
file's bytes down a helper's stdin and reads the thumbnail back from its stdout, without a
thread: the event loop only waits. At most ``concurrency`` helpers work at once in a process; a
helper that takes longer than ``Limits.timeout`` is killed, and so is one that crashed or grew
past ``RECYCLE_RSS``, and a fresh one takes its place on the next file. A file that killed,
crashed or timed out its helper gets no thumbnail (never tried again: the same bytes would do
the same).

Why processes, and long-lived ones: the decoders are C code fed with anyone's bytes; in a
process of their own, what they do to memory or time is bounded and killable without touching
the server, and the server's RSS does not grow with what it rendered (bench/thumbnails.py).
Starting an interpreter with Pillow costs ~150 ms, so a helper serves many files: one is
started when the workers start, and one per extra concurrent file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from dataclasses import dataclass, field

from dingstore.service.thumbnails import helper as protocol
from dingstore.service.thumbnails import rendering

log = logging.getLogger(__name__)

CRASHED = protocol.CRASHED
TIMED_OUT = "timedOut"
RECYCLE_RSS = 256 * 1024 * 1024  # a helper still holding this much after a file is replaced
RECYCLE_JOBS = 1000  # and one that served this many files


@dataclass(frozen=True, slots=True)
class Limits:
    """What one file may take: ``max_bytes`` of input, ``max_pixels`` of decoded image,
    ``memory`` bytes of address space (the helper's), ``timeout`` seconds of wall time."""

    max_bytes: int
    max_pixels: int
    memory: int
    timeout: float


@dataclass(eq=False)
class _Helper:
    process: asyncio.subprocess.Process
    jobs: int = 0

    async def ask(self, data: bytes, max_pixels: int) -> tuple[rendering.Outcome, int]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(protocol.REQUEST.pack(max_pixels, len(data)))
        stdin.write(data)
        await stdin.drain()
        head_size, data_size = protocol.REPLY.unpack(await stdout.readexactly(protocol.REPLY.size))
        head = json.loads(await stdout.readexactly(head_size))
        thumbnail = await stdout.readexactly(data_size)
        self.jobs += 1
        outcome = rendering.Outcome(
            thumbnail, head["mediaType"], head["width"], head["height"], head["reason"]
        )
        return outcome, int(head["rss"])

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        await self.process.wait()
        # The pipes' transports close with the process; say so at once (no ResourceWarning).
        transport = getattr(self.process, "_transport", None)
        if transport is not None:
            transport.close()


@dataclass
class Sandbox:
    """Renders thumbnails in helper processes, ``concurrency`` at a time."""

    limits: Limits
    concurrency: int = 1
    _idle: list[_Helper] = field(default_factory=list)
    _busy: set[_Helper] = field(default_factory=set)
    _slots: asyncio.Semaphore | None = None
    _refills: set[asyncio.Task[None]] = field(default_factory=set)
    _closed: bool = False

    async def start(self) -> None:
        """Start one helper now, so that the next file does not wait for an interpreter."""
        with contextlib.suppress(OSError):
            helper = await self._spawn()
            # never more helpers than files rendered at once (one may have started meanwhile)
            if self._closed or len(self._idle) + len(self._busy) >= self.concurrency:
                await helper.kill()
            else:
                self._idle.append(helper)

    async def close(self) -> None:
        """Stop every helper."""
        self._closed = True
        for refill in list(self._refills):
            refill.cancel()
        await asyncio.gather(*self._refills, return_exceptions=True)
        helpers, self._idle = [*self._idle, *self._busy], []
        self._busy.clear()
        for helper in helpers:
            await helper.kill()

    async def render(self, data: bytes) -> rendering.Outcome:
        """The thumbnail of ``data`` (``rendering.render`` in a helper), or why there is none."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        async with self._slots:
            helper = self._idle.pop() if self._idle else await self._spawn()
            self._busy.add(helper)
            keep = False
            try:
                outcome, rss = await asyncio.wait_for(
                    helper.ask(data, self.limits.max_pixels), self.limits.timeout
                )
                keep = outcome.reason != CRASHED and rss < RECYCLE_RSS
                keep = keep and helper.jobs < RECYCLE_JOBS
            except TimeoutError:
                outcome = rendering.Outcome(reason=TIMED_OUT)
            except (asyncio.IncompleteReadError, ConnectionError, ValueError, KeyError):
                outcome = rendering.Outcome(reason=CRASHED)
            finally:
                self._busy.discard(helper)
                if keep:
                    self._idle.append(helper)
                else:
                    await helper.kill()
                    # its successor starts now, not when the next file comes
                    refill = asyncio.create_task(self.start())
                    self._refills.add(refill)
                    refill.add_done_callback(self._refills.discard)
        if outcome.reason in (CRASHED, TIMED_OUT):
            log.warning("thumbnail helper %s (%d bytes in)", outcome.reason, len(data))
        return outcome

    async def _spawn(self) -> _Helper:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "dingstore.service.thumbnails.helper",
            str(self.limits.memory),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**20,
        )
        return _Helper(process)
