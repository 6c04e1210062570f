"""Spaces, folders and files: listing (paged by the same keyset as ListDentries), new folder,
rename, copy and move through a folder picker, delete, download, preview and versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dingstore import errors
from dingstore.api.console import web
from dingstore.api.routes import blobs
from dingstore.api.routing import services
from dingstore.service import models

ORDERS = {"NAME": "Name", "MODIFIED_TIME": "Modified", "SIZE": "Size", "CREATE_TIME": "Created"}


def _form_ids(form: Any) -> list[str]:
    return [v for v in form.getlist("id") if isinstance(v, str) and v]


@dataclass(frozen=True, slots=True)
class Closed:
    """In a trail, a folder above the user's reach: its name (the path GetDentry shows), no
    link."""

    name: str


async def _trail(request: Request, ctx: web.Ctx, space_id: str, folder_id: str) -> list[Any]:
    """The folder and its ancestors, root first (breadcrumbs). A user granted a folder deep in a
    space may not open the folders above it: the walk stops there, and those folders are named
    from the path, as ``Closed`` crumbs."""
    trail: list[Any] = []
    dentries = services(request).dentries
    current = folder_id
    while current != "0" and len(trail) < 64:
        try:
            node = await dentries.get(ctx.actor, space_id, current)
        except errors.Forbidden:
            if not trail:
                raise  # the folder itself: the page says so
            above = trail[-1].path.strip("/").split("/")[:-1]  # the highest one it may open
            trail += [Closed(name) for name in reversed(above)]
            break
        trail.append(node)
        current = str(node.parent_id)
    return list(reversed(trail))


async def _space_name(request: Request, ctx: web.Ctx, space_id: str) -> str:
    """The space's name (GetSpace answers whoever holds a role anywhere in it)."""
    space = await services(request).spaces.get(ctx.actor, space_id)
    return space.name or f"Space {space.id}"


@web.page()
async def spaces(request: Request, ctx: web.Ctx) -> Response:
    svc = services(request)
    found = await svc.console.spaces(ctx.actor)
    owners = (s.owner_id for s in found if s.owner_type == "USER")
    names = await svc.identity.names(ctx.actor.corp_id, owners)
    return web.render(request, "spaces.html", ctx, spaces=found, names=names)


@web.page()
async def folder(request: Request, ctx: web.Ctx) -> Response:
    space_id = request.path_params["space"]
    folder_id = request.path_params["folder"]
    q = request.query_params
    order_by = q.get("sort", "NAME") if q.get("sort") in ORDERS else "NAME"
    order = "DESC" if q.get("dir") == "DESC" else "ASC"
    view = "grid" if q.get("view") == "grid" else "list"
    svc = services(request)
    page = await _listing(request, ctx, space_id, folder_id, q.get("after"), order_by, order)
    if isinstance(page, list):
        return await _shared_here(request, ctx, space_id, page)
    thumbs = {}
    if view == "grid":
        thumbs = await svc.thumbnails.of_dentries(ctx.actor, page.items)
    trail = await _trail(request, ctx, space_id, folder_id)
    return web.render(
        request,
        "folder.html",
        ctx,
        space_id=space_id,
        space_name=await _space_name(request, ctx, space_id),
        folder_id=folder_id,
        trail=trail,
        items=page.items,
        next_token=page.next_token,
        paged=bool(q.get("after")),
        sort=order_by,
        dir=order,
        view=view,
        orders=ORDERS,
        thumbs=thumbs,
    )


async def _listing(
    request: Request,
    ctx: web.Ctx,
    space_id: str,
    folder_id: str,
    after: str | None,
    order_by: str,
    order: str,
) -> models.Page | list[int]:
    """A page of the folder (50 entries); at the root of a space the user may not open, the
    ids of what was shared with them there instead (nothing shared: the refusal stands)."""
    svc = services(request)
    try:
        return await svc.dentries.list(
            ctx.actor,
            space_id,
            folder_id,
            next_token=after or None,
            max_results=50,
            order_by=order_by,
            order=order,
        )
    except errors.Forbidden:
        shared = await svc.console.shared_in(ctx.actor, int(space_id)) if folder_id == "0" else []
        if not shared:
            raise
        return shared


async def _read_shared(
    request: Request, ctx: web.Ctx, space_id: str, node_ids: list[int]
) -> list[models.Dentry]:
    """The nodes shared with the user in a space (``ConsoleService.shared_in``), read with
    their rights; those gone since are left out."""
    svc = services(request)
    shared = []
    for start in range(0, len(node_ids), 30):  # GetDentries' batch: one read for 30 nodes
        batch = [str(n) for n in node_ids[start : start + 30]]
        found = await svc.dentries.get_many(ctx.actor, space_id, batch)
        shared += [item.dentry for item in found if item.dentry is not None]
    return shared


async def _shared_here(
    request: Request, ctx: web.Ctx, space_id: str, node_ids: list[int]
) -> Response:
    """A space the user holds grants in (``node_ids``) but may not open at its root: what was
    shared with them there, each to open."""
    return web.render(
        request,
        "shared.html",
        ctx,
        space_id=space_id,
        space_name=await _space_name(request, ctx, space_id),
        items=await _read_shared(request, ctx, space_id, node_ids),
    )


@web.page(change=True)
async def new_folder(request: Request, ctx: web.Ctx) -> Response:
    space_id, folder_id = request.path_params["space"], request.path_params["folder"]
    form = await web.form(request)
    name = str(form.get("name") or "").strip()
    made = await services(request).dentries.add_folder(
        ctx.actor, space_id, folder_id, name, "RETURN_ERROR_IF_EXISTS", ()
    )
    return web.redirect(f"/s/{space_id}/f/{folder_id}", notice=f"Folder “{made.name}” created.")


@web.page(change=True)
async def act(request: Request, ctx: web.Ctx) -> Response:
    """The selection's actions: delete to the bin, or for good."""
    space_id, folder_id = request.path_params["space"], request.path_params["folder"]
    form = await web.form(request)
    ids = _form_ids(form)
    action = form.get("action")
    if not ids:
        return web.redirect(f"/s/{space_id}/f/{folder_id}", notice="Select something first.")
    if action not in ("delete", "purge"):
        raise errors.param_error("action", "unknown action")
    tasks = []
    for dentry_id in ids:
        done = await services(request).dentries.delete(
            ctx.actor, space_id, dentry_id, to_recycle_bin=action == "delete"
        )
        if done.task_id is not None:
            tasks.append(str(done.task_id))
    if tasks:
        return web.redirect("/tasks", ids=",".join(tasks))
    what = "moved to the recycle bin" if action == "delete" else "deleted permanently"
    return web.redirect(f"/s/{space_id}/f/{folder_id}", notice=f"{len(ids)} item(s) {what}.")


@web.page()
async def pick(request: Request, ctx: web.Ctx) -> Response:
    """The folder picker of a copy or move: browse to a folder (any space the user sees) and
    copy or move the selection there. In a space the user may not open at its root, it lists
    the folders shared with them there instead, to open and pick."""
    q = request.query_params
    action = "move" if q.get("action") == "move" else "copy"
    ids = [i for i in q.getlist("id") if i]
    source = q.get("from", "")
    space_id = q.get("s") or source
    folder_id = q.get("f") or "0"
    svc = services(request)
    if not ids:
        return web.redirect(f"/s/{source}/f/0", notice="Select something first.")
    all_spaces = await svc.console.spaces(ctx.actor)
    page = await _listing(request, ctx, space_id, folder_id, q.get("after"), "NAME", "ASC")
    closed = isinstance(page, list)  # the space's root, which the user may not open
    if isinstance(page, list):
        listed, next_token, trail = await _read_shared(request, ctx, space_id, page), None, []
    else:
        listed, next_token = page.items, page.next_token
        trail = await _trail(request, ctx, space_id, folder_id)
    folders = [d for d in listed if d.type == "FOLDER" and str(d.id) not in ids]
    return web.render(
        request,
        "pick.html",
        ctx,
        action=action,
        ids=ids,
        source=source,
        space_id=space_id,
        folder_id=folder_id,
        spaces=all_spaces,
        space_name=next((x.name for x in all_spaces if str(x.id) == space_id), None)
        or f"Space {space_id}",
        folders=folders,
        trail=trail,
        next_token=next_token,
        closed=closed,
    )


@web.page(change=True)
async def copy_move(request: Request, ctx: web.Ctx) -> Response:
    form = await web.form(request)
    ids = _form_ids(form)
    source = str(form.get("from") or "")
    target_space = str(form.get("s") or "")
    target_folder = str(form.get("f") or "0")
    move = form.get("action") == "move"
    dentries = services(request).dentries
    tasks = []
    for dentry_id in ids:
        if move:
            done = await dentries.move(
                ctx.actor, source, dentry_id, target_space, target_folder, "AUTO_RENAME"
            )
        else:
            done = await dentries.copy(
                ctx.actor, source, dentry_id, target_space, target_folder, "AUTO_RENAME"
            )
        if done.task_id is not None:
            tasks.append(str(done.task_id))
    if tasks:
        return web.redirect("/tasks", ids=",".join(tasks))
    verb = "moved" if move else "copied"
    return web.redirect(
        f"/s/{target_space}/f/{target_folder}", notice=f"{len(ids)} item(s) {verb}."
    )


@web.page()
async def dentry(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    svc = services(request)
    node = await svc.dentries.get(ctx.actor, space_id, dentry_id)
    versions: list[models.Dentry] = []
    if node.type == "FILE":
        versions = (
            await svc.versions.list(ctx.actor, space_id, dentry_id, next_token=None, max_results=50)
        ).items
    trail = await _trail(request, ctx, space_id, str(node.parent_id))
    names = await svc.identity.names(ctx.actor.corp_id, (node.creator_id, node.modifier_id))
    return web.render(
        request,
        "dentry.html",
        ctx,
        space_id=space_id,
        space_name=await _space_name(request, ctx, space_id),
        node=node,
        versions=versions,
        trail=trail,
        names=names,
    )


@web.page(change=True)
async def rename(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    form = await web.form(request)
    node = await services(request).dentries.rename(
        ctx.actor, space_id, dentry_id, str(form.get("name") or "").strip()
    )
    return web.redirect(f"/s/{space_id}/d/{dentry_id}", notice=f"Renamed to “{node.name}”.")


@web.page()
async def download(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    version = request.query_params.get("version")
    svc = services(request)
    source = await svc.files.download_source(
        ctx.actor, space_id, dentry_id, int(version) if version and version.isdigit() else None
    )
    return await blobs.serve(
        request,
        svc.blobs,
        source.key,
        standard=True,
        headers={
            **web.headers(request),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(source.name, safe='')}",
        },
    )


@web.page()
async def preview(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    info = await services(request).previews.open_info(ctx.actor, space_id, dentry_id)
    return RedirectResponse(info.url, status_code=303)


@web.page(change=True)
async def revert(request: Request, ctx: web.Ctx) -> Response:
    space_id, dentry_id = request.path_params["space"], request.path_params["dentry"]
    version = int(request.path_params["version"])
    await services(request).versions.revert(ctx.actor, space_id, dentry_id, version)
    return web.redirect(f"/s/{space_id}/d/{dentry_id}", notice=f"Reverted to version {version}.")
