"""Strict mode (``serve --strict``): a body field or query parameter the operation does not
take answers ``400 paramError`` naming it, where DingTalk (and dingstore by default) ignores it.

For suites that want a typo caught (``parentID`` for ``parentId``). It is off by default so that
a newer SDK, sending fields this server does not know yet, still works. The wire models say what
each operation takes: a body is walked beside its model, nested objects and lists included.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable
from typing import Annotated, Any, Union, get_args, get_origin

import orjson
from pydantic import BaseModel

from dingstore import errors


def refuse_unknown_query(given: Iterable[str], known: set[str]) -> None:
    unknown = sorted(set(given) - known)
    if unknown:
        raise errors.PARAM_ERROR.error(f"unknown query parameters: {', '.join(unknown)}")


def refuse_unknown_fields(model: type[BaseModel], raw: bytes) -> None:
    """``paramError`` naming every field of the JSON body ``raw`` (already valid for ``model``)
    that ``model`` does not declare, by its path (``option.conflictStrategy``)."""
    unknown: list[str] = []
    _walk(model, orjson.loads(raw), "", unknown)
    if unknown:
        raise errors.PARAM_ERROR.error(f"unknown fields: {', '.join(unknown)}")


@functools.cache
def _fields(model: type[BaseModel]) -> dict[str, Any]:
    """Each name a body may use for a field (its alias, and its own name), with its type."""
    names: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        names[name] = info.annotation
        names[info.alias or name] = info.annotation
    return names


def _walk(hint: Any, value: Any, path: str, unknown: list[str]) -> None:
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        if isinstance(value, dict):
            fields = _fields(hint)
            for key, item in value.items():
                where = f"{path}.{key}" if path else key
                if key not in fields:
                    unknown.append(where)
                else:
                    _walk(fields[key], item, where, unknown)
        return
    origin = get_origin(hint)
    if origin is Annotated:
        _walk(get_args(hint)[0], value, path, unknown)
    elif origin in (Union, types.UnionType):
        models = [a for a in get_args(hint) if _holds_model(a)]
        if models:
            _walk(models[0], value, path, unknown)
    elif origin in (list, tuple, set) and isinstance(value, list):
        (item_hint, *_) = get_args(hint) or (Any,)
        for item in value:
            _walk(item_hint, item, path, unknown)
    elif origin is dict and isinstance(value, dict):
        args = get_args(hint)
        if len(args) == 2:
            for key, item in value.items():
                _walk(args[1], item, f"{path}.{key}" if path else str(key), unknown)


def _holds_model(hint: Any) -> bool:
    if isinstance(hint, type) and issubclass(hint, BaseModel):
        return True
    return any(_holds_model(a) for a in get_args(hint))
