"""An office server played by the tests (no Collabora or OnlyOffice can be installed here): it
serves a WOPI discovery document over HTTP from a thread, and calls dingstore's WOPI endpoints
as Collabora does, each call signed with its RSA proof key (``X-WOPI-Proof``).

    with Office() as office:
        server = make_server(wopi_discovery_url=office.discovery_url)
        ...
        office.call("GET", wopi_src, token)                       # CheckFileInfo
        office.call("POST", wopi_src, token, override="LOCK", lock="L1")
"""

from __future__ import annotations

import base64
import http.server
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, quote

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.live import http as client

ORIGIN = "https://office.test"
EDIT = ORIGIN + "/browser/dist/cool.html?"
VIEW = ORIGIN + "/browser/dist/cool.html?permission=readonly&"
PDF = ORIGIN + "/pdf/view.aspx?<ui=UI_LLCC&><rs=DC_LLCC&>"
ODT = ORIGIN + "/odt/edit?"


def _b64(number: int) -> str:
    return base64.b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def discovery_xml(key: rsa.RSAPrivateKey | None, live: str = "http://127.0.0.1:9") -> bytes:
    """The discovery: Collabora-like actions at ``ORIGIN`` (never reached), and an ``ods`` editor
    at ``live``, the test's office server itself (a browser posts to it)."""
    numbers = key.public_key().public_numbers() if key is not None else None
    proof = (
        ""
        if numbers is None
        else f'<proof-key value="x" modulus="{_b64(numbers.n)}" exponent="{_b64(numbers.e)}"/>'
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<wopi-discovery>
  <net-zone name="internal-http">
    <app name="writer"><action name="edit" ext="docx" urlsrc="{ORIGIN}/internal?"/></app>
  </net-zone>
  <net-zone name="external-http">
    <app name="writer" favIconUrl="{ORIGIN}/favicon.ico">
      <action default="true" ext="docx" name="edit" urlsrc="{_escape(EDIT)}"/>
      <action ext="docx" name="view" urlsrc="{_escape(VIEW)}"/>
    </app>
    <app name="pdf"><action ext="pdf" name="view" urlsrc="{_escape(PDF)}"/></app>
    <app name="calc"><action ext="ods" name="edit" urlsrc="{live}/editor?"/></app>
    <app name="application/vnd.oasis.opendocument.text">
      <action ext="" name="edit" urlsrc="{_escape(ODT)}"/>
    </app>
  </net-zone>
  {proof}
</wopi-discovery>""".encode()


def dotnet_ticks(ms: int) -> int:
    return 621_355_968_000_000_000 + ms * 10_000


def proof_of(key: rsa.RSAPrivateKey, token: str, url: str, ticks: int) -> str:
    """X-WOPI-Proof, as the WOPI docs define it (written here again, not taken from dingstore)."""
    t, u = token.encode(), url.upper().encode()
    signed = (
        len(t).to_bytes(4, "big") + t + len(u).to_bytes(4, "big") + u
        + (8).to_bytes(4, "big") + ticks.to_bytes(8, "big")
    )  # fmt: skip
    return base64.b64encode(key.sign(signed, padding.PKCS1v15(), hashes.SHA256())).decode()


class Office:
    """The discovery server and the WOPI client. ``now_ms`` is the time the office stamps its
    proofs with (the dingstore server's clock)."""

    def __init__(self, now_ms: Callable[[], int], *, proof_key: bool = True) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.now_ms = now_ms
        self.fetches = 0
        self.posted: list[dict[str, list[str]]] = []  # the forms posted to the live editor
        office = self
        xml = b""

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                office.fetches += 1
                self._answer("text/xml", xml)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                office.posted.append(parse_qs(self.rfile.read(length).decode()))
                self._answer("text/html", b"<!doctype html><p id=editor>the editor</p>")

            def _answer(self, kind: str, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.live = f"http://127.0.0.1:{self._httpd.server_port}"
        self.discovery_url = f"{self.live}/hosting/discovery"
        xml = discovery_xml(self.key if proof_key else None, self.live)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> Office:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def call(
        self,
        method: str,
        wopi_src: str,
        token: str,
        *,
        contents: bool = False,
        override: str | None = None,
        lock: str | None = None,
        old_lock: str | None = None,
        body: bytes | Iterable[bytes] | None = None,
        key: rsa.RSAPrivateKey | None = None,
        signed: bool = True,
        stamped_ms: int | None = None,
    ) -> httpx.Response:
        """One WOPI call on the file at ``wopi_src``, signed with the office's key (or ``key``),
        stamped now (or ``stamped_ms``). A ``body`` of chunks goes chunked, no Content-Length."""
        url = f"{wopi_src}{'/contents' if contents else ''}?access_token={quote(token, safe='')}"
        headers: dict[str, str] = {}
        if signed:
            ticks = dotnet_ticks(self.now_ms() if stamped_ms is None else stamped_ms)
            headers["X-WOPI-TimeStamp"] = str(ticks)
            headers["X-WOPI-Proof"] = proof_of(key or self.key, token, url, ticks)
        if override is not None:
            headers["X-WOPI-Override"] = override
        if lock is not None:
            headers["X-WOPI-Lock"] = lock
        if old_lock is not None:
            headers["X-WOPI-OldLock"] = old_lock
        return client.request(method, url, headers=headers, content=body)
