"""A minimal blocking HTTP/1.1 client for the transfer benchmarks: one keep-alive connection,
bodies with a ``Content-Length`` only (no chunked encoding, no redirects, no TLS).

Why not httpx: on the 2-core benchmark machine an httpx client streaming a 100 MB GET from nginx
into a file moved 650 MB/s, a plain socket 2,200 MB/s; httpx was the bottleneck, and a floor
measured through it says nothing about the server. Here an upload leaves the client as
``socket.sendfile`` (the kernel copies the file), a download arrives with ``recv_into`` a reused
1 MiB buffer and goes to ``sink``, and a small request is one ``sendall``. The floor (nginx) and
dingstore are measured with this same client.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

BUFFER = 1024 * 1024


class HttpError(Exception):
    """The server answered in a way this client does not speak, or closed the connection."""


class _ClosedIdle(Exception):
    """The connection ended before a byte of the answer."""


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, length: int) -> None:
        self.status, self.headers, self.body, self.length = status, headers, body, length

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class Connection:
    """One keep-alive connection to ``base_url``'s host and port. A request on a connection the
    server closed while it sat idle (uvicorn after 5 s) is sent again, once, on a new one: the
    server read none of it."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.default_headers = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        self._sock: socket.socket | None = None
        self._buffer = bytearray(BUFFER)
        self._view = memoryview(self._buffer)
        self._pending = b""  # bytes read past the end of the last response

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _socket(self) -> socket.socket:
        if self._sock is None:
            self._sock = socket.create_connection((self.host, self.port))
            self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._pending = b""
        return self._sock

    def request(
        self,
        method: str,
        target: str,
        *,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        json_body: Any = None,
        upload: tuple[Path, int] | None = None,
        sink: Callable[[memoryview], object] | None = None,
    ) -> Response:
        """Send one request and read its answer. ``upload``: a file and its size, sent as the
        body with ``sendfile``. ``sink``: where the answer's body goes, piece by piece, instead
        of into ``Response.body`` (``Response.length`` counts it either way)."""
        if params:
            target += ("&" if "?" in target else "?") + urlencode(params)
        sent = {**self.default_headers, **(headers or {})}
        if json_body is not None:
            body = json.dumps(json_body).encode()
            sent["Content-Type"] = "application/json"
        if upload is not None:
            sent["Content-Length"] = str(upload[1])
        elif body is not None or method in ("POST", "PUT"):
            sent["Content-Length"] = str(len(body or b""))
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in sent.items())
        message = head.encode() + b"\r\n" + (body or b"")
        reused = self._sock is not None
        try:
            return self._exchange(message, method, upload, sink)
        except (ConnectionError, _ClosedIdle):
            self.close()
            if not reused:
                raise
        try:
            return self._exchange(message, method, upload, sink)
        except _ClosedIdle:
            raise HttpError("the server closed the connection before answering") from None

    def _exchange(
        self,
        message: bytes,
        method: str,
        upload: tuple[Path, int] | None,
        sink: Callable[[memoryview], object] | None,
    ) -> Response:
        sock = self._socket()
        try:
            sock.sendall(message)
            if upload is not None:
                with upload[0].open("rb") as f:
                    sock.sendfile(f, 0, upload[1])
            return self._read_response(sock, method, sink)
        except BaseException:
            self.close()
            raise

    def _read_response(
        self, sock: socket.socket, method: str, sink: Callable[[memoryview], object] | None
    ) -> Response:
        data = self._pending
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                raise _ClosedIdle
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", ""):
            raise HttpError("chunked answers are not supported by this client")
        length = 0 if method == "HEAD" else int(headers.get("content-length", "0"))
        kept = bytearray()
        take = sink if sink is not None else kept.extend
        first = rest[:length]
        if first:
            take(memoryview(first))
        self._pending = rest[length:]
        remaining = length - len(first)
        while remaining > 0:
            n = sock.recv_into(self._view[: min(remaining, BUFFER)])
            if not n:
                raise HttpError("the server closed the connection mid-answer")
            take(self._view[:n])
            remaining -= n
        if headers.get("connection", "").lower() == "close":
            self.close()
        return Response(status, headers, bytes(kept), length)
