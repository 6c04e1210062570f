"""Batch operations and tasks (spec §6 E)."""

from __future__ import annotations

from pydantic import Field

from dingstore.api.schemas import Wire
from dingstore.api.wire import common


class BatchCopyRequest(Wire):
    target_space_id: str
    target_folder_id: str
    dentry_ids: list[str]
    option: common.ConflictOption | None = None


class BatchMoveRequest(Wire):
    target_space_id: str
    target_folder_id: str
    dentry_ids: list[str]
    option: common.MoveOption | None = None


class DeleteOption(Wire):
    to_recycle_bin: bool | None = None


class BatchRemoveRequest(Wire):
    dentry_ids: list[str]
    option: DeleteOption | None = None


class BatchResultItem(Wire):
    """Per spec §1.11: an async item carries ``taskId`` and neither ``success`` nor
    ``errorCode``; the target ids are there unless the item failed."""

    space_id: str
    dentry_id: str
    async_: bool | None = Field(None, alias="async")
    success: bool | None = None
    error_code: str | None = None
    task_id: str | None = None
    target_space_id: str | None = None
    target_dentry_id: str | None = None


class BatchResponse(Wire):
    result_items: list[BatchResultItem]


class GetTaskResponse(Wire):
    task: common.Task
