"""Names a client sets (spec §1.8, docs/files.md): of files and folders, the AUTO_RENAME
scheme, and the one rule every other name (spaces, app properties) follows too.

No name may hold an ``UNSAFE`` character: a control character (Unicode category Cc, tab
included), a line or paragraph separator (Zl, Zp), or a bidirectional formatting character
(embeddings and overrides U+202A to U+202E, isolates U+2066 to U+2069, the marks U+200E,
U+200F and U+061C), which make a name show as another (``\u202egnp.exe`` as ``exe.png``).

A dentry name is trimmed of leading and trailing spaces, and refused when it is empty, longer
than ``MAX_LENGTH`` characters, ends with ``.`` (so ``.`` and ``..`` too), or contains an unsafe
character, ``/``, ``\\``, ``*``, ``"``, ``<``, ``>`` or ``|``.
"""

from __future__ import annotations

import re

from dingstore import errors

MAX_LENGTH = 255
UNSAFE = "\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c"
_UNSAFE = re.compile(f"[{UNSAFE}]")
_FORBIDDEN = re.compile(f'[{UNSAFE}/\\\\*"<>|]')
# A value (of an app property) is data, not a name: it may hold tabs and line breaks, and
# bidirectional text; no other control character.
_UNSAFE_IN_VALUE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def valid(raw: str | None, *, field: str | None = None) -> str:
    """The name to store, or 400 saying why not: ``dentryNameIllegal``, or
    ``paramError.<field>`` when ``field`` is given."""
    name = (raw or "").strip(" ")
    problem = None
    if not name:
        problem = "a name may not be empty"
    elif len(name) > MAX_LENGTH:
        problem = f"a name may not be longer than {MAX_LENGTH} characters"
    elif name.endswith("."):
        problem = "a name may not end with '.'"
    elif _FORBIDDEN.search(name):
        problem = 'a name may not contain control or bidi characters, /, \\, *, ", <, > or |'
    if problem:
        message = f"illegal name {raw!r}: {problem}"
        if field:
            raise errors.param_error(field, message)
        raise errors.DENTRY_NAME_ILLEGAL.error(message)
    return name


def label(raw: str | None, field: str, *, max_length: int) -> str:
    """Any other name a client sets (a space's, an app property's), as given: 1 to
    ``max_length`` characters, none unsafe; ``paramError.<field>`` else."""
    if not raw or len(raw) > max_length or _UNSAFE.search(raw):
        raise errors.param_error(
            field,
            f"{field} must be 1 to {max_length} characters, without control or bidi characters",
        )
    return raw


def value(raw: str, field: str, *, max_length: int) -> str:
    """A value a client sets: at most ``max_length`` characters, no control character but tab
    and line breaks; ``paramError.<field>`` else."""
    if len(raw) > max_length or _UNSAFE_IN_VALUE.search(raw):
        raise errors.param_error(
            field, f"{field} must be at most {max_length} characters, without control characters"
        )
    return raw


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
