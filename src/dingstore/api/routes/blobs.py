"""The data plane: file bytes in and out of the self-served blob stores, at ``/_blobs/{key}``.

Not a DingTalk API, and not in the OpenAPI document: no access token and no unionId — the
signature headers that GetFileUploadInfo, GetMultipartFileUploadInfos and GetFileDownloadInfo
handed out are the credential (``blobs/signing.py``). It answers as OSS, DingTalk's own data
plane, does (spec §6 D): ``SignatureDoesNotMatch`` / ``RequestTimeTooSkewed`` (403), ``NoSuchKey``
(404), ``EntityTooLarge`` (400), ``InvalidRange`` (416), in dingstore's error envelope.

* ``PUT /_blobs/{key}`` stores the body (``?uploadId=…&partNumber=N``: one part of a multipart
  upload), streamed to the store, never whole in memory. 200 means stored; any failure — a bad
  signature, a body over the limit, a body shorter or longer than its ``Content-Length``, a
  client gone — stores nothing.
* ``GET`` (and ``HEAD``, with the GET signature) streams the object, honouring one HTTP
  ``Range`` the OSS way (``parse_range``).

``ETag`` names an object by its key and size: dingstore writes each key once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, Router

from dingstore import errors
from dingstore.api import responses
from dingstore.api.middleware import request_id_of
from dingstore.blobs import base, signing

PREFIX = signing.PATH_PREFIX
RANGE_BEHAVIOR = "x-oss-range-behavior"

_RANGE = re.compile(r"\s*(\d{0,19})\s*-\s*(\d{0,19})\s*")


class RangeNotSatisfiable(errors.DingstoreError):
    status = 416
    default_code = "InvalidRange"
    default_message = "the requested range cannot be satisfied"


class _IncompleteBody(Exception):
    pass


def parse_range(header: str | None, size: int, *, standard: bool = False) -> tuple[int, int] | None:
    """The byte range ``[start, end)`` to serve for a ``Range`` header, or None for the whole
    object. OSS's rules: only the first of several ranges counts; a range with bad syntax, or
    reaching past the end, is ignored (whole object, 200). With ``standard`` (request header
    ``x-oss-range-behavior: standard``) an end past the end is clamped instead, and a start
    past it raises ``RangeNotSatisfiable`` (416)."""
    if header is None:
        return None
    unit, equals, specs = header.partition("=")
    matched = _RANGE.fullmatch(specs.split(",")[0]) if equals else None
    if unit.strip().lower() != "bytes" or matched is None or matched.group(0).strip() == "-":
        return None
    first, last = matched.group(1), matched.group(2)
    if not first:  # bytes=-n: the last n bytes
        count = int(last)
        if count == 0 or (count > size and not standard):
            return None
        if size == 0:
            raise RangeNotSatisfiable(message=f"the object is empty; range {header!r}")
        return max(size - count, 0), size
    start, end = int(first), (int(last) + 1 if last else None)
    if end is not None and end <= start:
        return None
    if start >= size:
        if standard:
            raise RangeNotSatisfiable(message=f"range {header!r} starts past {size} bytes")
        return None
    if end is not None and end > size:
        if not standard:
            return None
        end = size
    return start, size if end is None else end


def etag(key: str, size: int) -> str:
    return '"' + hashlib.sha256(f"{key}\n{size}".encode()).hexdigest()[:32].upper() + '"'


def _authorized(request: Request, method: str) -> tuple[base.BaseBlobStore, str]:
    """The store and the key, once the request's signature holds for ``method``."""
    store: base.BaseBlobStore = request.app.state.services.blobs
    key: str = request.path_params["key"]
    if store.signer is None:
        raise errors.NotFound("NotFound", "this deployment's transfer URLs point elsewhere")
    try:
        store.signer.verify(
            method, PREFIX + key, request.query_params.multi_items(), request.headers
        )
    except signing.SignatureError as exc:
        raise errors.Forbidden(exc.code, str(exc)) from None
    try:
        return store, base.check_key(key)
    except base.InvalidKey as exc:
        raise errors.BadRequest("InvalidObjectName", str(exc)) from None


def _declared_length(request: Request) -> int | None:
    text = request.headers.get("content-length")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise errors.BadRequest("InvalidArgument", f"invalid Content-Length {text!r}")
    return int(text)


async def _body(request: Request, declared: int | None) -> AsyncIterator[bytes]:
    """The request body as it arrives; raises, so that nothing is stored, when it turns out
    longer or shorter than declared."""
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if declared is not None and received > declared:
            raise _IncompleteBody(f"more than the declared {declared} bytes arrived")
        yield chunk
    if declared is not None and received != declared:
        raise _IncompleteBody(f"{received} of the declared {declared} bytes arrived")


def _too_large(limit: int) -> errors.BadRequest:
    return errors.BadRequest("EntityTooLarge", f"the body is larger than {limit} bytes")


async def put_blob(request: Request) -> Response:
    store, key = _authorized(request, "PUT")
    settings = request.app.state.settings
    upload_id, part = request.query_params.get("uploadId"), request.query_params.get("partNumber")
    if (upload_id is None) != (part is None):
        raise errors.BadRequest("InvalidArgument", "uploadId and partNumber go together")
    limit = settings.blob_max_object_size if part is None else settings.blob_max_part_size
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    body = _body(request, declared)
    answer: dict[str, object] = {"key": key}
    try:
        if upload_id is None or part is None:
            size = await store.write(key, body, max_size=limit)
        else:
            valid = part.isascii() and part.isdigit() and len(part) <= 5
            number = base.check_part_number(int(part) if valid else -1)
            size = await store.write_part(key, upload_id, number, body, max_size=limit)
            answer.update(uploadId=upload_id, partNumber=number)
    except base.TooLarge:
        raise _too_large(limit) from None
    except base.UploadNotFound as exc:
        raise errors.NotFound("NoSuchUpload", str(exc)) from None
    except base.InvalidKey as exc:
        raise errors.BadRequest("InvalidArgument", str(exc)) from None
    except _IncompleteBody as exc:
        raise errors.BadRequest("IncompleteBody", str(exc)) from None
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more
    answer["size"] = size
    return responses.JSON(answer, headers={"ETag": etag(key, size)})


async def _primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks``, its first chunk already read: a missing object is found out while an error
    can still be answered, not half-way through a 200."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except base.NotFound:
        raise errors.NotFound("NoSuchKey", "the specified key does not exist") from None

    async def rest() -> AsyncIterator[bytes]:
        try:
            if first:
                yield first
            async for chunk in chunks:
                yield chunk
        finally:  # close the store's reader (its file) even when the client left early
            close = getattr(chunks, "aclose", None)
            if close is not None:
                await close()

    return rest()


async def get_blob(request: Request) -> Response:
    store, key = _authorized(request, "GET")
    size = await store.size(key)
    if size is None:
        raise errors.NotFound("NoSuchKey", "the specified key does not exist")
    standard = request.headers.get(RANGE_BEHAVIOR, "").strip().lower() == "standard"
    try:
        chosen = parse_range(request.headers.get("range"), size, standard=standard)
    except RangeNotSatisfiable as exc:
        response = responses.error(exc, request_id_of(request.scope))
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    start, end = chosen or (0, size)
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "ETag": etag(key, size),
    }
    if chosen is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    status = 200 if chosen is None else 206
    media_type = "application/octet-stream"
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    chunks = await _primed(store.read(key, start, end))
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type)


router = Router(
    routes=[
        Route(PREFIX + "{key:path}", put_blob, methods=["PUT"]),
        Route(PREFIX + "{key:path}", get_blob, methods=["GET", "HEAD"]),
    ]
)
