"""The ``dingstoreAction`` table of the docs ("Which operations emit what") lists exactly the
actions the services write (``service/events/changes.py`` ``ACTIONS``)."""

from __future__ import annotations

import re
from pathlib import Path

from dingstore.service.events import changes

DOCS = Path(__file__).parents[2] / "docs"
_ROW = re.compile(r"^\|\s*`([a-z]+)`\s*\|")


def _page() -> str:
    """The page holding the section: events.md once it has it, else events-emission.md."""
    main = DOCS / "events.md"
    if main.exists() and "## `dingstoreAction`" in main.read_text():
        return main.read_text()
    return (DOCS / "events-emission.md").read_text()


def documented() -> list[str]:
    section = _page().split("## `dingstoreAction`", 1)[1].split("\n## ", 1)[0]
    return [row.group(1) for line in section.splitlines() if (row := _ROW.match(line))]


def test_the_docs_list_every_action_and_no_other() -> None:
    assert documented() == list(changes.ACTIONS)
    assert len(set(changes.ACTIONS)) == len(changes.ACTIONS)
