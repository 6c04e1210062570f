"""What ``put`` and ``get`` share: a pool of threads moving ``--transfers`` files at once (a job
that reads a folder hands back the jobs of what is in it), one record per file, the summary
(files/s, MB/s), and how the command ends when some files failed or Ctrl-C was pressed.

Threads over the blocking ``Client``: it moves small files about 2.5 times faster than
``AsyncClient`` here (httpx's asyncio pool costs more CPU a request).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Annotated, Any

import typer

from dingstore.cli.files import session
from dingstore.cli.files.output import Output, human_size
from dingstore.cli.files.progress import FileBar, Transfers
from dingstore.client import Client, DingstoreError

Job = Callable[[], "list[Job]"]
"""Work for the pool; it returns the jobs it found (a folder's files and subfolders)."""

Recursive = Annotated[
    bool, typer.Option("-r", "--recursive", help="Folders with everything in them.")
]
Parallel = Annotated[
    int,
    typer.Option("--transfers", min=1, max=64, help="Files moved at once."),
]
Checksum = Annotated[
    bool,
    typer.Option(
        "--checksum",
        help="A file already there is skipped only if its MD5 matches too, not only its size.",
    ),
]


@dataclass
class Results:
    """The files of one ``put`` or ``get``: what happened to each, and the totals."""

    out: Output
    verb: str  # "uploaded" / "downloaded"
    bars: Transfers
    moved: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)
    first_code: str | None = None
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, action: str, local: str, remote: str, size: int, **more: Any) -> None:
        if self.out.json:
            with self.lock:
                self.out.record(
                    {"action": action, "local": local, "remote": remote, "size": size, **more}
                )

    def one(
        self,
        local: str,
        remote: str,
        size: int,
        work: Callable[[FileBar], dict[str, Any] | None],
    ) -> None:
        """Move one file with ``work`` (None: it was skipped); a failure is noted and the
        other files go on."""
        bar = self.bars.file(local, size)
        try:
            done = work(bar)
        except DingstoreError as error:
            bar.rewind()
            bar.done()
            with self.lock:
                self.failed.append(f"{local}: {session.describe(error)}")
                self.first_code = self.first_code or error.code
            self.record("failed", local, remote, size, errorCode=error.code)
            return
        except OSError as error:
            bar.rewind()
            bar.done()
            with self.lock:
                self.failed.append(f"{local}: {error.strerror or error}")
            self.record("failed", local, remote, size, error=str(error))
            return
        with self.lock:
            if done is None:
                self.skipped += 1
            else:
                self.moved += 1
        if done is None:
            bar.done(skipped_bytes=size)
            self.record("skipped", local, remote, size)
        else:
            bar.done()
            self.record(self.verb, local, remote, size, **done)

    def failure(self, local: str, message: str, code: str | None = None) -> None:
        """Something other than one file failed (a folder could not be made or listed)."""
        with self.lock:
            self.failed.append(f"{local}: {message}")
            self.first_code = self.first_code or code
        self.record("failed", local, "", 0, error=message)

    def finish(self) -> None:
        """Print the totals; raise ``session.Partial`` when any file failed."""
        seconds = max(time.monotonic() - self.started, 1e-9)
        moved_bytes = self.bars.bytes_done
        totals = {
            self.verb: self.moved,
            "skipped": self.skipped,
            "failed": len(self.failed),
            "bytes": moved_bytes,
            "seconds": round(seconds, 3),
            "filesPerSecond": round(self.moved / seconds, 1),
            "bytesPerSecond": round(moved_bytes / seconds),
        }
        if self.out.json:
            self.out.record({"summary": totals})
        else:
            rate = human_size(int(moved_bytes / seconds))
            self.out.say(
                f"{self.verb} {self.moved} file{'s' if self.moved != 1 else ''} "
                f"({human_size(moved_bytes)}) in {seconds:.1f} s, {rate}/s; "
                f"skipped {self.skipped} already there; failed {len(self.failed)}"
            )
        if self.failed:
            for line in self.failed[:10]:
                self.out.err.print(f"  {line}", markup=False)
            raise session.Partial(
                f"{len(self.failed)} failed"
                + (f" (first: {self.first_code})" if self.first_code else ""),
                done=self.moved + self.skipped,
                failed=len(self.failed),
                code=self.first_code,
            )


def run_jobs(c: Client, threads: int, first: list[Job]) -> None:
    """Run ``first`` and every job they hand back, ``threads`` at a time. Ctrl-C closes the
    client, so nothing more is sent and no upload in flight is committed (a download's
    ``.part`` file is removed); the command then ends with 130."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix="transfer")
    pending: set[Future[list[Job]]] = {pool.submit(job) for job in first}
    try:
        while pending:
            # A short wait, again and again: the main thread comes back often enough to
            # run the SIGINT handler.
            done, pending = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            for future in done:
                pending |= {pool.submit(job) for job in future.result()}
    except BaseException:
        c.close()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
