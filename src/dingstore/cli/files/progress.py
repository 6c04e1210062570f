"""Progress bars (rich.progress on stderr), drawn only for a person (``Output.bars``):
transfers get one overall bar — files, bytes, rate, ETA — and a bar of its own for each big
file in flight; a task gets a bar of its nodes from the task's counts."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self

from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from dingstore.cli.files.output import Output

BIG_FILE = 8 * 1024 * 1024
"""A file at least this big gets a bar of its own while it moves."""


class _Bars:
    """Bars shown while the ``with`` block runs; none where ``_progress`` is None."""

    _progress: Progress | None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class Transfers(_Bars):
    """The bars of a ``put`` or ``get``. Without bars it only counts."""

    def __init__(self, output: Output, verb: str, files: int, total_bytes: int) -> None:
        self.files = files
        self.files_done = 0
        self.bytes_done = 0
        self._lock = threading.Lock()  # files move on several threads
        self._progress: Progress | None = None
        self._overall: TaskID | None = None
        if output.bars:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[files]}"),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=output.err,
                transient=False,
            )
            self._overall = self._progress.add_task(
                verb, total=total_bytes, files=self._files_text()
            )

    def _files_text(self) -> str:
        return f"{self.files_done}/{self.files} files"

    def add_total(self, files: int, size: int) -> None:
        """More to move than first counted (a listing still being read)."""
        with self._lock:
            self.files += files
        if self._progress is not None and self._overall is not None:
            task = self._progress.tasks[self._overall]
            self._progress.update(
                self._overall, total=(task.total or 0) + size, files=self._files_text()
            )

    def file(self, name: str, size: int) -> FileBar:
        """The progress of one file; a bar of its own when it is big."""
        own: TaskID | None = None
        if self._progress is not None and size >= BIG_FILE:
            own = self._progress.add_task(f"  {name}", total=size, files="")
        return FileBar(self, own)

    def _advance(self, own: TaskID | None, n: int) -> None:
        with self._lock:
            self.bytes_done += n
        if self._progress is None or self._overall is None:
            return
        self._progress.advance(self._overall, n)
        if own is not None:
            self._progress.advance(own, n)

    def _done(self, own: TaskID | None, skipped_bytes: int) -> None:
        with self._lock:
            self.files_done += 1
        if self._progress is None or self._overall is None:
            return
        if own is not None:
            self._progress.remove_task(own)
        self._progress.update(self._overall, advance=skipped_bytes, files=self._files_text())


class FileBar:
    """One file's share of ``Transfers``: ``to`` as bytes move, ``done`` at the end (a file
    skipped says how many bytes it settles at once)."""

    def __init__(self, transfers: Transfers, own: TaskID | None) -> None:
        self._transfers = transfers
        self._own = own
        self._lock = threading.Lock()  # a file's parts report from several threads
        self.sent = 0

    def to(self, done: int) -> None:
        """``done`` bytes of the file have moved (the client's progress callback)."""
        with self._lock:
            moved, self.sent = done - self.sent, done
        if moved:
            self._transfers._advance(self._own, moved)

    def rewind(self) -> None:
        """The bytes moved so far do not count (the file failed, or starts again)."""
        self.to(0)

    def done(self, skipped_bytes: int = 0) -> None:
        self._transfers._done(self._own, skipped_bytes)


class TaskBars(_Bars):
    """Bars of server-side tasks (copy, move, delete of folders) from their counts."""

    def __init__(self, output: Output) -> None:
        self._progress: Progress | None = None
        self._bars: dict[str, TaskID] = {}
        if output.bars:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("nodes"),
                TimeRemainingColumn(),
                console=output.err,
            )

    def update(self, task_id: str, label: str, done: int, total: int | None) -> None:
        if self._progress is None:
            return
        if task_id not in self._bars:
            self._bars[task_id] = self._progress.add_task(label, total=total or None)
        self._progress.update(self._bars[task_id], completed=done, total=total or None)
