"""pydantic validation errors as DingTalk parameter errors (``paramError.<field>``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from dingstore import errors
from dingstore.api import schemas


def validation_error(problems: Sequence[Any], *, location_prefix: int = 0) -> errors.DingstoreError:
    """The first problem, as the error a client sees. ``location_prefix`` skips FastAPI's
    leading ``body``/``query`` location."""
    first = problems[0] if problems else {}
    kind, loc = first.get("type", ""), tuple(first.get("loc", ()))[location_prefix:]
    if kind == "json_invalid":
        return errors.PARAM_ERROR.error("the request body is not valid JSON")
    if not loc:
        if kind == "missing":
            return errors.MISSING_BODY.error("body is mandatory for this action")
        return errors.PARAM_ERROR.error("the request body must be a JSON object")
    path = [str(p) for p in loc if not isinstance(p, int)]
    where = ".".join(path)
    return errors.param_error(_code_of(path), f"{where}: {first.get('msg', 'invalid')}")


# A nested field's code is its own name, as the spec's pages list them (``paramError.
# conflictStrategy`` for ``option.conflictStrategy``), but where a page names it otherwise.
_CODES: dict[tuple[str, ...], str] = {
    ("members", "type"): "permissionMemberType",
    ("members", "id"): "members",
    ("members", "corpId"): "members",
}


def _code_of(path: list[str]) -> str:
    return _CODES.get(tuple(path[-2:]), path[-1])


def refuse_nul(model: BaseModel) -> None:
    """``paramError.<field>`` for the first string of a parsed request holding U+0000: no
    database stores it in text (PostgreSQL refuses it), and no name or id needs it. Fields
    under the name rule (``schemas.Name``) are left to it, which answers with its own codes."""
    path = _nul_in(model)
    if path is not None:
        raise errors.param_error(_code_of(path), f"{'.'.join(path)} may not contain U+0000")


def _nul_in(value: Any, path: tuple[str, ...] = ()) -> list[str] | None:
    if isinstance(value, str):
        return list(path) if "\x00" in value else None
    if isinstance(value, BaseModel):
        for name, info in type(value).model_fields.items():
            if schemas.NAME_RULE in info.metadata:
                continue
            found = _nul_in(getattr(value, name), (*path, info.alias or name))
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            if (found := _nul_in(item, path)) is not None:
                return found
    return None
