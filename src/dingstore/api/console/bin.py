"""The org's recycle bin, with the API's rules: list (what the user may read), restore, purge,
clear (what the user may purge)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dingstore import errors
from dingstore.api.console import web
from dingstore.api.routing import services


async def _bin_id(request: Request, ctx: web.Ctx) -> str:
    found = await services(request).recycle.bin(ctx.actor, "ORG", ctx.actor.corp_id)
    return found.id


@web.page()
async def listing(request: Request, ctx: web.Ctx) -> Response:
    recycle = services(request).recycle
    page = await recycle.list(
        ctx.actor,
        await _bin_id(request, ctx),
        next_token=request.query_params.get("after") or None,
        max_results=50,
    )
    return web.render(request, "bin.html", ctx, items=page.items, next_token=page.next_token)


@web.page(change=True)
async def act(request: Request, ctx: web.Ctx) -> Response:
    form = await web.form(request)
    ids = [v for v in form.getlist("id") if isinstance(v, str) and v]
    action = form.get("action")
    recycle = services(request).recycle
    bin_id = await _bin_id(request, ctx)
    if action == "clear":
        await recycle.clear(ctx.actor, bin_id)
        return web.redirect("/bin", notice="The recycle bin was emptied of what you may purge.")
    if not ids:
        return web.redirect("/bin", notice="Select something first.")
    if action == "restore":
        tasks = []
        for item_id in ids:
            restored = await recycle.restore(ctx.actor, bin_id, item_id, "AUTO_RENAME")
            if restored.task_id is not None:
                tasks.append(str(restored.task_id))
        if tasks:
            return web.navigate(request, "/tasks", ids=",".join(tasks))
        return web.redirect("/bin", notice=f"{len(ids)} item(s) restored.")
    if action == "purge":
        await recycle.delete_many(ctx.actor, bin_id, ids)
        return web.redirect("/bin", notice=f"{len(ids)} item(s) deleted permanently.")
    raise errors.param_error("action", "unknown action")
