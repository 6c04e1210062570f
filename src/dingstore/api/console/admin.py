"""The admin pages, for the org's admins (``service/org_admin.py`` checks): users and their
departments and tags, apps (create — the secret shown once —, disable, scopes, a new secret,
the push callback) and each app's event delivery log."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dingstore import errors
from dingstore.api.console import web
from dingstore.api.routing import services
from dingstore.service import scopes
from dingstore.service.events.callbacks import CallbackRefused

GROUP_KINDS = ("DEPT", "TAG")


@web.page()
async def overview(request: Request, ctx: web.Ctx) -> Response:
    admin = services(request).org_admin
    return web.render(
        request,
        "admin.html",
        ctx,
        users=await admin.users(ctx.actor),
        groups=await admin.groups(ctx.actor),
        apps=await admin.apps(ctx.actor),
        all_scopes=scopes.ALL,
        group_kinds=GROUP_KINDS,
    )


@web.page(change=True)
async def users(request: Request, ctx: web.Ctx) -> Response:
    form = await web.form(request)
    made = await services(request).org_admin.create_user(
        ctx.actor, form.get("name", ""), admin=form.get("admin") == "on"
    )
    return web.redirect("/admin", notice=f"User {made.name} created: {made.union_id}.")


@web.page(change=True)
async def user_link(request: Request, ctx: web.Ctx) -> Response:
    """A sign-in link for one of the org's users, shown once."""
    svc = services(request)
    union_id = request.path_params["union"]
    known = {u.union_id: u for u in await svc.org_admin.users(ctx.actor)}
    if union_id not in known:
        raise errors.USER_NOT_EXIST.error(f"no user {union_id} in this organization")
    token = await svc.console.link(union_id, ctx.actor.corp_id)
    link = f"{request.app.state.settings.resolved_public_url}/console/signin/{token}"
    return web.render(
        request,
        "shown_once.html",
        ctx,
        title="Sign-in link",
        user=known[union_id],
        link=link,
        secret=None,
    )


@web.page(change=True)
async def groups(request: Request, ctx: web.Ctx) -> Response:
    form = await web.form(request)
    admin = services(request).org_admin
    kind, group, user = form.get("kind", ""), form.get("group", "").strip(), form.get("user", "")
    if form.get("action") == "remove":
        await admin.remove_from_group(ctx.actor, kind, group, user)
        return web.redirect("/admin", notice=f"{user} left {kind} {group}.")
    await admin.add_to_group(ctx.actor, kind, group, user)
    return web.redirect("/admin", notice=f"{user} joined {kind} {group}.")


def _scopes(form: web.ImmutableMultiDict[str, str]) -> tuple[str, ...]:
    return tuple(s for s in form.getlist("scope") if s in scopes.ALL)


@web.page(change=True)
async def create_app(request: Request, ctx: web.Ctx) -> Response:
    form = await web.form(request)
    made = await services(request).org_admin.create_app(
        ctx.actor, form.get("name", ""), _scopes(form)
    )
    return web.render(
        request,
        "shown_once.html",
        ctx,
        title=f"App {made.app.name} created",
        user=None,
        link=None,
        secret=made,
    )


@web.page()
async def app(request: Request, ctx: web.Ctx) -> Response:
    admin = services(request).org_admin
    app_id = request.path_params["app"]
    found = await admin.app(ctx.actor, app_id)
    return web.render(
        request,
        "app.html",
        ctx,
        app=found,
        all_scopes=scopes.ALL,
        callback=await admin.callback(ctx.actor, app_id),
        deliveries=await admin.deliveries(ctx.actor, app_id),
    )


@web.page(change=True)
async def change_app(request: Request, ctx: web.Ctx) -> Response:
    admin = services(request).org_admin
    app_id = request.path_params["app"]
    form = await web.form(request)
    action = form.get("action")
    here = f"/admin/apps/{app_id}"
    if action in ("disable", "enable"):
        await admin.disable_app(ctx.actor, app_id, disabled=action == "disable")
        return web.redirect(here, notice=f"The app is {action}d.")
    if action == "rotate":
        made = await admin.rotate_secret(ctx.actor, app_id)
        return web.render(
            request,
            "shown_once.html",
            ctx,
            title=f"New secret of {made.app.name}",
            user=None,
            link=None,
            secret=made,
        )
    if action == "scopes":
        await admin.set_scopes(ctx.actor, app_id, _scopes(form))
        return web.redirect(here, notice="Scopes saved; the app's tokens were revoked.")
    if action == "callback":
        try:
            await admin.set_callback(
                ctx.actor,
                app_id,
                url=form.get("url", "").strip(),
                token=form.get("token", ""),
                aes_key=form.get("aes_key", "").strip(),
            )
        except CallbackRefused as exc:
            return web.redirect(here, notice=f"Not saved: {exc}")
        return web.redirect(here, notice="Callback saved: the app's events are pushed to it.")
    if action == "clear-callback":
        await admin.clear_callback(ctx.actor, app_id)
        return web.redirect(here, notice="Callback removed: the app's events wait for Stream mode.")
    raise errors.param_error("action", "unknown action")
