"""Permissions (spec §6 I)."""

from __future__ import annotations

from typing import Annotated

from dingstore.api.schemas import Int64, Wire, one_of
from dingstore.service import access


class PermissionMember(Wire):
    type: Annotated[str, one_of(access.MEMBER_TYPES)] | None = None
    id: str | None = None
    corp_id: str | None = None


class PermissionOption(Wire):
    duration: Int64 | None = None


class PermissionRequest(Wire):
    """AddPermission, UpdatePermission and DeletePermission (which sends no ``option``)."""

    role_id: Annotated[str, one_of(access.ROLE_IDS)]
    members: list[PermissionMember]
    option: PermissionOption | None = None


class ListPermissionsOption(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None
    filter_role_ids: list[str] | None = None


class ListPermissionsRequest(Wire):
    option: ListPermissionsOption | None = None


class PermissionRole(Wire):
    id: str
    name: str


class Permission(Wire):
    space_id: str
    dentry_id: str
    member: PermissionMember
    role: PermissionRole
    duration: int
    create_time: str
    modified_time: str
    operator_id: str


class PermissionsPage(Wire):
    permissions: list[Permission]
    next_token: str | None = None


class BatchQueryRolesQuery(Wire):
    dentry_id_list: str


class BatchQueryRolesResponse(Wire):
    role_map: dict[str, list[PermissionRole]]
