"""Batch operations and tasks (spec §6 E)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from dingstore.api.schemas import Int64, Wire, one_of
from dingstore.api.wire import common
from dingstore.service import tasks


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


# --- dingstore's task extensions (/dingstore/v1/, docs/tasks.md#extensions) ---------------------


class ListTasksQuery(Wire):
    space_id: str | None = None
    status: Annotated[str, one_of(tasks.STATUSES)] | None = None
    kind: Annotated[str, one_of(sorted(tasks.KINDS))] | None = None
    created_after: Int64 | None = None
    created_before: Int64 | None = None
    next_token: str | None = None
    max_results: Int64 | None = None


class TaskInfo(common.Task):
    """A task in the task list: GetTask's fields, and what the list filters on."""

    kind: str
    space_id: str | None = None
    creator_id: str
    create_time: str
    canceled: bool = False
    retry_of: str | None = None


class ListTasksResponse(Wire):
    tasks: list[TaskInfo]
    next_token: str | None = None


class TaskResponse(Wire):
    task: common.Task


class DryRunItem(Wire):
    dentry_id: str
    type: str | None = None
    name: str | None = None
    nodes: int
    bytes: int
    conflict: str | None = None
    target_name: str | None = None
    error_code: str | None = None


class DryRunQuota(Wire):
    space_id: str
    needed_bytes: int
    available_bytes: int | None = None
    fits: bool


class DryRunResponse(Wire):
    """What ``dryRun=true`` answers instead of the batch's results (docs/tasks.md#dry-run)."""

    dry_run: bool = True
    operation: str
    items: list[DryRunItem]
    nodes: int
    bytes: int
    quota: DryRunQuota | None = None
