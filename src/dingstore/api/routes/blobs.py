"""The data plane: file bytes in and out of the self-served blob stores, at ``/_blobs/{key}``.

Not a DingTalk API, and not in the OpenAPI document: no access token and no unionId — the
signature headers that GetFileUploadInfo, GetMultipartFileUploadInfos and GetFileDownloadInfo
handed out are the credential (``blobs/signing.py``). It answers as OSS, DingTalk's own data
plane, does (spec §6 D): ``SignatureDoesNotMatch`` / ``RequestTimeTooSkewed`` (403), ``NoSuchKey``
/ ``NoSuchUpload`` (404), ``FileAlreadyExists`` (409), ``EntityTooLarge`` / ``IncompleteBody``
(400), ``InvalidRange`` (416), in dingstore's error envelope.

* ``PUT /_blobs/{key}`` stores the body (``?uploadId=…&partNumber=N``: one part of a multipart
  upload), streamed to the store, never whole in memory. 200 means stored, with the body's MD5
  as ``ETag``; any failure — a bad signature, a body over the limit or the size signed into the
  URL, a body shorter or longer than its ``Content-Length``, a client gone — stores nothing. A
  single PUT only creates its key: once bytes are stored there, its URL is refused (409), so a
  replay can never change committed bytes; a part's URL dies with its upload (404).
* ``GET`` (and ``HEAD``, with the GET signature) streams the object, honouring one HTTP
  ``Range`` the OSS way (``parse_range``). From a store of local files, and a server that takes
  the ASGI ``http.response.zerocopysend`` extension (``api/protocol.py``), the kernel sends the
  file (``sendfile``).

A download's ``ETag`` is the one the store recorded (``BaseBlobStore.etag``): the content's MD5,
or S3's ``"<MD5 of the parts' MD5s>-N"`` for an object assembled from parts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator
from typing import BinaryIO

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, Router
from starlette.types import Receive, Scope, Send

from dingstore import errors
from dingstore.api import protocol, responses
from dingstore.api.middleware import request_id_of
from dingstore.api.routing import services
from dingstore.blobs import base, signing

PREFIX = signing.PATH_PREFIX
RANGE_BEHAVIOR = "x-oss-range-behavior"

_RANGE = re.compile(r"\s*(\d{0,19})\s*-\s*(\d{0,19})\s*")

RangeNotSatisfiable = errors.RangeNotSatisfiable


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
            raise errors.INVALID_RANGE.error(f"the object is empty; range {header!r}")
        return max(size - count, 0), size
    start, end = int(first), (int(last) + 1 if last else None)
    if end is not None and end <= start:
        return None
    if start >= size:
        if standard:
            raise errors.INVALID_RANGE.error(f"range {header!r} starts past {size} bytes")
        return None
    if end is not None and end > size:
        if not standard:
            return None
        end = size
    return start, size if end is None else end


def opaque_etag(key: str, size: int) -> str:
    """For an object whose store could not record its MD5: every key is written once, so its
    key and size name it."""
    return '"' + hashlib.sha256(f"{key}\n{size}".encode()).hexdigest()[:32].upper() + '"'


def _authorized(request: Request, method: str) -> tuple[base.BaseBlobStore, str]:
    """The store and the key, once the request's signature holds for ``method``."""
    store = services(request).blobs
    key: str = request.path_params["key"]
    if store.signer is None:
        raise errors.NOT_FOUND.error("this deployment's transfer URLs point elsewhere")
    try:
        store.signer.verify(
            method, PREFIX + key, request.query_params.multi_items(), request.headers
        )
    except signing.SignatureError as exc:
        raise exc.error_code.error(str(exc)) from None
    try:
        return store, base.check_key(key)
    except base.InvalidKey as exc:
        raise errors.INVALID_OBJECT_NAME.error(str(exc)) from None


def _size_param(request: Request, name: str, header: bool = False) -> int | None:
    """A byte count from the ``Content-Length`` header (``header``) or a signed query parameter."""
    text = request.headers.get(name) if header else request.query_params.get(name)
    if text is None:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise errors.INVALID_ARGUMENT.error(f"invalid {name} {text!r}")
    return int(text)


class _Body:
    """The request body as it arrives, never more than ``limit`` bytes (``TooLarge`` past it).
    It raises at the end, so that nothing is stored, when the body turns out longer or shorter
    than ``length`` (its Content-Length, or the size signed in). The store hashes what it
    writes (the ETag), off the event loop."""

    def __init__(self, request: Request, length: int | None, limit: int) -> None:
        self._request, self._length, self._limit = request, length, limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received, length = 0, self._length
        async for chunk in self._request.stream():
            received += len(chunk)
            if received > self._limit:
                raise base.TooLarge(self._limit)
            if length is not None and received > length:
                raise _IncompleteBody(f"more than the declared {length} bytes arrived")
            yield chunk
        if length is not None and received != length:
            raise _IncompleteBody(f"{received} of the declared {length} bytes arrived")


def _too_large(limit: int) -> errors.BadRequest:
    return errors.ENTITY_TOO_LARGE.error(f"the body is larger than {limit} bytes")


def _exists(key: str) -> errors.AlreadyExists:
    # OSS's answer to a write that may not overwrite (``x-oss-forbid-overwrite``).
    return errors.FILE_ALREADY_EXISTS.error(
        f"{key} is already stored; this upload URL takes no more bytes"
    )


def _limits(request: Request, part: bool) -> tuple[int | None, int]:
    """The body's exact length when known (Content-Length, else the size signed into a single
    PUT's URL) and the most bytes it may hold; refused at once when they disagree."""
    settings = request.app.state.settings
    declared = _size_param(request, "content-length", header=True)
    signed = _size_param(request, signing.MAX_SIZE if part else signing.SIZE)
    limit = settings.blob_max_part_size if part else settings.blob_max_object_size
    if signed is not None:
        limit = min(limit, signed)
    if declared is not None and declared > limit:
        raise _too_large(limit)
    if part or signed is None:
        return declared, limit
    if declared is not None and declared != signed:
        raise errors.INCOMPLETE_BODY.error(
            f"the upload declared {signed} bytes; the body holds {declared}"
        )
    return signed, limit


async def put_blob(request: Request) -> Response:
    store, key = _authorized(request, "PUT")
    upload_id, part = request.query_params.get("uploadId"), request.query_params.get("partNumber")
    if (upload_id is None) != (part is None):
        raise errors.INVALID_ARGUMENT.error("uploadId and partNumber go together")
    length, limit = _limits(request, part is not None)
    body = _Body(request, length, limit)
    answer: dict[str, object] = {"key": key}
    try:
        if upload_id is None or part is None:
            # Create-only: a URL replayed after its bytes arrived (and were committed) must not
            # replace them. Checked before reading anything, and again, atomically, on publishing.
            if await store.size(key) is not None:
                raise _exists(key)
            stored = await store.write(key, body, max_size=limit, exclusive=True)
        else:
            valid = part.isascii() and part.isdigit() and len(part) <= 5
            number = base.check_part_number(int(part) if valid else -1)
            stored = await store.write_part(key, upload_id, number, body, max_size=limit)
            answer.update(uploadId=upload_id, partNumber=number)
    except base.TooLarge:
        raise _too_large(limit) from None
    except base.ObjectExists:
        raise _exists(key) from None
    except base.UploadNotFound as exc:
        raise errors.NO_SUCH_UPLOAD.error(str(exc)) from None
    except base.InvalidKey as exc:
        raise errors.INVALID_ARGUMENT.error(str(exc)) from None
    except _IncompleteBody as exc:
        raise errors.INCOMPLETE_BODY.error(str(exc)) from None
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more
    answer["size"] = stored.size
    return responses.JSON(answer, headers={"ETag": stored.etag or opaque_etag(key, stored.size)})


async def _primed(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """``chunks``, its first chunk already read: a missing object is found out while an error
    can still be answered, not half-way through a 200."""
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        first = b""
    except base.NotFound:
        raise errors.NO_SUCH_KEY.error("the specified key does not exist") from None

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
    standard = request.headers.get(RANGE_BEHAVIOR, "").strip().lower() == "standard"
    wanted = request.query_params.get(signing.CONTENT_TYPE)  # signed: a link's (thumbnails)
    if wanted in signing.INLINE_TYPES:
        nosniff = {"X-Content-Type-Options": "nosniff"}
        return await serve(
            request, store, key, standard=standard, media_type=wanted, headers=nosniff
        )
    return await serve(request, store, key, standard=standard)


async def serve(
    request: Request,
    store: base.BaseBlobStore,
    key: str,
    *,
    standard: bool,
    media_type: str = "application/octet-stream",
    headers: dict[str, str] | None = None,
) -> Response:
    """The object under ``key`` (or the range asked for) as a response to ``request``, GET or
    HEAD, with ``headers`` besides its own; the preview page's content is served this way too."""
    size = await store.size(key)
    if size is None:
        raise errors.NO_SUCH_KEY.error("the specified key does not exist")
    try:
        chosen = parse_range(request.headers.get("range"), size, standard=standard)
    except RangeNotSatisfiable as exc:
        response = responses.error(exc, request_id_of(request.scope))
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    start, end = chosen or (0, size)
    headers = {
        **(headers or {}),
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "ETag": await store.etag(key) or opaque_etag(key, size),
    }
    if chosen is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    status = 200 if chosen is None else 206
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=media_type)
    if protocol.ZEROCOPY in request.scope.get("extensions", {}):
        try:
            file = await store.open_file(key)
        except base.NotFound:
            raise errors.NO_SUCH_KEY.error("the specified key does not exist") from None
        if file is not None:
            return _FileResponse(file, start, end - start, status, headers, media_type)
    chunks = await _primed(store.read(key, start, end))
    return StreamingResponse(chunks, status_code=status, headers=headers, media_type=media_type)


class _FileResponse(Response):
    """``count`` bytes of an open ``file`` from ``start``, sent by the server's ``sendfile``;
    the file is closed once they are out (or the client left)."""

    def __init__(
        self,
        file: BinaryIO,
        start: int,
        count: int,
        status_code: int,
        headers: dict[str, str],
        media_type: str,
    ) -> None:
        super().__init__(status_code=status_code, headers=headers, media_type=media_type)
        self.file, self.start, self.count = file, start, count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(
                {
                    "type": "http.response.start",
                    "status": self.status_code,
                    "headers": self.raw_headers,
                }
            )
            await send(
                {
                    "type": protocol.ZEROCOPY,
                    "file": self.file,
                    "offset": self.start,
                    "count": self.count,
                    "more_body": False,
                }
            )
        finally:
            self.file.close()


router = Router(
    routes=[
        Route(PREFIX + "{key:path}", put_blob, methods=["PUT"]),
        Route(PREFIX + "{key:path}", get_blob, methods=["GET", "HEAD"]),
    ]
)
