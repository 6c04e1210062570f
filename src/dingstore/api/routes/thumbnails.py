"""Thumbnails (spec §6 K op 43): GetDentryThumbnails."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request

from dingstore.api import responses
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import thumbnails as wire

router = api_router("/v1.0/storage/spaces/{spaceId}/thumbnails", tags=["thumbnails"])


@router.post("/query", response_model=wire.GetThumbnailsResponse, name="GetDentryThumbnails")
async def get_dentry_thumbnails(
    spaceId: str,
    request: Request,
    body: Annotated[wire.GetThumbnailsRequest, Body()],
    caller: Caller = operation("GetDentryThumbnails", "Storage.File.Read"),
) -> responses.JSON:
    items = await services(request).thumbnails.get_many(caller, spaceId, body.dentry_ids)
    return responses.ok(
        wire.GetThumbnailsResponse(
            result_items=[
                wire.ThumbnailResultItem(
                    space_id=spaceId,
                    dentry_id=item.dentry_id,
                    success=item.thumbnail is not None,
                    error_code=item.error_code,
                    thumbnail=wire.Thumbnail(
                        width=item.thumbnail.width,
                        height=item.thumbnail.height,
                        url=item.thumbnail.url,
                    )
                    if item.thumbnail
                    else None,
                )
                for item in items
            ]
        )
    )
