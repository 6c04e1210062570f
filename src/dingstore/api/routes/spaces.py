"""Spaces (spec §6 B)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Request

from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import spaces as wire
from dingstore.service.spaces import NewSpace

router = api_router("/v1.0/storage", tags=["spaces"])


@router.post("/spaces", response_model=wire.SpaceResponse, name="AddSpace")
async def add_space(
    request: Request,
    body: Annotated[wire.AddSpaceRequest, Body()],
    caller: Caller = operation("AddSpace", "Storage.Space.Write"),
) -> responses.JSON:
    o = body.option or wire.AddSpaceOption()
    caps = o.capabilities or common.Capabilities()
    new = NewSpace(
        name=o.name,
        quota=None if o.quota in (None, -1) else o.quota,
        scene="default" if o.scene is None else o.scene,
        scene_id="0" if o.scene_id is None else o.scene_id,
        owner_type=o.owner_type or "USER",
        can_search=caps.can_search,
        can_rename=caps.can_rename,
        can_record_recent_file=caps.can_record_recent_file,
    )
    space = await services(request).spaces.add(caller, new)
    return responses.ok(wire.SpaceResponse(space=views.space(space)))


@router.get("/spaces/{spaceId}", response_model=wire.SpaceResponse, name="GetSpace")
async def get_space(
    spaceId: str,
    request: Request,
    caller: Caller = operation("GetSpace", "Storage.Space.Read"),
) -> responses.JSON:
    space = await services(request).spaces.get(caller, spaceId)
    return responses.ok(wire.SpaceResponse(space=views.space(space)))
