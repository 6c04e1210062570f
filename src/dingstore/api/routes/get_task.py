"""Tasks (spec §6 E.22)."""

from __future__ import annotations

from fastapi import Request

from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import batch as wire

router = api_router("/v1.0/storage", tags=["tasks"])


@router.get("/tasks/{taskId}", response_model=wire.GetTaskResponse, name="GetTask")
async def get_task(
    taskId: str,
    request: Request,
    caller: Caller = operation("GetTask", "Storage.Task.Read"),
) -> responses.JSON:
    task = await services(request).tasks.get(caller.principal, caller.operator, taskId)
    return responses.ok(wire.GetTaskResponse(task=views.task(task)))
