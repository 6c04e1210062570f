"""The WOPI host endpoints, called by the office server with the access token GetWebOfficeUrl
handed out (``?access_token=``, or ``Authorization: Bearer``). Not a DingTalk API, and not in
the OpenAPI document. The office server finds them through the ``WOPISrc`` of the editor URL,
``DINGSTORE_WOPI_HOST_URL/wopi/files/{fileId}``:

* ``GET  /wopi/files/{fileId}``           CheckFileInfo
* ``GET  /wopi/files/{fileId}/contents``  GetFile
* ``POST /wopi/files/{fileId}/contents``  PutFile (``X-WOPI-Override: PUT``)
* ``POST /wopi/files/{fileId}``           ``X-WOPI-Override``: ``LOCK`` (with ``X-WOPI-OldLock``:
  UnlockAndRelock), ``GET_LOCK``, ``REFRESH_LOCK``, ``UNLOCK``; any other (PutRelativeFile,
  RenameFile, DeleteFile, ...) answers 501.

And for browsers, ``GET /wopi/host?src=…#access_token=…``: the page that opens an editor
(``api/wopi_page.py``).

Failures answer with WOPI's statuses (401 token, 404 file or user, 409 lock, 413, 501) in
dingstore's error envelope; a 409 names the file's lock in ``X-WOPI-Lock``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, Router

from dingstore import errors
from dingstore.api import responses, wopi_page
from dingstore.api.middleware import request_id_of
from dingstore.api.routing import services
from dingstore.clock import iso
from dingstore.service.weboffice import host

PREFIX = "/wopi/"
LOCK_HEADER = "X-WOPI-Lock"
VERSION_HEADER = "X-WOPI-ItemVersion"

Endpoint = Callable[[Request], Awaitable[Response]]


def _answers_locks(endpoint: Endpoint) -> Endpoint:
    """The endpoint, its 409 carrying the file's lock in ``X-WOPI-Lock``."""

    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except errors.LockMismatch as exc:
            response = responses.error(exc, request_id_of(request.scope))
            response.headers[LOCK_HEADER] = exc.lock
            return response

    return run


async def _caller(request: Request) -> host.Caller:
    token = request.query_params.get("access_token")
    if token is None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        token = value.strip() if scheme.lower() == "bearer" else None
    # The URL the office server signed its proof over: the one it called, under WOPISrc's base.
    query = request.scope.get("query_string", b"").decode("latin-1")
    base = request.app.state.settings.resolved_wopi_host_url
    url = base + request.url.path + (f"?{query}" if query else "")
    return await services(request).wopi.admit(
        request.path_params["fileId"], token, url, request.headers
    )


async def check_file_info(request: Request) -> Response:
    info = await services(request).wopi.file_info(await _caller(request))
    body: dict[str, object] = {
        "BaseFileName": info.name,
        "Size": info.size,
        "Version": str(info.version),
        "OwnerId": info.owner_id,
        "UserId": info.user_id,
        "UserFriendlyName": info.user_name,
        "UserCanWrite": info.can_write,
        "ReadOnly": not info.can_write,
        "UserCanNotWriteRelative": True,
        "UserCanRename": False,
        "SupportsLocks": True,
        "SupportsGetLock": True,
        "SupportsExtendedLockLength": True,
        "SupportsUpdate": True,
        "SupportsRename": False,
        "LastModifiedTime": iso(info.modified_at),
    }
    if not info.can_download:  # a READER sees the file, and takes no copy of it away
        for name in ("DisablePrint", "DisableExport", "DisableCopy"):
            body[name] = True
        for name in ("HidePrintOption", "HideSaveOption", "HideExportOption"):
            body[name] = True
    return responses.JSON(body)


async def get_file(request: Request) -> Response:
    content = await services(request).wopi.contents(await _caller(request))
    headers = {VERSION_HEADER: str(content.version), "Content-Length": str(content.size)}
    return StreamingResponse(content.chunks, headers=headers, media_type="application/octet-stream")


@_answers_locks
async def put_file(request: Request) -> Response:
    override = request.headers.get("x-wopi-override", "").upper()
    if override != "PUT":
        raise errors.WOPI_NOT_IMPLEMENTED.error(f"X-WOPI-Override {override!r} on contents")
    caller = await _caller(request)
    wopi = services(request).wopi
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > wopi.max_size:
        raise errors.REQUEST_ENTITY_TOO_LARGE.error(
            f"a file saved here holds at most {wopi.max_size} bytes"
        )
    try:
        version = await wopi.save(caller, request.headers.get(LOCK_HEADER), request.stream())
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more; nothing was saved
    return Response(status_code=200, headers={VERSION_HEADER: str(version)})


@_answers_locks
async def lock_operation(request: Request) -> Response:
    override = request.headers.get("x-wopi-override", "").upper()
    if override not in (host.LOCK, host.GET_LOCK, host.REFRESH_LOCK, host.UNLOCK):
        raise errors.WOPI_NOT_IMPLEMENTED.error(f"X-WOPI-Override {override!r} is not supported")
    caller = await _caller(request)
    held = await services(request).wopi.lock(
        caller,
        override,
        request.headers.get(LOCK_HEADER),
        request.headers.get("x-wopi-oldlock"),
    )
    headers = {LOCK_HEADER: held} if override == host.GET_LOCK else {}
    return Response(status_code=200, headers=headers)


async def host_page(request: Request) -> Response:
    src = request.query_params.get("src", "")
    origin = await services(request).weboffice.host_origin(src)
    return wopi_page.render(src, origin)


# Named for the access log's ``operation`` (the path holds only the file id, never the token).
router = Router(
    routes=[
        Route(
            PREFIX + "files/{fileId}", check_file_info, methods=["GET"], name="WOPI.CheckFileInfo"
        ),
        Route(PREFIX + "files/{fileId}", lock_operation, methods=["POST"], name="WOPI.Lock"),
        Route(PREFIX + "files/{fileId}/contents", get_file, methods=["GET"], name="WOPI.GetFile"),
        Route(PREFIX + "files/{fileId}/contents", put_file, methods=["POST"], name="WOPI.PutFile"),
        Route(PREFIX + "host", host_page, methods=["GET"], name="WOPI.HostPage"),
    ]
)
