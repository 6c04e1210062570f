"""Permissions (spec §6 I.35 to I.39)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request

from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import permissions as wire
from dingstore.service.permissions import MemberInput

router = api_router("/v1.0/storage/spaces/{spaceId}/dentries", tags=["permissions"])

PERMISSIONS = "/{dentryId}/permissions"


def _members(body: wire.PermissionRequest) -> list[MemberInput] | None:
    if body.members is None:
        return None
    return [MemberInput(m.type, m.id, m.corp_id) for m in body.members]


def _duration(body: wire.PermissionRequest) -> int | None:
    return body.option.duration if body.option is not None else None


@router.post(PERMISSIONS, response_model=common.Success, name="AddPermission")
async def add_permission(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.PermissionRequest, Body()],
    caller: Caller = operation("AddPermission", "Storage.Permission.Write"),
) -> responses.JSON:
    await services(request).permissions.add(
        caller, spaceId, dentryId, body.role_id, _members(body), _duration(body)
    )
    return responses.ok(common.Success(success=True))


@router.put(PERMISSIONS, response_model=common.Success, name="UpdatePermission")
async def update_permission(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.PermissionRequest, Body()],
    caller: Caller = operation("UpdatePermission", "Storage.Permission.Write"),
) -> responses.JSON:
    await services(request).permissions.update(
        caller, spaceId, dentryId, body.role_id, _members(body), _duration(body)
    )
    return responses.ok(common.Success(success=True))


@router.post(f"{PERMISSIONS}/remove", response_model=common.Success, name="DeletePermission")
async def delete_permission(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.PermissionRequest, Body()],
    caller: Caller = operation("DeletePermission", "Storage.Permission.Write"),
) -> responses.JSON:
    await services(request).permissions.delete(
        caller, spaceId, dentryId, body.role_id, _members(body)
    )
    return responses.ok(common.Success(success=True))


@router.post(f"{PERMISSIONS}/query", response_model=wire.PermissionsPage, name="ListPermissions")
async def list_permissions(
    spaceId: str,
    dentryId: str,
    request: Request,
    body: Annotated[wire.ListPermissionsRequest, Body()],
    caller: Caller = operation("ListPermissions", "Storage.Permission.Read"),
) -> responses.JSON:
    o = body.option or wire.ListPermissionsOption()
    page = await services(request).permissions.list(
        caller,
        spaceId,
        dentryId,
        role_ids=o.filter_role_ids,
        next_token=o.next_token,
        max_results=o.max_results,
    )
    return responses.ok(
        wire.PermissionsPage(
            permissions=[views.permission(p) for p in page.items], next_token=page.next_token
        )
    )


@router.post(
    "/permissions/roles/batchQuery",
    response_model=wire.BatchQueryRolesResponse,
    name="BatchQueryRoles",
)
async def batch_query_roles(
    spaceId: str,
    request: Request,
    query: Annotated[wire.BatchQueryRolesQuery, Query()],
    caller: Caller = operation("BatchQueryRoles", "Storage.Permission.Read"),
) -> responses.JSON:
    found = await services(request).permissions.roles(caller, spaceId, query.dentry_id_list)
    role_map = {
        dentry: [wire.PermissionRole(id=r, name=r) for r in roles]
        for dentry, roles in found.items()
    }
    return responses.ok(wire.BatchQueryRolesResponse(role_map=role_map))
