"""Who is calling and may they: the access token, the app's scope, the rate limit and the
operator named by ``unionId`` — checked in that order before an endpoint runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader

from dingstore import errors
from dingstore.service import models
from dingstore.service.container import Services

TOKEN_HEADER = "x-acs-dingtalk-access-token"
_token_header = APIKeyHeader(name=TOKEN_HEADER, auto_error=False)


@dataclass(frozen=True, slots=True)
class Caller:
    principal: models.Principal
    operator: models.User


def services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


def operation(name: str, scope: str):  # type: ignore[no-untyped-def]
    """A dependency that admits a caller to the storage operation ``name`` needing ``scope``."""

    async def admit(
        request: Request,
        token: Annotated[str | None, Depends(_token_header)],
        union_id: Annotated[
            str | None, Query(alias="unionId", description="the operator's unionId (required)")
        ] = None,
    ) -> Caller:
        svc: Services = request.app.state.services
        principal = await svc.tokens.authenticate(token)
        request.app.state.rate_limiter.check(principal.app_id, name)
        if scope not in principal.scopes:
            raise errors.ScopeDenied([scope])
        if not union_id:
            raise errors.BadRequest("paramError", "unionId is required")
        operator = await svc.identity.operator(principal.corp_id, union_id)
        return Caller(principal, operator)

    return Depends(admit)
