"""Tasks (spec §6 E.22)."""

from __future__ import annotations

from fastapi import Request

from dingstore.api import responses
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import batch as wire
from dingstore.api.wire import common
from dingstore.clock import iso

router = api_router("/v1.0/storage", tags=["tasks"])


@router.get("/tasks/{taskId}", response_model=wire.GetTaskResponse, name="GetTask")
async def get_task(
    taskId: str,
    request: Request,
    caller: Caller = operation("GetTask", "Storage.Task.Read"),
) -> responses.JSON:
    task = await services(request).tasks.get(caller.principal, caller.operator, taskId)
    return responses.ok(
        wire.GetTaskResponse(
            task=common.Task(
                id=str(task.id),
                status=task.status,
                total_count=task.total_count,
                success_count=task.success_count,
                fail_count=task.fail_count,
                fail_message=task.fail_message,
                begin_time=iso(task.begin_time),
                end_time=iso(task.end_time),
            )
        )
    )
