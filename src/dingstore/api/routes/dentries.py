"""Dentries: files and folders (spec §6 C)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import Body, Query, Request

from dingstore.api import idempotent, responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import dentries as wire
from dingstore.service.bulk.common import Outcome
from dingstore.service.models import Dentry
from dingstore.service.thumbnails.queries import Thumbnail

router = api_router("/v1.0/storage/spaces/{spaceId}/dentries", tags=["dentries"])


def preserves(option: common.MoveOption) -> bool:
    """``option.presevePermissions`` (MoveDentry's spelling) or ``preservePermissions``
    (MoveDentries'): either is taken on either operation."""
    return bool(option.preseve_permissions or option.preserve_permissions)


async def _thumbnails(
    request: Request, caller: Caller, wanted: bool | None, found: Sequence[Dentry]
) -> dict[int, Thumbnail]:
    """The thumbnails ``withThumbnail`` asks for (none when it is not true)."""
    if not wanted:
        return {}
    return await services(request).thumbnails.of_dentries(caller, found)


def _moved(result: Outcome) -> responses.JSON:
    return responses.ok(
        wire.CopyMoveResponse(
            dentry=views.dentry(result.dentry) if result.dentry else None,
            async_=result.task_id is not None,
            task_id=str(result.task_id) if result.task_id is not None else None,
        )
    )


@router.post(
    "/{parentId}/folders",
    response_model=common.DentryResponse,
    name="AddFolder",
    openapi_extra=idempotent.DOCUMENTED,
)
async def add_folder(
    spaceId: str,
    parentId: str,
    request: Request,
    body: Annotated[wire.AddFolderRequest, Body()],
    caller: Caller = operation("AddFolder", "Storage.File.Write"),
) -> responses.JSON:
    async def run() -> responses.JSON:
        option = body.option or wire.AddFolderOption()
        folder = await services(request).dentries.add_folder(
            caller,
            spaceId,
            parentId,
            body.name,
            option.conflict_strategy,
            views.property_inputs(option.app_properties),
        )
        return responses.ok(common.DentryResponse(dentry=views.dentry(folder)))

    return await idempotent.idempotent(request, caller, "AddFolder", body, run)


@router.post("/{dentryId}/query", response_model=common.DentryResponse, name="GetDentry")
async def get_dentry(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.GetDentryRequest, Body()],
    caller: Caller = operation("GetDentry", "Storage.File.Read"),
) -> responses.JSON:
    option = body.option or wire.GetDentryOption()
    found = await services(request).dentries.get(
        caller, spaceId, dentryId, option.app_ids_for_app_properties
    )
    thumbs = await _thumbnails(request, caller, option.with_thumbnail, [found])
    return responses.ok(common.DentryResponse(dentry=views.dentry(found, thumbs)))


@router.post("/query", response_model=wire.GetDentriesResponse, name="GetDentries")
async def get_dentries(
    spaceId: str,
    request: Request,
    body: Annotated[wire.GetDentriesRequest, Body()],
    caller: Caller = operation("GetDentries", "Storage.File.Read"),
) -> responses.JSON:
    option = body.option or wire.GetDentryOption()
    items = await services(request).dentries.get_many(
        caller, spaceId, body.dentry_ids, option.app_ids_for_app_properties
    )
    found = [item.dentry for item in items if item.dentry is not None]
    thumbs = await _thumbnails(request, caller, option.with_thumbnail, found)
    return responses.ok(
        wire.GetDentriesResponse(
            result_items=[
                wire.DentryResultItem(
                    space_id=spaceId,
                    dentry_id=item.dentry_id,
                    success=item.dentry is not None,
                    error_code=item.error_code,
                    dentry=views.dentry(item.dentry, thumbs) if item.dentry else None,
                )
                for item in items
            ]
        )
    )


@router.get("", response_model=common.DentriesPage, name="ListDentries")
async def list_dentries(
    spaceId: str,
    request: Request,
    query: Annotated[wire.ListDentriesQuery, Query()],
    caller: Caller = operation("ListDentries", "Storage.File.Read"),
) -> responses.JSON:
    page = await services(request).dentries.list(
        caller,
        spaceId,
        query.parent_id,
        next_token=query.next_token,
        max_results=query.max_results,
        order_by=query.order_by,
        order=query.order,
    )
    thumbs = await _thumbnails(request, caller, query.with_thumbnail, page.items)
    return responses.ok(
        common.DentriesPage(
            dentries=[views.dentry(d, thumbs) for d in page.items], next_token=page.next_token
        )
    )


@router.post("/listAll", response_model=common.DentriesPage, name="ListAllDentries")
async def list_all_dentries(
    spaceId: str,
    request: Request,
    body: Annotated[wire.ListAllDentriesRequest, Body()],
    caller: Caller = operation("ListAllDentries", "Storage.File.Read"),
) -> responses.JSON:
    option = body.option or wire.ListAllOption()
    page = await services(request).dentries.list_all(
        caller,
        spaceId,
        next_token=option.next_token,
        max_results=option.max_results,
        order=option.order,
    )
    thumbs = await _thumbnails(request, caller, option.with_thumbnail, page.items)
    return responses.ok(
        common.DentriesPage(
            dentries=[views.dentry(d, thumbs) for d in page.items], next_token=page.next_token
        )
    )


@router.post("/{dentryId}/rename", response_model=common.DentryResponse, name="RenameDentry")
async def rename_dentry(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.RenameRequest, Body()],
    caller: Caller = operation("RenameDentry", "Storage.File.Write"),
) -> responses.JSON:
    renamed = await services(request).dentries.rename(caller, spaceId, dentryId, body.new_name)
    return responses.ok(common.DentryResponse(dentry=views.dentry(renamed)))


@router.post(
    "/{dentryId}/copy",
    response_model=wire.CopyMoveResponse,
    name="CopyDentry",
    openapi_extra=idempotent.DOCUMENTED,
)
async def copy_dentry(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.CopyRequest, Body()],
    caller: Caller = operation("CopyDentry", "Storage.File.Write"),
) -> responses.JSON:
    async def run() -> responses.JSON:
        option = body.option or common.ConflictOption()
        target = body.target_space_id, body.target_folder_id, option.conflict_strategy
        result = await services(request).dentries.copy(caller, spaceId, dentryId, *target)
        return _moved(result)

    return await idempotent.idempotent(request, caller, "CopyDentry", body, run)


@router.post(
    "/{dentryId}/move",
    response_model=wire.CopyMoveResponse,
    name="MoveDentry",
    openapi_extra=idempotent.DOCUMENTED,
)
async def move_dentry(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.MoveRequest, Body()],
    caller: Caller = operation("MoveDentry", "Storage.File.Write"),
) -> responses.JSON:
    async def run() -> responses.JSON:
        option = body.option or common.MoveOption()
        target = body.target_space_id, body.target_folder_id, option.conflict_strategy
        result = await services(request).dentries.move(
            caller, spaceId, dentryId, *target, preserve_permissions=preserves(option)
        )
        return _moved(result)

    return await idempotent.idempotent(request, caller, "MoveDentry", body, run)


@router.delete(
    "/{dentryId}",
    response_model=wire.AsyncResponse,
    name="DeleteDentry",
    openapi_extra=idempotent.DOCUMENTED,
)
async def delete_dentry(
    spaceId: str,
    dentryId: str,
    request: Request,
    query: Annotated[wire.DeleteQuery, Query()],
    caller: Caller = operation("DeleteDentry", "Storage.File.Write"),
) -> responses.JSON:
    async def run() -> responses.JSON:
        result = await services(request).dentries.delete(
            caller, spaceId, dentryId, to_recycle_bin=bool(query.to_recycle_bin)
        )
        return responses.ok(
            wire.AsyncResponse(
                async_=result.task_id is not None,
                task_id=str(result.task_id) if result.task_id is not None else None,
            )
        )

    return await idempotent.idempotent(request, caller, "DeleteDentry", query, run)
