"""What the console tests share: the test's org through the official SDK (``st``), sign-in
links made the way ``dingstore admin console-link`` makes them, and an HTTP client that keeps
the console's cookie."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import Tenant
from tests.live import LiveServer, Sdk
from tests.storage import Storage


@pytest.fixture
def st(server: LiveServer, sdk: Sdk, tenant: Tenant) -> Storage:
    """The test's org: its app, acting as its admin."""
    return Storage.of(server, sdk, tenant)


def link(server: LiveServer, union_id: str) -> str:
    """A one-time sign-in link's path for the user."""
    token = server.run(server.services.console.link(union_id))
    return f"/console/signin/{token}"


def token_of(path: str) -> str:
    return path.rsplit("/", 1)[1]


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def web(server: LiveServer) -> Iterator[httpx.Client]:
    """A client of the console that keeps cookies and does not follow redirects."""
    with httpx.Client(base_url=server.url, follow_redirects=False) as client:
        yield client


def sign_in(client: httpx.Client, server: LiveServer, union_id: str) -> None:
    path = link(server, union_id)
    assert client.get(path).status_code == 200
    done = client.post("/console/signin", data={"token": token_of(path)})
    assert done.status_code == 303, done.text
