"""The one ASGI middleware around every request: request id, body size limit, metrics, access
log, deadline, and the last line of defence that turns an unexpected exception into
``500 systemError``.

Pure ASGI (not ``BaseHTTPMiddleware``) so that it costs microseconds and streams untouched: it
sees the body stream before any route reads it. The limit is enforced lazily, where the route
reads: a body whose ``Content-Length`` is over it fails on the first read without a byte being
read, a chunked one as soon as its running total passes it; a route that never reads a body
(or refuses the token first, ``api/routing.py``) never pays for one.
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
access_logger = logging.getLogger("dingstore.access")

REQUEST_ID_KEY = "dingstore.request_id"


def new_request_id() -> str:
    """A random id shaped like DingTalk's (an upper-case UUID); cheaper than ``uuid.uuid4()``."""
    h = os.urandom(16).hex().upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def request_id_of(scope: Scope) -> str:
    return scope.get(REQUEST_ID_KEY) or "-"


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, or None (chunked, absent or malformed)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def too_large(limit: int) -> errors.PayloadTooLarge:
    return errors.REQUEST_ENTITY_TOO_LARGE.error(f"the request body is larger than {limit} bytes")


def limited(receive: Receive, scope: Scope, limit: int) -> Receive:
    """``receive`` that raises ``PayloadTooLarge`` rather than deliver more than ``limit`` bytes
    of body in all."""
    declared = declared_length(scope)
    if declared is not None and declared > limit:

        async def refuse() -> Message:
            raise too_large(limit)

        return refuse
    received = 0

    async def receive_limited() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(limit)
        return message

    return receive_limited


class Deadline:
    """One request's: its task, when it falls due, and whether it has passed."""

    __slots__ = ("cancelling", "due", "passed", "task")

    def __init__(self, task: asyncio.Task[Any], due: float) -> None:
        self.task = task
        self.due = due
        self.cancelling = task.cancelling()
        self.passed = False


class Deadlines:
    """Each request's deadline, ``seconds`` after it began, with one loop timer for them all.

    ``asyncio.timeout`` makes a timer and cancels it on every request (~3 µs under uvloop).
    Deadlines that are all as long fall due in the order their requests began: they are kept
    in a dict in that order, and one timer waits for the oldest. A request past its deadline is
    cancelled, as ``asyncio.timeout`` does; ``passed`` tells that cancellation from another.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._pending: dict[Deadline, None] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> Deadline:
        """The current task's deadline, from now."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        assert task is not None
        deadline = Deadline(task, loop.time() + self.seconds)
        self._pending[deadline] = None
        if self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_at(deadline.due, self._expire)
        return deadline

    def finish(self, deadline: Deadline) -> None:
        """The request is over: forget its deadline (and take back a cancellation for it that
        the request did not end by)."""
        self._pending.pop(deadline, None)
        if deadline.passed:
            deadline.passed = False
            deadline.task.uncancel()

    def passed(self, deadline: Deadline) -> bool:
        """Whether the task was cancelled for passing ``deadline`` and for nothing else (it
        takes back that cancellation, as ``asyncio.timeout`` does)."""
        if not deadline.passed:
            return False
        deadline.passed = False
        return deadline.task.uncancel() <= deadline.cancelling

    def _expire(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        due = []
        for deadline in self._pending:
            if deadline.due > now:
                self._timer = self._loop.call_at(deadline.due, self._expire)
                break
            due.append(deadline)
        else:
            self._timer = None
        for deadline in due:
            del self._pending[deadline]
            deadline.passed = True
            deadline.task.cancel()


class RequestMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: metrics.Metrics,
        deadline: float,
        body_limit: int,
        access_log: bool = True,
        no_deadline_prefixes: tuple[str, ...] = (),
        no_body_limit_prefixes: tuple[str, ...] = (),
        secret_path_prefixes: tuple[str, ...] = (),
    ) -> None:
        """``secret_path_prefixes``: paths whose next segment is a credential (a preview link's
        token), logged as ``<prefix>…`` instead."""
        self.app = app
        self.metrics = metrics
        self.deadline = deadline
        self.deadlines = Deadlines(deadline)
        self.body_limit = body_limit
        self.access_log = access_log
        self.no_deadline_prefixes = no_deadline_prefixes
        self.no_body_limit_prefixes = no_body_limit_prefixes
        self.secret_path_prefixes = secret_path_prefixes

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

        if not scope["path"].startswith(self.no_body_limit_prefixes):
            receive = limited(receive, scope, self.body_limit)
        deadline = None
        if not scope["path"].startswith(self.no_deadline_prefixes):
            deadline = self.deadlines.start()
        try:
            try:
                await self.app(scope, receive, send_with_id)
            except asyncio.CancelledError:
                if deadline is None or not self.deadlines.passed(deadline):
                    raise
                raise TimeoutError from None
        except TimeoutError:
            log.warning("request passed its deadline of %.1f s", self.deadline)
            if not state["started"]:
                exc = errors.OPERATION_TIMEOUT.error(
                    f"the request took longer than {self.deadline:g} s"
                )
                await responses.error(exc, rid)(scope, receive, send_with_id)
        except Exception:
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not state["started"]:
                await responses.error(errors.SYSTEM_ERROR.error(), rid)(
                    scope, receive, send_with_id
                )
        finally:
            if deadline is not None:
                self.deadlines.finish(deadline)
            route = scope.get("route")
            elapsed = time.perf_counter() - started
            self.metrics.observe(
                scope["method"], getattr(route, "path", "unmatched"), state["status"], elapsed
            )
            if self.access_log and access_logger.isEnabledFor(logging.INFO):
                self._log_access(scope, getattr(route, "name", None), state["status"], elapsed)
            logs.request_id.reset(token)

    def _log_access(self, scope: Scope, operation: str | None, status: int, elapsed: float) -> None:
        """One line per request; its ``requestid`` comes from the context (``logs``)."""
        operation = operation or "-"  # no route matched
        ms = round(elapsed * 1000, 2)
        method, path = scope["method"], scope["path"]
        for prefix in self.secret_path_prefixes:
            if path.startswith(prefix):
                rest = path.find("/", len(prefix))
                path = prefix + "\u2026" + ("" if rest < 0 else path[rest:])
        access_logger.info(
            "%s %d %.2f ms (%s %s)",
            operation,
            status,
            ms,
            method,
            path,
            extra={
                "operation": operation,
                "status": status,
                "duration_ms": ms,
                "method": method,
                "path": path,
            },
        )
