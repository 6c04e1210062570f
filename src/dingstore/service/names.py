"""Names of files and folders (spec §1.8) and the AUTO_RENAME scheme (docs/files.md).

Leading and trailing spaces are trimmed. A name is refused when it is empty, longer than
``MAX_LENGTH`` characters, ends with ``.`` (so ``.`` and ``..`` too), or contains a control
character (tab included), ``/``, ``\\``, ``*``, ``"``, ``<``, ``>`` or ``|``.
"""

from __future__ import annotations

import re

from dingstore import errors

MAX_LENGTH = 255
_FORBIDDEN = re.compile(r'[\x00-\x1f\x7f/\\*"<>|]')


def valid(raw: str | None, *, code: str = "dentryNameIllegal") -> str:
    """The name to store, or ``code`` (400) saying why not."""
    name = (raw or "").strip(" ")
    problem = None
    if not name:
        problem = "a name may not be empty"
    elif len(name) > MAX_LENGTH:
        problem = f"a name may not be longer than {MAX_LENGTH} characters"
    elif name.endswith("."):
        problem = "a name may not end with '.'"
    elif _FORBIDDEN.search(name):
        problem = 'a name may not contain control characters, /, \\, *, ", <, > or |'
    if problem:
        raise errors.BadRequest(code, f"illegal name {raw!r}: {problem}")
    return name


def extension(name: str) -> str:
    """``report.final.pdf`` → ``pdf``; no dot (or only a leading one) → empty."""
    stem, dot, ext = name.rpartition(".")
    return ext if dot and stem else ""


def split(name: str, *, is_file: bool) -> tuple[str, str]:
    """(stem, suffix) where an AUTO_RENAME counter goes between: files keep their extension."""
    ext = extension(name) if is_file else ""
    return (name[: -len(ext) - 1], "." + ext) if ext else (name, "")


def renamed(name: str, taken: set[str], *, is_file: bool) -> str:
    """AUTO_RENAME: ``name`` if free, else the first free ``stem(n)suffix`` for n = 1, 2, ...
    (the stem cut short where the whole would pass ``MAX_LENGTH``).

    ``report.pdf`` → ``report(1).pdf``; folder ``docs`` → ``docs(1)``."""
    if name not in taken:
        return name
    stem, suffix = split(name, is_file=is_file)
    n = 1
    while (candidate := _numbered(stem, n, suffix)) in taken:
        n += 1
    return candidate


def rename_prefix(name: str, *, is_file: bool) -> str:
    """A prefix of every name ``renamed`` may produce for ``name`` (its siblings that start so
    are the ``taken`` it needs)."""
    stem, suffix = split(name, is_file=is_file)
    return stem[: max(0, MAX_LENGTH - len(suffix) - 22)]  # room for "(n)", n < 10**20


def _numbered(stem: str, n: int, suffix: str) -> str:
    tail = f"({n}){suffix}"
    return stem[: max(0, MAX_LENGTH - len(tail))] + tail
