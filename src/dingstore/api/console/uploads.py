"""The browser's uploads: the console asks the file service for transfer targets (the signed
data plane the SDKs use: ``/_blobs/`` URLs, or S3's pre-signed URLs), the browser PUTs the bytes
there itself, and the console commits the upload. A file of a dropped folder names its relative
path; the folders on that path are made as needed (or found)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from dingstore import errors
from dingstore.api.console import web
from dingstore.api.routing import services
from dingstore.service import files

MULTIPART_OVER = 128 * 1024 * 1024  # bytes; a larger file goes in parts
PART_SIZE = 16 * 1024 * 1024
PARTS_PER_CALL = 30


async def _body(request: Request) -> dict[str, Any]:
    try:
        found = await request.json()
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise errors.PARAM_ERROR.error("the body must be a JSON object")
    return found


def _ok(request: Request, data: dict[str, Any]) -> Response:
    return JSONResponse(data, headers=web.headers(request))


@web.page(change=True, json=True)
async def start(request: Request, ctx: web.Ctx) -> Response:
    space_id = request.path_params["space"]
    body = await _body(request)
    size = body.get("size")
    if not isinstance(size, int) or size < 0:
        raise errors.param_error("size", "size must be a number of bytes")
    path = [p for p in str(body.get("path") or "").split("/") if p]
    if not path:
        raise errors.param_error("path", "path must name the file")
    svc = services(request)
    parent = str(body.get("parentId") or "0")
    for folder_name in path[:-1]:
        made = await svc.dentries.add_folder(
            ctx.actor, space_id, parent, folder_name, "RETURN_DENTRY_IF_EXISTS", ()
        )
        parent = str(made.id)
    name = path[-1]
    check = files.PreCheck(size=size, parent_id=parent, name=name)
    multipart = size > MULTIPART_OVER
    info = await svc.files.upload_info(
        ctx.actor,
        space_id,
        protocol="HEADER_SIGNATURE",
        multipart=multipart,
        storage_driver=None,
        check=check,
    )
    answer: dict[str, Any] = {"uploadKey": info.upload_key, "parentId": parent, "name": name}
    if info.transfer is not None:
        answer["url"], answer["headers"] = info.transfer.url, info.transfer.headers
        return _ok(request, answer)
    count = max(1, -(-size // PART_SIZE))
    parts = []
    for first in range(1, count + 1, PARTS_PER_CALL):
        numbers = list(range(first, min(count, first + PARTS_PER_CALL - 1) + 1))
        for number, target in await svc.files.part_infos(ctx.actor, info.upload_key, numbers):
            parts.append({"number": number, "url": target.url, "headers": target.headers})
    answer["partSize"], answer["parts"] = PART_SIZE, parts
    return _ok(request, answer)


@web.page(change=True, json=True)
async def commit(request: Request, ctx: web.Ctx) -> Response:
    space_id = request.path_params["space"]
    body = await _body(request)
    done = await services(request).files.commit(
        ctx.actor,
        space_id,
        files.Commit(
            upload_key=str(body.get("uploadKey") or ""),
            name=str(body.get("name") or ""),
            parent_id=str(body.get("parentId") or "0"),
            size=body.get("size") if isinstance(body.get("size"), int) else None,
            conflict_strategy="AUTO_RENAME",
        ),
    )
    return _ok(request, {"id": str(done.id), "name": done.name})
