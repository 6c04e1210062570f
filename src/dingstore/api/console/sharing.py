"""Sharing: the grants set on a file or folder, and adding, changing and removing them, through
the permission service (MANAGER may manage them; MANAGER and OWNER grants need OWNER)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dingstore import errors
from dingstore.api.console import web
from dingstore.api.routing import services
from dingstore.service import access
from dingstore.service.permissions import MemberInput


@web.page()
async def listing(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    svc = services(request)
    node = await svc.dentries.get(ctx.actor, space_id, dentry_id) if dentry_id != "0" else None
    page = await svc.permissions.list(
        ctx.actor, space_id, dentry_id, role_ids=None, next_token=None, max_results=50
    )
    users = (g.member_id for g in page.items if g.member_type == "USER")
    names = await svc.identity.names(ctx.actor.corp_id, users)
    return web.render(
        request,
        "sharing.html",
        ctx,
        space_id=space_id,
        dentry_id=dentry_id,
        node=node,
        grants=page.items,
        roles=access.ROLE_IDS,
        member_types=access.MEMBER_TYPES,
        names=names,
    )


@web.page(change=True)
async def change(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    form = await web.form(request)
    action = form.get("action")
    member_type = str(form.get("member_type") or "USER")
    member_id = str(form.get("member_id") or "").strip()
    role = str(form.get("role") or "")
    corp_id = ctx.actor.corp_id if member_type in ("DEPT", "TAG") else None
    if member_type == "ORG" and not member_id:
        member_id = ctx.actor.corp_id
    members = [MemberInput(member_type, member_id, corp_id)]
    grants = services(request).permissions
    if action == "add":
        await grants.add(ctx.actor, space_id, dentry_id, role, members, None)
        notice = f"{role} granted to {member_id}."
    elif action == "update":
        await grants.update(ctx.actor, space_id, dentry_id, role, members, None)
        notice = f"{member_id} now holds {role}."
    elif action == "remove":
        await grants.delete(ctx.actor, space_id, dentry_id, role, members)
        notice = f"{role} of {member_id} removed."
    else:
        raise errors.param_error("action", "unknown action")
    return web.redirect(f"/s/{space_id}/share/{dentry_id}", notice=notice)
