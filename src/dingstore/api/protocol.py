"""uvicorn's HTTP/1.1 protocol (httptools) with a limit on a request's head.

httptools hands the URL and the headers to uvicorn, which collects them with no limit before the
app sees the request: a 100 MB URL cost the server 200 MB. Here the request line and headers
together may take ``MAX_HEAD`` bytes; past that the parser is stopped where it stands, the client
is answered ``431 RequestHeaderFieldsTooLarge`` in DingTalk's envelope and the connection is
closed. 64 KiB is four times what Node and nginx take by default, and far more than any
request of the API needs (its longest query value, BatchQueryRoles' 50 ids, is ~2 KiB).

It also speaks the ASGI ``http.response.zerocopysend`` extension, which uvicorn does not: the
data plane hands it an open file and a range (``api/routes/blobs.py``), and the bytes go from
the page cache to the socket with ``os.sendfile``, never through Python: a worker thread
sends as much as the socket's buffer takes (a read may wait for the disk), the event loop waits
until it has room again, and so on; on a duplicate of the socket's descriptor, so that a
connection closed meanwhile cannot hand its number to another file. A 100 MB download takes 31
instead of 52 ms of the server's CPU (``bench/README.md``, ``files.py``).
"""

from __future__ import annotations

import asyncio
import functools
import os
from typing import Any

import anyio.to_thread
import orjson
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

from dingstore import errors
from dingstore.api.middleware import new_request_id

MAX_HEAD = 64 * 1024
ZEROCOPY = "http.response.zerocopysend"
# A download whose client takes no bytes for this long is given up (its connection closed).
STALLED_AFTER = 60.0


class HeadTooLarge(Exception):
    """Raised in a parser callback: httptools stops and uvicorn answers (``send_400_response``)."""


class BoundedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` whose requests' heads are at most ``MAX_HEAD`` bytes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = 0
        self._head_too_large = False

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head = 0
        self.scope.setdefault("extensions", {})[ZEROCOPY] = {}

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        super()._start_asgi_task(cycle, functools.partial(_zerocopy_app, app, cycle))

    def _count(self, size: int) -> None:
        self._head += size
        if self._head > MAX_HEAD:
            self._head_too_large = True
            raise HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        body = orjson.dumps(
            {
                "code": errors.REQUEST_HEADER_FIELDS_TOO_LARGE.code,
                "message": f"the request line and headers are larger than {MAX_HEAD} bytes",
                "requestid": new_request_id(),
            }
        )
        self.transport.write(
            b"".join(
                [
                    STATUS_LINE[errors.REQUEST_HEADER_FIELDS_TOO_LARGE.status],
                    b"content-type: application/json\r\n",
                    b"content-length: " + str(len(body)).encode() + b"\r\n",
                    b"connection: close\r\n\r\n",
                    body,
                ]
            )
        )
        self.transport.close()


async def _zerocopy_app(
    app: Any, cycle: RequestResponseCycle, scope: Any, receive: Any, send: Any
) -> None:
    async def send_or_sendfile(message: Any) -> None:
        if message["type"] != ZEROCOPY:
            await send(message)
            return
        await _sendfile(cycle, message["file"], message.get("offset", 0), message["count"])
        # The bytes are out: uvicorn completes the response (keep-alive, the next request).
        cycle.expected_content_length -= message["count"]
        if not message.get("more_body", False):
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    await app(scope, receive, send_or_sendfile)


async def _sendfile(cycle: RequestResponseCycle, file: Any, offset: int, count: int) -> None:
    """``count`` bytes of ``file`` from ``offset`` to the client, after what uvicorn has queued
    (the response's head). A client that leaves or stalls has its connection closed."""
    transport = cycle.transport
    while transport.get_write_buffer_size() and not cycle.disconnected:
        await asyncio.sleep(0.001)  # the head is still queued: rare, and short
    if cycle.disconnected or count == 0:
        return
    sock = os.dup(transport.get_extra_info("socket").fileno())
    sent = 0
    try:
        while sent < count:
            burst, ended = await anyio.to_thread.run_sync(
                _send_burst, sock, file.fileno(), offset + sent, count - sent
            )
            sent += burst
            if ended:  # the file is shorter than promised
                break
            if sent < count:
                await _writable(sock)
    except (OSError, TimeoutError):
        pass
    finally:
        os.close(sock)
    if sent != count:  # gone, stalled, or the file is shorter than promised
        transport.close()
        cycle.disconnected = True


def _send_burst(sock: int, fd: int, offset: int, count: int) -> tuple[int, bool]:
    """On a worker thread (a read may wait for the disk): ``os.sendfile`` until ``count`` bytes
    are sent or the socket's buffer is full. The bytes sent, and whether the file ended."""
    sent = 0
    while sent < count:
        try:
            n = os.sendfile(sock, fd, offset + sent, count - sent)
        except BlockingIOError:
            break
        if n == 0:
            return sent, True
        sent += n
    return sent, False


async def _writable(sock: int) -> None:
    """Until the socket has room again (the event loop waits, not a thread: a slow client must
    not hold one of the worker threads); ``TimeoutError`` after ``STALLED_AFTER``."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(sock, wake)
    try:
        async with asyncio.timeout(STALLED_AFTER):
            await ready
    finally:
        loop.remove_writer(sock)
