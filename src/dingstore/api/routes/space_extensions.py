"""dingstore's space list under ``/dingstore/v1/`` (docs/files.md#the-space-list): the spaces
the operator may read. The same token, scope, operator (``unionId``) and error envelope as
GetSpace; DingTalk's SDK does not know it."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import spaces as wire

router = api_router("/dingstore/v1/spaces", tags=["dingstore extensions: spaces"])


@router.get("", response_model=wire.ListSpacesResponse, name="ListSpaces")
async def list_spaces(
    request: Request,
    query: Annotated[wire.ListSpacesQuery, Query()],
    caller: Caller = operation("ListSpaces", "Storage.Space.Read"),
) -> responses.JSON:
    page = await services(request).spaces.list(
        caller, next_token=query.next_token, max_results=query.max_results
    )
    return responses.ok(
        wire.ListSpacesResponse(
            spaces=[views.space(s) for s in page.items], next_token=page.next_token
        )
    )
