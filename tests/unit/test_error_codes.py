"""docs/errors.md lists exactly the error codes the server can answer with (``errors.py``),
each with its HTTP status: a code missing from the page fails, and so does one the page lists
that the server never answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dingstore import errors

DOC = Path(__file__).parents[2] / "docs" / "errors.md"
_ROW = re.compile(r"^\|\s*(\d{3})\s*\|([^|]*)\|")


def documented() -> set[tuple[int, str]]:
    """(status, code) of every row of the page's tables: ``| 400 | `a` / `b` | when |``."""
    pairs = set()
    for line in DOC.read_text().splitlines():
        row = _ROW.match(line)
        if row:
            codes = re.findall(r"`([^`]+)`", row.group(2))
            assert codes, f"a row without a code: {line}"
            pairs |= {(int(row.group(1)), code) for code in codes}
    return pairs


def answered() -> set[tuple[int, str]]:
    return {(code.status, code.code) for code in errors.every_code()}


def test_every_code_the_server_answers_is_documented() -> None:
    assert answered() - documented() == set()


def test_every_documented_code_is_one_the_server_answers() -> None:
    assert documented() - answered() == set()


def test_each_code_is_declared_once() -> None:
    seen = [(code.status, code.code) for code in errors.every_code()]
    assert len(seen) == len(set(seen))


@pytest.mark.parametrize("code", errors.every_code(), ids=lambda code: code.code)
def test_a_code_raises_with_its_status(code: errors.ErrorCode[errors.DingstoreError]) -> None:
    error = code.error()
    assert error.code == code.code
    assert (error.status, error.error_code, error.message) == (code.status, code, code.message)
    assert isinstance(error, code.kind)


def test_param_error_names_its_field() -> None:
    assert errors.param_error("taskId", "bad").body() == {
        "code": "paramError.taskId",
        "message": "bad",
    }
    assert errors.param_error(None, "bad").error_code == errors.PARAM_ERROR
    assert errors.param_error("taskId", "bad").error_code == errors.PARAM_ERROR_FIELD


def test_the_scope_error_keeps_its_detail() -> None:
    error = errors.ScopeDenied(["Storage.Task.Read"])
    assert (error.status, error.error_code) == (403, errors.ACCESS_TOKEN_PERMISSION_DENIED)


def test_no_raise_site_spells_a_code() -> None:
    """Codes are raised by name (``errors.TASK_NOT_EXIST.error(...)``), never as a string given
    to an exception class. The client (``dingstore.client``) is not the server: it raises the
    codes it is answered with, and its own few, through its own ``errors`` module."""
    src = Path(errors.__file__).parent
    spelled = re.compile(r"errors\.[A-Z]\w*\(\s*[\"']")
    found = [
        f"{path.relative_to(src)}: {match.group(0)}"
        for path in src.rglob("*.py")
        if path.relative_to(src).parts[0] != "client"
        for match in spelled.finditer(path.read_text())
    ]
    assert found == []
