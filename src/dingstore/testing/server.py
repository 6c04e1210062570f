"""``DingstoreServer``: a dingstore server running in a thread of the test process (a
``ThreadedServer``, which dingstore's own suite runs its servers on too).

The server is the production one (``api/app.py``'s app on ``api/server.py``'s uvicorn server)
on an event loop of its own, in a daemon thread, so that the test's thread stays free to call
it over HTTP. Everything the plugin does to the store (a new org, a fault, a task step) runs as
a coroutine on that loop (``call``), where the store's connections live.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Self, TypeVar

import uvicorn

from dingstore.api import protocol, server
from dingstore.api.app import create_app
from dingstore.clock import SYSTEM, Clock
from dingstore.service import seeding
from dingstore.service.container import Services, open_services
from dingstore.service.testmode.controls import TestControls
from dingstore.settings import Settings, load
from dingstore.testing.org import Dingstore

T = TypeVar("T")

TIMEOUT = 60.0  # a call on the server's loop that takes longer is a hung test
GRACE_S = 10  # how long a shutdown waits for the connections still open, then cancels them


class ThreadedServer:
    """The production server for ``settings``, in a daemon thread of this process, on its own
    event loop: the pytest plugin's server, and the one dingstore's own suite runs its tests
    against (tests/live.py). ``listener``, when given, is a socket bound to ``settings.port``
    to serve on (bound and kept by the caller, so that no other process takes the port);
    ``clock``, the time every service reads."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = SYSTEM,
        listener: socket.socket | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.listener = listener
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="dingstore-server", daemon=True
        )
        self.app: Any = None
        self._server: uvicorn.Server | None = None
        self._serving: Any = None
        self._services: Services | None = None
        self._stopping = threading.Lock()

    # --- where it is --------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:PORT``: the SDK's ``Config(protocol="http", endpoint=...)``."""
        return f"127.0.0.1:{self.settings.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def services(self) -> Services:
        """The server's services (for what no control offers; they live on ``loop``)."""
        assert self._services is not None, "the server is not started"
        return self._services

    # --- life ---------------------------------------------------------------------------------

    def start(self) -> Self:
        """Start serving; return once the server answers."""
        self._thread.start()
        try:
            self._services = self.run(open_services(self.settings, clock=self.clock))
            self.app = create_app(self.settings, self._services)
            config = uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.settings.port,
                loop="none",
                http=protocol.BoundedHttpProtocol,
                log_config=None,
                access_log=False,
                lifespan="on",
                # as `dingstore serve` bounds it: a connection that never closes cannot hold a
                # test's teardown (``stop``) past its own timeout
                timeout_graceful_shutdown=GRACE_S,
            )
            if self.listener is None:
                self.listener = socket.socket()
                self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.listener.bind(("127.0.0.1", self.settings.port))
            # The production server (api/server.py: its accept loop, the Stream drain on
            # shutdown) on the bound socket.
            self._server = api = server.Server(config)
            self._serving = asyncio.run_coroutine_threadsafe(api.serve([self.listener]), self.loop)
            pause = threading.Event()
            while not api.started:
                if self._serving.done():
                    self._serving.result()
                    raise RuntimeError("dingstore did not start (its log says why)")
                pause.wait(0.002)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Shut the server down gracefully (once; a call while another thread's runs waits for
        it, later calls do nothing)."""
        with self._stopping:
            self._stop()

    def _stop(self) -> None:
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            if self._server is not None and self._serving is not None:
                self._server.should_exit = True
                self._serving.result(timeout=30)
            if self._services is not None:
                self.run(self._services.close())
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
        self.loop.close()
        if self.listener is not None:
            self.listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- calling into it ----------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop (where its database connections live)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=TIMEOUT)

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` on the server's loop (awaited if it is a coroutine): its
        result, or its exception raised here."""

        async def run() -> Any:
            result = fn(*args, **kwargs)
            if inspect.isawaitable(result):
                result = await result
            return result

        return self.run(run())


class DingstoreServer(ThreadedServer):
    """An ephemeral, test-mode dingstore on a free loopback port. ``start`` returns once it
    answers; ``stop`` shuts it down and removes its store."""

    def __init__(self, **settings: Any) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # bound now and kept: no other process (an xdist worker) takes the port meanwhile
        listener.bind(("127.0.0.1", 0))
        loaded = load(
            **{
                "host": "127.0.0.1",
                "port": listener.getsockname()[1],
                "ephemeral": True,
                "test_mode": True,
                "database_url": None,
                "blob_url": None,
                "access_log": False,
                **settings,
            }
        )
        super().__init__(loaded, listener=listener)

    @property
    def controls(self) -> TestControls:
        controls = self.services.test_controls
        assert controls is not None, "the server is not in test mode"
        return controls

    # --- what a test arranges -----------------------------------------------------------------

    def new_org(self, name: str | None = None) -> Dingstore:
        """A new org with its admin user and an internal app holding every scope."""
        made = self.call(self.controls.create_org, name)
        return Dingstore(self, made.corp_id, made.union_id, made.app_key, made.app_secret)

    def seed(self, path: str | Path) -> seeding.Seeded:
        """Load the seed file at ``path`` (docs/testing.md) into this server's store."""
        return self.call(seeding.seed, self.services, path)  # type: ignore[no-any-return]

    def reset(self) -> None:
        """The whole store back to empty: every org gone, every fault and pause cleared."""
        self.call(self.controls.reset, None)
