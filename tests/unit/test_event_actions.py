"""The ``dingstoreAction`` table of the docs ("Which operations emit what") lists exactly the
actions the services write (``service/events/changes.py`` ``ACTIONS``)."""

from __future__ import annotations

import re
from pathlib import Path

from dingstore.service.events import changes

PAGE = Path(__file__).parents[2] / "docs" / "events.md"
_HEADING = "### `dingstoreAction`"
_ROW = re.compile(r"^\|\s*`([a-z]+)`\s*\|")


def documented() -> list[str]:
    """The actions of the table under the heading, up to the next heading."""
    section = PAGE.read_text().split(_HEADING, 1)[1].split("\n#", 1)[0]
    return [row.group(1) for line in section.splitlines() if (row := _ROW.match(line))]


def test_the_docs_list_every_action_and_no_other() -> None:
    assert documented() == list(changes.ACTIONS)
    assert len(set(changes.ACTIONS)) == len(changes.ACTIONS)
