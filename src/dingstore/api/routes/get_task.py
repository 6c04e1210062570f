"""Tasks (spec §6 E.22), with dingstore's optional long-poll (docs/tasks.md#long-poll)."""

from __future__ import annotations

from fastapi import Request

from dingstore import errors
from dingstore.api import responses, views
from dingstore.api.routing import Caller, api_router, operation, query_value, services
from dingstore.api.wire import batch as wire

router = api_router("/v1.0/storage", tags=["tasks"])

# ``waitSeconds`` is read by hand, not through a query model: GetTask is the hottest call of
# a client following a task (bench/get_task.py), and the SDK never sends it.
WAIT_SECONDS = {
    "parameters": [
        {
            "name": "waitSeconds",
            "in": "query",
            "required": False,
            "description": (
                "dingstore extension (docs/tasks.md#long-poll): answer as soon as the task has "
                "ended, or after this many seconds (0 to 60, fractions allowed)"
            ),
            "schema": {"type": "number", "minimum": 0, "maximum": 60},
        }
    ]
}


def wait_seconds(request: Request) -> float | None:
    """The ``waitSeconds`` query parameter: a number, or 400 ``paramError.waitSeconds``."""
    text = query_value(request, "waitSeconds")
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise errors.param_error("waitSeconds", "waitSeconds must be a number") from None
    if value != value:  # NaN
        raise errors.param_error("waitSeconds", "waitSeconds must be a number")
    return value


@router.get(
    "/tasks/{taskId}",
    response_model=wire.GetTaskResponse,
    name="GetTask",
    openapi_extra=WAIT_SECONDS,
)
async def get_task(
    taskId: str,
    request: Request,
    caller: Caller = operation("GetTask", "Storage.Task.Read"),
) -> responses.JSON:
    task = await services(request).tasks.get(
        caller.principal, caller.operator, taskId, wait_seconds=wait_seconds(request)
    )
    return responses.ok(wire.GetTaskResponse(task=views.task(task)))
