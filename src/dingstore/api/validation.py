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
    field = ".".join(str(p) for p in loc if not isinstance(p, int))
    return errors.param_error(field, f"{field}: {first.get('msg', 'invalid')}")
