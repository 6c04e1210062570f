"""A request's line and headers are at most 64 KiB (``api/protocol.py``): past that the server
answers ``431 RequestHeaderFieldsTooLarge`` in DingTalk's envelope and closes the connection,
without collecting the rest of the head."""

from __future__ import annotations

import contextlib
import json
import socket

from dingstore.api import protocol
from tests.live import LiveServer, http


def exchange(server: LiveServer, head: bytes, stream: int = 0) -> bytes:
    """Send ``head`` (then ``stream`` more bytes of URL, stopping if the server hangs up) and
    read the answer to its end."""
    host, port = server.endpoint.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        with contextlib.suppress(ConnectionError):
            for _ in range(stream // 65536):
                sock.sendall(b"a" * 65536)
        answer = b""
        with contextlib.suppress(ConnectionError):
            while piece := sock.recv(65536):
                answer += piece
    return answer


def refused(body: bytes) -> dict[str, str]:
    """The DingTalk envelope of a 431."""
    envelope: dict[str, str] = json.loads(body)
    assert set(envelope) == {"code", "message", "requestid"}
    assert envelope["code"] == "RequestHeaderFieldsTooLarge" and envelope["requestid"]
    return envelope


def parse(answer: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


def test_a_url_past_the_limit_is_refused_before_it_ends(server: LiveServer) -> None:
    # 8 MB of URL is offered; the server answers once it has seen 64 KiB of it.
    answer = exchange(server, b"GET /v1.0/storage/tasks/", stream=8 * 1024 * 1024)
    status, headers, body = parse(answer)
    assert status == 431
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert str(protocol.MAX_HEAD) in refused(body)["message"]


def test_headers_past_the_limit_are_refused(server: LiveServer) -> None:
    headers = b"".join(b"x-pad-%d: %s\r\n" % (n, b"v" * 1000) for n in range(80))
    answer = exchange(server, b"GET /v1.0/storage/tasks/1 HTTP/1.1\r\nhost: x\r\n" + headers)
    status, _, body = parse(answer)
    assert status == 431
    refused(body)


def test_a_head_within_the_limit_is_served_and_the_server_goes_on(server: LiveServer) -> None:
    url = f"http://{server.endpoint}/v1.0/storage/tasks/1?pad={'a' * 60_000}"
    answer = http.get(url, headers={"x-pad": "v" * 2000})
    assert answer.status_code == 400  # no token: the request reached the app
    assert answer.json()["code"] != "RequestHeaderFieldsTooLarge"
    status, _, _ = parse(exchange(server, b"GET /" + b"a" * (protocol.MAX_HEAD + 1) + b" HTTP/1.1"))
    assert status == 431
    assert http.get(url).status_code == 400  # later connections are served as before
