"""Organization and app (spec §6 A)."""

from __future__ import annotations

from fastapi import Request

from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import orgs as wire
from dingstore.clock import iso

router = api_router("/v1.0/storage", tags=["org and app"])


@router.get("/orgs/{corpId}", response_model=wire.GetOrgResponse, name="GetOrg")
async def get_org(
    corpId: str,
    request: Request,
    caller: Caller = operation("GetOrg", "Storage.Org.Read"),
) -> responses.JSON:
    usage = await services(request).spaces.org(caller, corpId)
    return responses.ok(
        wire.GetOrgResponse(org=wire.Org(corp_id=corpId, partitions=[views.partition(usage)]))
    )


@router.post("/currentApps/query", response_model=wire.GetCurrentAppResponse, name="GetCurrentApp")
async def get_current_app(
    request: Request,
    caller: Caller = operation("GetCurrentApp", "Storage.App.Read"),
) -> responses.JSON:
    found = await services(request).spaces.current_app(caller)
    return responses.ok(
        wire.GetCurrentAppResponse(
            app=wire.App(
                corp_id=found.app.corp_id,
                app_id=found.app.app_id,
                name=found.app.name,
                create_time=iso(found.app.created_at) or "",
                modified_time=iso(found.app.modified_at) or "",
                partitions=[views.partition(found.usage)],
            )
        )
    )
