"""uvicorn's HTTP/1.1 protocol (httptools) with a limit on a request's head.

httptools hands the URL and the headers to uvicorn, which collects them with no limit before the
app sees the request: a 100 MB URL cost the server 200 MB. Here the request line and headers
together may take ``MAX_HEAD`` bytes; past that the parser is stopped where it stands, the client
is answered ``431 RequestHeaderFieldsTooLarge`` in DingTalk's envelope and the connection is
closed. 64 KiB is four times what Node and nginx take by default, and far more than any
request of the API needs (its longest query value, BatchQueryRoles' 50 ids, is ~2 KiB).
"""

from __future__ import annotations

from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from dingstore import errors
from dingstore.api.middleware import new_request_id

MAX_HEAD = 64 * 1024


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
