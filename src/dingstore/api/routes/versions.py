"""Versions and app properties (spec §6 F, G)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Path, Query, Request
from pydantic import WithJsonSchema

from dingstore.api import responses, schemas, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import versions as wire

router = api_router("/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}", tags=["versions"])


@router.get("/versions", response_model=common.DentriesPage, name="ListDentryVersions")
async def list_dentry_versions(
    spaceId: str,
    dentryId: str,
    request: Request,
    query: Annotated[wire.ListVersionsQuery, Query()],
    caller: Caller = operation("ListDentryVersions", "Storage.File.Read"),
) -> responses.JSON:
    page = await services(request).versions.list(
        caller, spaceId, dentryId, next_token=query.next_token, max_results=query.max_results
    )
    return responses.ok(
        common.DentriesPage(
            dentries=[views.dentry(d) for d in page.items], next_token=page.next_token
        )
    )


@router.post(
    "/versions/{version}/revert", response_model=common.Success, name="RevertDentryVersion"
)
async def revert_dentry_version(
    spaceId: str,
    dentryId: str,
    version: Annotated[
        int,
        Path(ge=1, le=schemas.INT64_MAX),
        WithJsonSchema({**schemas.INT64_SCHEMA, "minimum": 1}),
    ],
    request: Request,
    caller: Caller = operation("RevertDentryVersion", "Storage.File.Write"),
) -> responses.JSON:
    await services(request).versions.revert(caller, spaceId, dentryId, version)
    return responses.ok(common.Success())


@router.put("/appProperties", response_model=common.Success, name="UpdateDentryAppProperties")
async def update_dentry_app_properties(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.UpdateAppPropertiesRequest, Body()],
    caller: Caller = operation("UpdateDentryAppProperties", "Storage.File.Write"),
) -> responses.JSON:
    await services(request).properties.update(
        caller, spaceId, dentryId, views.property_inputs(body.app_properties)
    )
    return responses.ok(common.Success())


@router.post(
    "/appProperties/remove", response_model=common.Success, name="DeleteDentryAppProperties"
)
async def delete_dentry_app_properties(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.DeleteAppPropertiesRequest, Body()],
    caller: Caller = operation("DeleteDentryAppProperties", "Storage.File.Write"),
) -> responses.JSON:
    await services(request).properties.delete(caller, spaceId, dentryId, body.property_names)
    return responses.ok(common.Success())
