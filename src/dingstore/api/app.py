"""The app factory: ``create_app(settings)`` with an explicit route table, one middleware and
the error handlers; the services are opened and closed in the lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from dingstore import __version__, logs
from dingstore.api import handlers, metrics, middleware, ratelimit, routing
from dingstore.api.routes import (
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
    spaces,
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
    # the WOPI host, called by an office server (not a DingTalk API)
    wopi.router,
    # change events in DingTalk's Stream mode (its gateway, and the WebSocket)
    gateway.router,
    # the data plane of the self-served blob stores (not a DingTalk API)
    blobs.router,
    # dingstore's preview page, where GetDentryOpenInfo's links lead (not a DingTalk API)
    previews.router,
)


class App(FastAPI):
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


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The ASGI app. Given ``services``, it uses them and leaves closing them to the caller."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        svc = app.state.services = services or await open_services(settings)
        # Everything made at start-up lives as long as the process: keep it out of the
        # collector's way, so a full collection does not stall requests (p99, bench/get_task.py).
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
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
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
    handlers.install(app)
    app.add_middleware(
        middleware.RequestMiddleware,
        metrics=app.state.metrics,
        deadline=settings.request_timeout,
        body_limit=settings.max_body_size,
        access_log=settings.access_log,
        # transfers take as long as their bytes take, and are as large as their declared size
        # (a WOPI save is a whole file, limited by DINGSTORE_BLOB_MAX_OBJECT_SIZE)
        no_deadline_prefixes=(blobs.PREFIX, previews.PREFIX, wopi.PREFIX),
        no_body_limit_prefixes=(blobs.PREFIX, wopi.PREFIX),
        secret_path_prefixes=(previews.PREFIX,),
    )
    return app
