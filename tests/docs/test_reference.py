"""The reference pages say what the code has: docs/configuration.md names every setting of
``settings.Settings`` (and nothing else) with its default and the flags that set it, and the
site's configuration (mkdocs.yml) puts every page of docs/ in its nav."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from dingstore.cli import main
from dingstore.settings import Settings

ROOT = Path(__file__).parents[2]
CONFIGURATION = ROOT / "docs" / "configuration.md"
_ROW = re.compile(r"^\| `(DINGSTORE_\w+)` \|([^|]*)\|([^|]*)\|", re.MULTILINE)


def rows() -> dict[str, tuple[str, str]]:
    """variable → (flag column, default column) of the page's table."""
    return {m[1]: (m[2], m[3]) for m in _ROW.finditer(CONFIGURATION.read_text())}


def variables() -> set[str]:
    return {f"DINGSTORE_{name.upper()}" for name in Settings.model_fields}


def test_every_setting_is_documented() -> None:
    assert variables() - set(rows()) == set()


def test_every_documented_variable_is_a_setting() -> None:
    assert set(rows()) - variables() == set()


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@pytest.mark.parametrize(
    "name",
    [
        name
        for name, field in Settings.model_fields.items()
        if isinstance(field.default, int | float) and field.default is not None
    ],
)
def test_a_documented_default_is_the_code_s(name: str) -> None:
    default = Settings.model_fields[name].default
    _, column = rows()[f"DINGSTORE_{name.upper()}"]
    assert f"`{_shown(default)}`" in column, (name, default, column)


def _flags() -> list[tuple[str, str, str]]:
    """(command, flag, variable) of every option whose help says it sets a DINGSTORE_ variable."""
    found = []

    def walk(command: Any, path: list[str]) -> None:
        for param in command.params:
            variable = re.search(r"env (DINGSTORE_\w+)", getattr(param, "help", None) or "")
            if variable:
                for flag in param.opts:
                    found.append((" ".join(path), flag, variable[1]))
        if hasattr(command, "list_commands"):  # a group; cli/main.py loads some lazily
            for name in command.list_commands(None):
                walk(command.get_command(None, name), [*path, name])

    walk(typer.main.get_command(main.app), ["dingstore"])
    return found


def test_every_flag_that_sets_a_setting_is_in_its_row() -> None:
    flags = _flags()
    assert {flag for _, flag, _ in flags} >= {"--data-dir", "--port", "--workers", "--concurrency"}
    table = rows()
    # the server's settings; the file commands' own variables (DINGSTORE_ENDPOINT,
    # DINGSTORE_PROFILE, ...) are a client's, documented in docs/cli.md
    settings = {f"DINGSTORE_{name.upper()}" for name in Settings.model_fields}
    missing = [
        (command, flag, variable)
        for command, flag, variable in flags
        if variable in settings and f"{flag}`" not in table[variable][0]
    ]
    assert missing == []


def _nav_pages(entries: list[Any]) -> set[str]:
    pages: set[str] = set()
    for entry in entries:
        target = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(target, list):
            pages |= _nav_pages(target)
        else:
            pages.add(target)
    return pages


def test_every_page_of_docs_is_in_the_nav() -> None:
    import yaml

    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    docs = ROOT / "docs"
    written = {str(path.relative_to(docs)) for path in docs.rglob("*.md")}
    assert written - _nav_pages(config["nav"]) == set()


def test_the_codes_dingstore_never_answers_are_none_it_answers() -> None:
    """docs/errors.md's list of DingTalk's codes dingstore never answers: none is declared in
    errors.py (one that becomes an answer moves to the page's main table)."""
    from dingstore import errors

    page = (ROOT / "docs" / "errors.md").read_text()
    section = page.split("## Codes DingTalk documents that dingstore never answers", 1)[1]
    section = section.split("\n## ", 1)[0]
    never = {
        code
        for line in section.splitlines()
        if line.startswith("| `")
        for code in re.findall(r"`([^`]+)`", line.split("|")[1])
    }
    assert len(never) >= 15, never
    assert never & {code.code for code in errors.every_code()} == set()
