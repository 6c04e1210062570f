"""The app factory: ``create_app(settings)`` with an explicit route table, one middleware and
the error handlers; the services are opened and closed in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dingstore import __version__, logs
from dingstore.api import console, handlers, metrics, middleware, ratelimit, routing
from dingstore.api.routes import (
    apidocs,
    batch,
    blobs,
    dentries,
    events,
    files,
    gateway,
    get_task,
    health,
    oauth2,
    open_infos,
    orgs,
    permissions,
    previews,
    recycle,
    space_extensions,
    spaces,
    task_extensions,
    testmode,
    thumbnails,
    versions,
    weboffice,
    wopi,
)
from dingstore.service.container import Services, open_services
from dingstore.settings import Settings

ROUTERS = (
    health.router,
    oauth2.router,
    # storage 1.0, in the order of the spec
    orgs.router,
    spaces.router,
    dentries.router,
    files.router,
    batch.router,
    get_task.router,
    versions.router,
    recycle.router,
    permissions.router,
    events.router,  # §6 J, and dingstore's pull feed
    thumbnails.router,
    open_infos.router,
    weboffice.router,
    # dingstore's task extensions: the task list, cancel, retry (docs/tasks.md#extensions)
    task_extensions.router,
    # dingstore's space list (docs/files.md#the-space-list)
    space_extensions.router,
    # the WOPI host, called by an office server (not a DingTalk API)
    wopi.router,
    # change events in DingTalk's Stream mode (its gateway, and the WebSocket)
    gateway.router,
    # the data plane of the self-served blob stores (not a DingTalk API)
    blobs.router,
    # dingstore's preview page, where GetDentryOpenInfo's links lead (not a DingTalk API)
    previews.router,
    # the API browser: Swagger UI over /openapi.json, from vendored assets (not a DingTalk API)
    apidocs.router,
    # the web console (not a DingTalk API)
    console.router,
)


# The path parameters that are decimal ids (``service/tree.parse_id``: up to 2^63 - 1; ``0``,
# a space's root, where a node may be one), and what the document says of them. A value outside
# the pattern answers ``400 paramError.<name>``; one inside it may still (``0`` where no root is
# taken, 19 digits above the largest id).
DECIMAL_IDS = ("spaceId", "dentryId", "parentId", "taskId", "recycleBinId", "recycleItemId")
ID_PATTERN = "^[0-9]{1,19}$"


def _describe_ids(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "path" and parameter["name"] in DECIMAL_IDS:
                    parameter["schema"]["pattern"] = ID_PATTERN


class App(FastAPI):
    # Strict mode and test mode's faults (api/routing.py); None, the default: neither.
    hooks: routing.Hooks | None = None

    def openapi(self) -> dict[str, Any]:
        """FastAPI's document, with the pattern of the decimal ids on the path parameters
        that take one (so that a client or a fuzzer knows what an id looks like)."""
        if self.openapi_schema is None:
            _describe_ids(super().openapi())
        return self.openapi_schema or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A request goes straight to the stack, one frame (Starlette's ``__call__``) where
        FastAPI's adds another to check for telemetry, which is off; the lifespan and anything
        else go FastAPI's way."""
        if scope["type"] != "http" or self.root_path:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        if self.middleware_stack is None:
            self.middleware_stack = self.build_middleware_stack()
        await self.middleware_stack(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        """Starlette's stack — the 500 handler, our middleware, the error handlers, the routes —
        without the three layers FastAPI adds around every request for what dingstore does not
        use: OpenTelemetry's exception hook (its telemetry is off), an app-wide body limit
        (``RequestMiddleware`` enforces ours) and an exit stack that closes uploaded form files
        (no route takes a form). Each is a coroutine frame more per request and per await."""
        handlers = dict(self.exception_handlers)
        on_500 = handlers.pop(500, None)
        on_exception = handlers.pop(Exception, None)
        router = routing.RouteIndex(self.router)
        app: ASGIApp = ExceptionMiddleware(router, handlers=handlers, debug=self.debug)
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return ServerErrorMiddleware(app, handler=on_exception or on_500, debug=self.debug)


def create_app(
    settings: Settings,
    services: Services | None = None,
    *,
    on_open: Callable[[Services], Awaitable[None]] | None = None,
) -> FastAPI:
    """The ASGI app. Given ``services``, it uses them and leaves closing them to the caller.
    ``on_open`` runs once the services are open, before the app serves (``serve --ephemeral``
    fills its new store there: it lives in this process only)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        svc = app.state.services = services or await open_services(settings)
        if on_open is not None:
            try:
                await on_open(svc)
            except BaseException:
                if owned:
                    await svc.close()
                raise
        # Everything made at start-up lives as long as the process: keep it out of the
        # collector's way, so a full collection does not stall requests (p99, bench/get_task.py).
        # Not for an ephemeral store: a test's server wants to be ready soon (the collection
        # takes ~0.3 s in a test process), and in the pytest plugin the process is the test's.
        if not settings.ephemeral:
            gc.collect()
            gc.freeze()
        housekeeping = asyncio.create_task(svc.housekeeper.run_forever())
        engine = svc.engine
        engine.start()  # ``workers`` of them; none with --no-workers / DINGSTORE_WORKERS=0
        if engine.concurrency:  # HTTP pushes go out of the processes that run tasks
            svc.push.start()
        svc.stream.start()

        # api/server.py runs it before uvicorn closes the connections and waits for the
        # requests in flight: Stream clients are told to reconnect (elsewhere) rather than cut
        # off, and long-polls of the events feed answer at once instead of holding the shutdown
        # up to their wait.
        async def drain() -> None:
            svc.feed.drain()
            await svc.stream.drain()

        app.state.drain = drain
        try:
            yield
        finally:
            await svc.stream.stop()  # acks written, leases given back
            if engine.concurrency:
                await svc.push.stop()  # pushes in flight go again later; leases given back
            await engine.stop()  # each worker finishes its step and gives its lease back
            await svc.housekeeper.stop(housekeeping)
            if owned:
                await svc.close()

    logs.stamp_request_ids()
    app = App(
        title="dingstore",
        version=__version__,
        description="DingTalk organization-storage open API (storage 1.0), self-hosted.",
        lifespan=lifespan,
        # Our metrics are Prometheus' (/metrics); FastAPI's native OpenTelemetry stays off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = metrics.Metrics()
    app.state.rate_limiter = ratelimit.RateLimiter(settings.rate_limit_qps, settings.rate_limits)
    if services is not None:
        app.state.services = services
    for router in ROUTERS:
        # The routes themselves, not an included router: FastAPI's include layer costs a
        # route match per request (prefix, tags and responses are already on each route).
        app.router.routes.extend(router.routes)
    if settings.test_mode:  # /_dingstore/ exists only then: any other serve answers 404
        app.router.routes.extend(testmode.router.routes)
    if settings.strict or settings.test_mode:
        app.hooks = routing.Hooks(strict=settings.strict, faults=settings.test_mode)
    handlers.install(app)
    app.add_middleware(
        middleware.RequestMiddleware,
        metrics=app.state.metrics,
        deadline=settings.request_timeout,
        body_limit=settings.max_body_size,
        access_log=settings.access_log,
        # transfers take as long as their bytes take, and are as large as their declared size
        # (a WOPI save is a whole file, limited by DINGSTORE_BLOB_MAX_OBJECT_SIZE)
        # (test mode's wait for events takes the timeout it is given)
        no_deadline_prefixes=(
            blobs.PREFIX,
            previews.PREFIX,
            wopi.PREFIX,
            testmode.PREFIX,
            console.LIVE_PREFIX,
            console.DOWNLOAD_PREFIX,
        ),
        no_body_limit_prefixes=(blobs.PREFIX, wopi.PREFIX),
        secret_path_prefixes=(previews.PREFIX, console.SIGNIN_PREFIX),
    )
    return app
