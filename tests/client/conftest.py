"""What the client tests share: ``client``, a ``dingstore.client.Client`` for the test's org
(its app, acting as its admin) on the module's server; ``connect`` for more (another
operator, other settings, the async client)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from dingstore.client import AsyncClient, Client
from tests import backends
from tests.conftest import Tenant
from tests.live import LiveServer

SMALL_PARTS = {
    # dingstore's data plane takes parts of 100 KB; S3 (moto too) 5 MiB but the last
    backends.EMBEDDED: 100 * 1024,
    backends.SCALE_OUT: 5 * 1024 * 1024,
}


def credentials(server: LiveServer, tenant: Tenant) -> tuple[str, str, str]:
    app = tenant.boot.credentials
    assert app.app.app_key is not None
    return server.endpoint, app.app.app_key, app.app_secret


@pytest.fixture
def connect(server: LiveServer, tenant: Tenant) -> Iterator[Callable[..., Client]]:
    """``connect(union_id=None, **settings)``: a ``Client`` of the test's app, closed after
    the test."""
    made: list[Client] = []

    def make(union_id: str | None = None, **settings: Any) -> Client:
        client = Client(*credentials(server, tenant), union_id or tenant.admin_id, **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(connect: Callable[..., Client]) -> Client:
    return connect()


@pytest.fixture
def connect_async(server: LiveServer, tenant: Tenant) -> Callable[..., AsyncClient]:
    """``connect_async(union_id=None, **settings)``: an ``AsyncClient`` of the test's app;
    the test closes it (``async with``)."""

    def make(union_id: str | None = None, **settings: Any) -> AsyncClient:
        return AsyncClient(*credentials(server, tenant), union_id or tenant.admin_id, **settings)

    return make
