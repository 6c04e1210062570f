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
        return orjson.dumps(content)


def ok(model: BaseModel) -> JSON:
    """A success body: camelCase keys, absent (never null) where a field has no value."""
    return JSON(model.model_dump(mode="json", by_alias=True, exclude_none=True))


def error(exc: errors.DingstoreError, request_id: str) -> JSON:
    return JSON({**exc.body(), "requestid": request_id}, status_code=exc.status)
