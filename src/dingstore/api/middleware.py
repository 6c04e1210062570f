"""The one ASGI middleware around every request: request id, metrics, deadline, and the last
line of defence that turns an unexpected exception into ``500 systemError``.

Pure ASGI (not ``BaseHTTPMiddleware``) so that it costs microseconds and streams untouched.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dingstore import errors, logs
from dingstore.api import metrics, responses

log = logging.getLogger("dingstore.api")

REQUEST_ID_KEY = "dingstore.request_id"


def new_request_id() -> str:
    """A random id shaped like DingTalk's (an upper-case UUID); cheaper than ``uuid.uuid4()``."""
    h = os.urandom(16).hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def request_id_of(scope: Scope) -> str:
    return scope.get(REQUEST_ID_KEY) or "-"


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: metrics.Metrics,
        deadline: float,
        no_deadline_prefixes: tuple[str, ...] = (),
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.deadline = deadline
        self.no_deadline_prefixes = no_deadline_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = new_request_id()
        scope[REQUEST_ID_KEY] = rid
        token = logs.request_id.set(rid)
        started = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "started": False}
        rid_header = (b"x-acs-request-id", rid.encode())

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                state["started"] = True
                message["headers"] = [*message.get("headers", ()), rid_header]
            await send(message)

        try:
            if scope["path"].startswith(self.no_deadline_prefixes):
                await self.app(scope, receive, send_with_id)
            else:
                async with asyncio.timeout(self.deadline):
                    await self.app(scope, receive, send_with_id)
        except TimeoutError:
            log.warning("request passed its deadline of %.1f s", self.deadline)
            if not state["started"]:
                exc = errors.Unavailable(
                    message=f"the request took longer than {self.deadline:g} s"
                )
                await responses.error(exc, rid)(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not state["started"]:
                await responses.error(errors.ServerError(), rid)(scope, receive, send_with_id)
        finally:
            route = scope.get("route")
            self.metrics.observe(
                scope["method"],
                getattr(route, "path", "unmatched"),
                state["status"],
                time.perf_counter() - started,
            )
            logs.request_id.reset(token)
