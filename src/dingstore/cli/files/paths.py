"""Remote paths, ``SPACE_ID:/a/b``: a space, then a path from its root (``SPACE_ID:`` or
``SPACE_ID:/`` is the root itself). Anything else on a command line is a local path."""

from __future__ import annotations

import re
from dataclasses import dataclass

import typer

from dingstore.client import models

_REMOTE = re.compile(r"^(?P<space>[0-9A-Za-z_-]+):(?P<path>.*)$")


@dataclass(frozen=True)
class RemotePath:
    space_id: str
    parts: tuple[str, ...]
    trailing_slash: bool = False  # ``SPACE:/dir/``: the caller means a folder

    @property
    def space(self) -> models.Node:
        """The space's root folder, as the client takes it."""
        return models.Node(self.space_id)

    @property
    def is_root(self) -> bool:
        return not self.parts

    @property
    def name(self) -> str:
        return self.parts[-1] if self.parts else ""

    @property
    def parent(self) -> RemotePath:
        return RemotePath(self.space_id, self.parts[:-1], trailing_slash=True)

    @property
    def path(self) -> str:
        return "/" + "/".join(self.parts)

    def child(self, *names: str) -> RemotePath:
        return RemotePath(self.space_id, self.parts + names)

    def __str__(self) -> str:
        return f"{self.space_id}:{self.path}"


def is_remote(text: str) -> bool:
    return _REMOTE.match(text) is not None


def parse(text: str) -> RemotePath:
    """``SPACE_ID:/a/b`` → a RemotePath; ``.`` and empty segments are dropped, ``..`` refused.
    Raises ``ValueError`` for anything else."""
    found = _REMOTE.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a remote path: write SPACE_ID:/path (e.g. 101:/docs)")
    raw = found["path"]
    parts = tuple(p for p in raw.split("/") if p not in ("", "."))
    if ".." in parts:
        raise ValueError(f"{text!r}: '..' is not allowed in a remote path")
    return RemotePath(found["space"], parts, trailing_slash=raw.endswith("/") or not parts)


def argument(text: str, param_hint: str = "PATH") -> RemotePath:
    """``parse`` for a command's argument: a bad path is a usage error (exit 2)."""
    try:
        return parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=param_hint) from exc
