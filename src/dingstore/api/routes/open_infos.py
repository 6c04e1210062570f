"""Open info (spec §6 K 42, 44): links that open a file in a browser, and the URLs apps
register for that. The page such a link opens is ``api/routes/previews.py``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request

from dingstore.api import responses
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import open_infos as wire

router = api_router("/v1.0/storage/spaces", tags=["open info"])


@router.post(
    "/{spaceId}/dentries/{dentryId}/openInfos/query",
    response_model=wire.GetDentryOpenInfoResponse,
    name="GetDentryOpenInfo",
)
async def get_dentry_open_info(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.GetDentryOpenInfoRequest, Body()],
    caller: Caller = operation("GetDentryOpenInfo", "Storage.File.Read"),
) -> responses.JSON:
    option = body.option or wire.OpenInfoOption()
    info = await services(request).previews.open_info(
        caller,
        spaceId,
        dentryId,
        version=option.version,
        open_type=option.type,
        water_mark=bool(option.water_mark),
        check_login=bool(option.check_login),
    )
    return responses.ok(
        wire.GetDentryOpenInfoResponse(url=info.url, has_water_mark=info.has_water_mark)
    )


@router.post(
    "/{spaceId}/dentries/{dentryId}/openInfos/register",
    response_model=wire.RegisterOpenInfoResponse,
    name="RegisterOpenInfo",
)
async def register_open_info(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.RegisterOpenInfoRequest, Body()],
    caller: Caller = operation("RegisterOpenInfo", "Storage.File.Write"),
) -> responses.JSON:
    await services(request).previews.register(
        caller,
        spaceId,
        dentryId,
        body.provider,
        [(info.open_type, info.url) for info in body.open_infos],
    )
    return responses.ok(wire.RegisterOpenInfoResponse())
