"""The code of the getting-started pages, as the test runs it: every fenced ``python`` block of
the pages, in nav order, is one Python script; every ``js`` block one Node module. What they
print is held to the pages' *Output* blocks (```` ```text title="Output" ````), shared by both
languages: each line of one is a pattern where ``<anything>`` stands for one word (an id, a
corpId), and the output's lines must hold them all, in order.

    python tests/docs/snippets.py python > getting-started.py   # the Python script, to read
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

DOCS = Path(__file__).parents[2] / "docs"
PAGES = [
    "getting-started/index.md",
    "getting-started/upload-download.md",
    "getting-started/bulk-copy.md",
    "getting-started/recycle-bin.md",
    "getting-started/events.md",
]
LANGUAGES = {"python": ("python", "py"), "js": ("js", "javascript")}

# A fence opens at any indent (blocks inside content tabs are indented by four) and closes at
# the same indent.
_FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)(?P<attrs>[^\n]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)


def blocks(page: str) -> list[tuple[str, str, str]]:
    """(language, attributes, code) of each fenced block of ``page``, dedented, in order."""
    text = (DOCS / page).read_text()
    return [
        (f["lang"], f["attrs"].strip(), textwrap.dedent(f["body"])) for f in _FENCE.finditer(text)
    ]


def script(language: str) -> str:
    """Every block of ``language`` (``python`` or ``js``) of the pages, in order, one program."""
    names = LANGUAGES[language]
    parts = []
    for page in PAGES:
        for lang, _, code in blocks(page):
            if lang in names:
                parts.append(f"// {page}\n" if language == "js" else f"# {page}\n")
                parts.append(code)
    return "\n".join(parts)


def outputs() -> list[str]:
    """The lines of every Output block of the pages, in order."""
    lines = []
    for page in PAGES:
        for lang, attrs, code in blocks(page):
            if lang == "text" and 'title="Output"' in attrs:
                lines += [line for line in code.splitlines() if line.strip()]
    return lines


def pattern(line: str) -> re.Pattern[str]:
    """An Output line as a pattern: ``<...>`` is one word, the rest literal."""
    pieces = re.split(r"<[^>]+>", line)
    return re.compile(r"\S+".join(re.escape(piece) for piece in pieces))


def missing(printed: str) -> list[str]:
    """The Output lines ``printed`` does not hold, in order; [] when it holds them all."""
    lines = printed.splitlines()
    at = 0
    for expected in outputs():
        wanted = pattern(expected)
        while at < len(lines) and not wanted.fullmatch(lines[at]):
            at += 1
        if at == len(lines):
            return [expected]
        at += 1
    return []


if __name__ == "__main__":
    print(script(sys.argv[1] if len(sys.argv) > 1 else "python"))
