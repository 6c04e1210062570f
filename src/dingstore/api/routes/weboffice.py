"""GetWebOfficeUrl and RefreshWebOfficeToken (spec §6 K): an office server's editor for a file,
with dingstore as its WOPI host (api/routes/wopi.py, docs/previews.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from dingstore.api import responses
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import weboffice as wire

router = api_router("/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}", tags=["weboffice"])


@router.get("/webOfficeUrls", response_model=wire.WebOfficeUrl, name="GetWebOfficeUrl")
async def get_web_office_url(
    spaceId: str,
    dentryId: str,
    request: Request,
    caller: Caller = operation("GetWebOfficeUrl", "Storage.File.Read"),
) -> responses.JSON:
    session = await services(request).weboffice.open(caller, spaceId, dentryId)
    assert session.url is not None
    return responses.ok(
        wire.WebOfficeUrl(
            web_office_url=session.url,
            web_office_access_token=session.access_token,
            web_office_refresh_token=session.refresh_token,
        )
    )


@router.get(
    "/refreshWebOfficeToken", response_model=wire.WebOfficeTokens, name="RefreshWebOfficeToken"
)
async def refresh_web_office_token(
    spaceId: str,
    dentryId: str,
    request: Request,
    query: Annotated[wire.RefreshWebOfficeTokenQuery, Query()],
    caller: Caller = operation("RefreshWebOfficeToken", "Storage.File.Read"),
) -> responses.JSON:
    session = await services(request).weboffice.refresh(
        caller,
        spaceId,
        dentryId,
        query.web_office_access_token,
        query.web_office_refresh_token,
    )
    return responses.ok(
        wire.WebOfficeTokens(
            web_office_access_token=session.access_token,
            web_office_refresh_token=session.refresh_token,
        )
    )
