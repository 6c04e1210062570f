"""The user's tasks: a page of their recent ones, and their progress live, as server-sent
events read from the task's counts (the same GetTask rules: its creator or an org admin)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from dingstore import errors
from dingstore.api.console import web
from dingstore.api.routing import services
from dingstore.service import models

POLL_S = 0.15  # how often a live stream reads its tasks' counts
LIVE_LIMIT_S = 600.0  # a stream ends after this; EventSource reconnects by itself
DONE = ("SUCCESS", "FAIL")


def as_json(task: models.Task) -> dict[str, object]:
    total = task.total_count
    settled = task.success_count + task.fail_count
    percent = 100 if task.status == "SUCCESS" else (settled * 100 // total if total else 0)
    return {
        "id": str(task.id),
        "status": task.status,
        "total": total,
        "success": task.success_count,
        "fail": task.fail_count,
        "percent": min(percent, 100),
        "message": task.fail_message,
    }


@web.page()
async def recent(request: Request, ctx: web.Ctx) -> Response:
    svc = services(request)
    found = await svc.console.recent_tasks(ctx.actor)
    wanted = [i for i in request.query_params.get("ids", "").split(",") if i]
    known = {str(t.id) for t in found}
    extra = []
    for task_id in wanted:
        if task_id not in known:
            extra.append(await svc.tasks.get(ctx.actor.principal, ctx.user, task_id))
    tasks = [as_json(t) for t in [*extra, *found]]
    return web.render(request, "tasks.html", ctx, tasks=tasks, wanted=wanted)


@web.page()
async def live(request: Request, ctx: web.Ctx) -> Response:
    ids = [i for i in request.query_params.get("ids", "").split(",") if i][:50]
    svc = services(request)
    for task_id in ids:  # refuse at once what GetTask refuses
        await svc.tasks.get(ctx.actor.principal, ctx.user, task_id)

    async def events() -> AsyncIterator[bytes]:
        last: dict[str, dict[str, object]] = {}
        waited = 0.0
        pending = list(ids)
        while pending and waited < LIVE_LIMIT_S:
            for task_id in list(pending):
                try:
                    task = await svc.tasks.get(ctx.actor.principal, ctx.user, task_id)
                except errors.DingstoreError:
                    pending.remove(task_id)
                    continue
                data = as_json(task)
                if last.get(task_id) != data:
                    last[task_id] = data
                    yield f"event: task\ndata: {json.dumps(data)}\n\n".encode()
                if task.status in DONE:
                    pending.remove(task_id)
            if pending:
                await asyncio.sleep(POLL_S)
                waited += POLL_S
        yield b"event: done\ndata: {}\n\n"

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={**web.headers(request), "X-Accel-Buffering": "no"},
    )
