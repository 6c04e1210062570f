"""Dentries: files and folders (spec §6 C)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dingstore.api.schemas import Int64, Name, Wire, one_of
from dingstore.api.wire import common
from dingstore.service import dentries as dentry_service

Order = Annotated[str, one_of(dentry_service.ORDERS)]


class AddFolderOption(Wire):
    conflict_strategy: common.Strategy | None = None
    app_properties: list[common.AppProperty] | None = None


class AddFolderRequest(Wire):
    name: Name
    option: AddFolderOption | None = None


class GetDentryOption(Wire):
    app_ids_for_app_properties: list[str] | None = Field(None, max_length=20)
    with_thumbnail: bool | None = None


class GetDentryRequest(Wire):
    option: GetDentryOption | None = None


class GetDentriesRequest(Wire):
    dentry_ids: list[str]
    option: GetDentryOption | None = None


class DentryResultItem(Wire):
    space_id: str
    dentry_id: str
    success: bool
    error_code: str | None = None
    dentry: common.Dentry | None = None


class GetDentriesResponse(Wire):
    result_items: list[DentryResultItem]


class ListDentriesQuery(Wire):
    parent_id: str
    next_token: str | None = None
    max_results: Int64 | None = None
    order_by: Annotated[str, one_of(dentry_service.ORDERS_BY)] | None = None
    order: Order | None = None
    with_thumbnail: bool | None = None


class ListAllOption(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None
    order: Order | None = None
    with_thumbnail: bool | None = None


class ListAllDentriesRequest(Wire):
    option: ListAllOption | None = None


class RenameRequest(Wire):
    new_name: Name


class CopyRequest(Wire):
    target_space_id: str
    target_folder_id: str
    option: common.ConflictOption | None = None


class MoveRequest(Wire):
    target_space_id: str
    target_folder_id: str
    option: common.MoveOption | None = None


class CopyMoveResponse(Wire):
    dentry: common.Dentry | None = None
    async_: bool = Field(False, alias="async")
    task_id: str | None = None


class DeleteQuery(Wire):
    to_recycle_bin: bool | None = None


class AsyncResponse(Wire):
    async_: bool = Field(False, alias="async")
    task_id: str | None = None
