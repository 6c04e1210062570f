"""How the file commands print: tables on a terminal, plain lines in a pipe, one JSON object a
line with ``--json``; and their exit statuses.

| status | meaning |
|---|---|
| 0 | success |
| 1 | an operation failed (stderr names DingTalk's error code) |
| 2 | usage: a bad argument or option, or no credentials |
| 3 | not found: a remote path, space, task or recycle item, or a local path |
| 4 | partial failure: some items of a batch failed, the others were done |
| 130 | interrupted (Ctrl-C) |
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

OK = 0
FAILED = 1
USAGE = 2
NOT_FOUND = 3
PARTIAL = 4
INTERRUPTED = 130

NOT_FOUND_CODES = frozenset(
    {
        "dentryNotExist",
        "spaceNotExist",
        "taskNotExist",
        "recycleBinNotExist",
        "recycleItemNotExist",
        "notFound",
    }
)


def status_for(code: str) -> int:
    """The exit status of a command ended by DingTalk's error ``code``."""
    return NOT_FOUND if code in NOT_FOUND_CODES else FAILED


class Output:
    """Where a command's results go. ``--json`` prints each result as one JSON object on its own
    line and draws no bars; so does a pipe, with plain text lines instead of tables."""

    def __init__(self, as_json: bool = False) -> None:
        self.json = as_json
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)

    @property
    def terminal(self) -> bool:
        """A person reads stdout: tables, colors."""
        return not self.json and self.out.is_terminal

    @property
    def bars(self) -> bool:
        """Progress bars are drawn (on stderr) only for a person, and never with ``--json``."""
        return self.terminal and self.err.is_terminal

    def record(self, obj: dict[str, Any]) -> None:
        """One result as a JSON line (``--json``)."""
        sys.stdout.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def line(self, text: str) -> None:
        """One plain line on stdout (a pipe's output)."""
        sys.stdout.write(text + "\n")

    def rows(
        self,
        title: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        records: Iterable[dict[str, Any]] | None = None,
        right: Iterable[str] = (),
    ) -> None:
        """A listing: a table on a terminal, tab-separated lines in a pipe, ``records`` (one a
        line) with ``--json``."""
        if self.json:
            for record in records or ():
                self.record(record)
            return
        if not self.terminal:
            for row in rows:
                self.line("\t".join(str(v) for v in row))
            sys.stdout.flush()
            return
        aligned = set(right)
        table = Table(title=title, box=box.SIMPLE, title_justify="left")
        for column in columns:
            table.add_column(column, justify="right" if column in aligned else "left")
        for row in rows:
            table.add_row(*(escape(str(v)) for v in row))
        self.out.print(table)

    def say(self, message: str) -> None:
        """What a command did, for a person (stdout; ``--json`` says it with records)."""
        if not self.json:
            self.out.print(escape(message))

    def warn(self, message: str) -> None:
        self.err.print("[yellow]warning:[/yellow]", escape(message))

    def fail(self, message: str, status: int = FAILED) -> NoReturn:
        """End the command: ``error: MESSAGE`` on stderr (one line), exit ``status``."""
        self.err.print("[red]error:[/red]", escape(message))
        raise typer.Exit(status)


def human_size(n: int | None) -> str:
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")
