"""Request and response bodies, in DingTalk's camelCase."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

# Every integer a client sends is one of these: a 64-bit signed integer, what the database
# stores; one out of that range is ``400 paramError.<field>`` at the edge, never an overflow
# further in (tests/api/test_edge.py checks every request model uses it).
# OpenAPI says so with ``format: int64`` (FastAPI's document holds bounds as floats, and 2**63-1
# as a float is 2**63, out of range).
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT64_SCHEMA = {"type": "integer", "format": "int64"}
Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX), WithJsonSchema(INT64_SCHEMA)]


def one_of(values: Iterable[str]) -> Any:
    """A string field the service takes only as one of ``values``, refusing any other with
    ``paramError.<field>`` in DingTalk's words: the document says so (an ``enum``); pydantic
    does not check it, its error would not be DingTalk's. ``Annotated[str, one_of(...)]``."""
    return WithJsonSchema({"type": "string", "enum": list(values)})


class NameRule:
    """Marks a field that ``service/names.py`` checks (and answers for) in full, U+0000 too:
    the edge's own NUL check (api/validation.py) leaves it to that rule."""


NAME_RULE = NameRule()
Name = Annotated[str, NAME_RULE]


class Wire(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class GetAccessTokenRequest(Wire):
    app_key: str
    app_secret: str | None = None


class GetCorpAccessTokenRequest(Wire):
    suite_key: str
    suite_secret: str
    auth_corp_id: str
    suite_ticket: str


class AccessTokenResponse(Wire):
    access_token: str
    expire_in: int


class Health(Wire):
    status: str


class AccessDeniedDetail(BaseModel):
    requiredScopes: list[str]


class Error(BaseModel):
    """Every failure's body (spec §2.1); ``accessdenieddetail`` only for a missing scope."""

    code: str
    message: str
    requestid: str
    accessdenieddetail: AccessDeniedDetail | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error} for status in (400, 403, 404, 500, 503)
}
