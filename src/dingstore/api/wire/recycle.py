"""The recycle bin (spec §6 H)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dingstore.api.schemas import Int64, Wire, one_of
from dingstore.api.wire import common
from dingstore.service import recycle as recycle_service


class GetRecycleBinQuery(Wire):
    recycle_bin_scope: Annotated[str, one_of([recycle_service.SCOPE])]
    scope_id: str


class RecycleBin(Wire):
    id: str
    scope: str
    scope_id: str


class GetRecycleBinResponse(Wire):
    recycle_bin: RecycleBin


class RecycleItem(Wire):
    id: str
    space_id: str
    dentry_id: str
    size: int
    type: str
    original_name: str
    original_path: str
    operator_id: str
    operator_time: str


class ListRecycleItemsQuery(Wire):
    next_token: str | None = None
    max_results: Int64 | None = None


class RecycleItemsPage(Wire):
    recycle_items: list[RecycleItem]
    next_token: str | None = None


class RecycleItemResponse(Wire):
    item: RecycleItem


class RestoreRequest(Wire):
    option: common.ConflictOption | None = None


class RestoreResponse(Wire):
    async_: bool = Field(False, alias="async")
    task_id: str | None = None
    space_id: str | None = None
    dentry_id: str | None = None


class BatchRestoreRequest(Wire):
    recycle_item_ids: list[str]
    option: common.ConflictOption | None = None


class RestoreResultItem(Wire):
    """Per spec §1.11, as ``BatchResultItem``: an async item carries ``taskId`` and neither
    ``success`` nor ``errorCode``; ``spaceId``/``dentryId`` are there unless it failed."""

    recycle_bin_id: str
    recycle_item_id: str
    async_: bool | None = Field(None, alias="async")
    success: bool | None = None
    error_code: str | None = None
    task_id: str | None = None
    space_id: str | None = None
    dentry_id: str | None = None


class BatchRestoreResponse(Wire):
    result_items: list[RestoreResultItem]


class RecycleItemIdsRequest(Wire):
    recycle_item_ids: list[str]
