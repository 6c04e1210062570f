"""Access-token APIs (spec §3). They take no token header."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request

from dingstore import errors
from dingstore.api import responses, schemas
from dingstore.api.routing import api_router

router = api_router("/v1.0/oauth2", tags=["oauth2"])


@router.post("/accessToken", response_model=schemas.AccessTokenResponse, name="GetAccessToken")
async def get_access_token(
    body: Annotated[schemas.GetAccessTokenRequest, Body()],
    request: Request,
) -> responses.JSON:
    if not body.app_secret:
        raise errors.INVALID_CLIENT_ID_OR_SECRET.error("appSecret is required")
    token = await request.app.state.services.tokens.issue_for_app(body.app_key, body.app_secret)
    return responses.ok(
        schemas.AccessTokenResponse(access_token=token.access_token, expire_in=token.expire_in)
    )


@router.post(
    "/corpAccessToken", response_model=schemas.AccessTokenResponse, name="GetCorpAccessToken"
)
async def get_corp_access_token(
    body: Annotated[schemas.GetCorpAccessTokenRequest, Body()],
    request: Request,
) -> responses.JSON:
    token = await request.app.state.services.tokens.issue_for_suite(
        body.suite_key, body.suite_secret, body.auth_corp_id, body.suite_ticket
    )
    return responses.ok(
        schemas.AccessTokenResponse(access_token=token.access_token, expire_in=token.expire_in)
    )
