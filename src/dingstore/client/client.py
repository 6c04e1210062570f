"""``Client`` and ``AsyncClient``: the same operations (the families of this package, each
written once as flows), run by a blocking or an asyncio driver."""

from __future__ import annotations

import time
from typing import Any

import httpx

from dingstore.client import session as sessions
from dingstore.client.bind import Async, Sync
from dingstore.client.bulk import Bulk
from dingstore.client.dentries import Dentries
from dingstore.client.drivers import AsyncDriver, SyncDriver
from dingstore.client.events import Events
from dingstore.client.permissions import Permissions
from dingstore.client.recycle import Recycle
from dingstore.client.transfers import Transfers

MiB = 1024 * 1024


class Operations(Dentries, Transfers, Bulk, Recycle, Permissions, Events):
    """Every operation, for both clients; the settings both take."""

    def __init__(
        self,
        endpoint: str,
        app_key: str,
        app_secret: str,
        union_id: str,
        *,
        timeout: float = 30.0,
        multipart_threshold: int = 64 * MiB,
        part_size: int = 16 * MiB,
        parallel: int = 4,
        clock: sessions.Clock = time.monotonic,
        transport: Any = None,
    ) -> None:
        transfers = sessions.Transfers(multipart_threshold, part_size, parallel)
        self._session = sessions.Session(
            endpoint, (app_key, app_secret), union_id, transfers, clock
        )
        options = {
            "timeout": httpx.Timeout(timeout),
            "limits": httpx.Limits(max_connections=max(10, parallel * 2)),
            "follow_redirects": False,
            "transport": transport,
        }
        self._open(options)

    def _open(self, options: dict[str, Any]) -> None:
        """Make the driver, on an httpx client made with ``options``."""
        raise NotImplementedError

    @property
    def endpoint(self) -> str:
        return self._session.endpoint

    @property
    def transfers(self) -> sessions.Transfers:
        """How uploads go: ``multipart_threshold``, ``part_size``, ``parallel``."""
        return self._session.transfers

    @property
    def union_id(self) -> str:
        """The operator: the user every call acts as."""
        return self._session.union_id


class Client(Sync, Operations):
    """dingstore's storage API for Python: ``Client(endpoint, app_key, app_secret,
    union_id)``, where ``endpoint`` is ``host:port`` (http) or a URL, and ``union_id`` is the
    user every call acts as. The access token is fetched on first use and renewed before it
    expires. Every error is a ``DingstoreError``. Use it as a context manager, or ``close()``.

    ``multipart_threshold``, ``part_size`` and ``parallel`` (bytes, bytes, parts at a time) set
    how uploads go; ``timeout`` is seconds per request (long polls add their own wait);
    ``clock`` is what the token's lifetime is measured with; ``transport`` an
    ``httpx.BaseTransport`` (a proxy, or tests)."""

    def _open(self, options: dict[str, Any]) -> None:
        self._driver = SyncDriver(httpx.Client(**options))

    def close(self) -> None:
        """Close the connections."""
        self._driver.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncClient(Async, Operations):
    """``Client`` for asyncio: the same methods and arguments (``transport``: an
    ``httpx.AsyncBaseTransport``); each method returns a coroutine, and each listing an async
    iterator (``async for``). Parts of an upload go as concurrent requests. Use it as an async
    context manager, or ``await aclose()``."""

    def _open(self, options: dict[str, Any]) -> None:
        self._driver = AsyncDriver(httpx.AsyncClient(**options))

    async def aclose(self) -> None:
        """Close the connections."""
        await self._driver.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
