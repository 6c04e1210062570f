"""pydantic validation errors as DingTalk parameter errors (``paramError.<field>``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dingstore import errors


def validation_error(problems: Sequence[Any], *, location_prefix: int = 0) -> errors.DingstoreError:
    """The first problem, as the error a client sees. ``location_prefix`` skips FastAPI's
    leading ``body``/``query`` location."""
    first = problems[0] if problems else {}
    kind, loc = first.get("type", ""), tuple(first.get("loc", ()))[location_prefix:]
    if kind == "json_invalid":
        return errors.BadRequest("paramError", "the request body is not valid JSON")
    if not loc:
        if kind == "missing":
            return errors.BadRequest("Missingbody", "body is mandatory for this action")
        return errors.BadRequest("paramError", "the request body must be a JSON object")
    path = [str(p) for p in loc if not isinstance(p, int)]
    where = ".".join(path)
    return errors.param_error(_code_of(path), f"{where}: {first.get('msg', 'invalid')}")


# A nested field's code is its own name, as the spec's pages list them (``paramError.
# conflictStrategy`` for ``option.conflictStrategy``), but where a page names it otherwise.
_CODES: dict[tuple[str, ...], str] = {("members", "type"): "permissionMemberType"}


def _code_of(path: list[str]) -> str:
    return _CODES.get(tuple(path[-2:]), path[-1])
