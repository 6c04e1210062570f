"""An HTTP push receiver for tests: an aiohttp server on loopback, in a thread of its own, that
checks each push the way an integrator's receiver does (both signatures, decryption, the owner
key) and answers as told: correctly (DingTalk's encrypted ``success``), or wrongly, late, or
not at all."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import web

from dingstore.service.events import crypto

if TYPE_CHECKING:
    from tests.conftest import Tenant

# How the receiver answers (``Receiver.mode``)
OK = "ok"  # 200 with an encrypted success
BAD_SIGNATURE = "bad signature"  # 200, success, but a wrong msg_signature
HTTP_500 = "http 500"
FAIL = "fail"  # 200 with an encrypted "fail"
LATE = "late"  # a correct answer after 4 s (the limit is 1.5 s)
DROP = "drop"  # the connection closed without an answer
REDIRECT = "redirect"  # 302 to the same URL, which would answer success if followed
MODES = (OK, BAD_SIGNATURE, HTTP_500, FAIL, LATE, DROP, REDIRECT)


@dataclass
class Push:
    """One push as received and decrypted."""

    query: dict[str, str]
    message: dict[str, Any]


@dataclass
class Receiver:
    token: str
    aes_key: str
    app_key: str
    mode: str = OK
    late_s: float = 4.0
    pushes: list[Push] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # pushes that were not DingTalk's shape
    requests: int = 0

    def __post_init__(self) -> None:
        self.cipher = crypto.CallbackCrypto(self.token, self.aes_key, self.app_key)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/dingtalk/callback"

    def events(self) -> list[dict[str, Any]]:
        """The messages received that were events (not ``check_url``)."""
        return [p.message for p in self.pushes if p.message.get("EventType") != "check_url"]

    def start(self) -> Receiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)
        return self

    def stop(self) -> None:
        """Stop serving (again: nothing happens); the port then refuses connections."""
        if self.loop.is_closed():
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/dingtalk/callback", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def _check(self, request: web.Request, body: bytes) -> dict[str, Any] | None:
        q = request.query
        try:
            encrypt = json.loads(body)["encrypt"]
            expected = self.cipher.signature(q["timestamp"], q["nonce"], encrypt)
            if q["msg_signature"] != expected or q["signature"] != expected:
                raise ValueError("signature")
            if not q["timestamp"].isdigit() or len(q["timestamp"]) != 13:
                raise ValueError("timestamp not in ms")
            if request.content_type != "application/json":
                raise ValueError(f"content type {request.content_type}")
            text, owner = self.cipher.decrypt(encrypt)
            if owner != self.app_key:
                raise ValueError(f"owner {owner}")
            message = json.loads(text)
            assert isinstance(message, dict)
            return message
        except Exception as exc:
            self.problems.append(f"{type(exc).__name__}: {exc}")
            return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        message = self._check(request, body)
        if message is None:
            return web.Response(status=400)
        self.pushes.append(Push(dict(request.query), message))
        mode = self.mode
        stamp = str(int(time.time()))  # seconds, as official helpers send
        reply = self.cipher.reply("fail" if mode == FAIL else "success", stamp, "r4nd0m")
        if mode == BAD_SIGNATURE:
            reply["msg_signature"] = "0" * 40
        if mode == HTTP_500:
            return web.Response(status=500, text="boom")
        if mode == REDIRECT:
            self.mode = OK  # the push followed here would succeed
            return web.Response(status=302, headers={"Location": str(request.url)})
        if mode == LATE:
            await asyncio.sleep(self.late_s)
        if mode == DROP:
            assert request.transport is not None
            request.transport.abort()
            return web.Response()
        return web.json_response(reply)


@contextlib.contextmanager
def receiving(tenant: Tenant) -> Iterator[Receiver]:
    """A receiver answering correctly for the tenant's app, running for the block."""
    app_key = tenant.boot.credentials.app.app_key
    assert app_key is not None
    r = Receiver(token="t0ken", aes_key=crypto.random_text(43), app_key=app_key).start()
    try:
        yield r
    finally:
        r.stop()
