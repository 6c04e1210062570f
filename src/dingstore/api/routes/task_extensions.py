"""dingstore's task extensions under ``/dingstore/v1/`` (docs/tasks.md#extensions): the task
list, cancel and retry. The same tokens, scopes, operators (``unionId``) and error envelope as
the storage API; DingTalk's SDK knows none of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, services
from dingstore.api.wire import batch as wire

router = api_router("/dingstore/v1/tasks", tags=["dingstore extensions: tasks"])


@router.get("", response_model=wire.ListTasksResponse, name="ListTasks")
async def list_tasks(
    request: Request,
    query: Annotated[wire.ListTasksQuery, Query()],
    caller: Caller = operation("ListTasks", "Storage.Task.Read"),
) -> responses.JSON:
    page = await services(request).tasks.list(
        caller,
        space_id=query.space_id,
        status=query.status,
        kind=query.kind,
        created_after=query.created_after,
        created_before=query.created_before,
        next_token=query.next_token,
        max_results=query.max_results,
    )
    return responses.ok(
        wire.ListTasksResponse(
            tasks=[views.task_info(info) for info in page.items], next_token=page.next_token
        )
    )


@router.post("/{taskId}/cancel", response_model=wire.TaskResponse, name="CancelTask")
async def cancel_task(
    taskId: str,
    request: Request,
    caller: Caller = operation("CancelTask", "Storage.File.Write"),
) -> responses.JSON:
    task = await services(request).tasks.cancel(caller, taskId)
    return responses.ok(wire.TaskResponse(task=views.task(task)))


@router.post("/{taskId}/retry", response_model=wire.TaskResponse, name="RetryTask")
async def retry_task(
    taskId: str,
    request: Request,
    caller: Caller = operation("RetryTask", "Storage.File.Write"),
) -> responses.JSON:
    svc = services(request)
    new_id = await svc.dentries.retry_task(caller, taskId)
    task = await svc.tasks.get(caller.principal, caller.operator, str(new_id))
    return responses.ok(wire.TaskResponse(task=views.task(task)))
