"""Rendering bodies: success objects and the DingTalk error envelope."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from starlette.responses import Response

from dingstore import errors


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):  # already JSON (``ok``)
            return content
        return orjson.dumps(content)


def ok(model: BaseModel) -> JSON:
    """A success body: camelCase keys, absent (never null) where a field has no value. pydantic
    writes the JSON itself, without making the dict of Python objects first."""
    return JSON(model.__pydantic_serializer__.to_json(model, by_alias=True, exclude_none=True))


def error(exc: errors.DingstoreError, request_id: str) -> JSON:
    return JSON({**exc.body(), "requestid": request_id}, status_code=exc.status)
