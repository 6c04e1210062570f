"""Test mode's tests: a test-mode server per module (``module_server`` here replaces the suite's
own), an org per test, and ``Controls``, the ``/_dingstore/`` namespace over plain HTTP as a
suite in another language drives it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from dingstore.clock import ManualClock
from tests import backends
from tests.conftest import Tenant, _fresh_database, _start
from tests.live import LiveServer, Sdk
from tests.s3 import MotoS3
from tests.storage import Storage

# Small steps, so that a copy of a few folders takes several (progress shows mid-copy).
CHUNK = 2
TEST_MODE = {"test_mode": True, "task_chunk": CHUNK}


@pytest.fixture(scope="module")
def module_server(
    shape: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The suite's module server, in test mode."""
    data_dir = tmp_path_factory.mktemp("testmode-server")
    with _fresh_database(shape, request, data_dir) as url:
        blob_url = None
        if shape == backends.SCALE_OUT:
            moto: MotoS3 = request.getfixturevalue("moto_s3")
            bucket = moto.new_bucket()
            blob_url = moto.url(bucket)
        server = _start(
            ManualClock(), data_dir=data_dir, database_url=url, blob_url=blob_url, **TEST_MODE
        )
        try:
            yield server
        finally:
            server.stop()
            if blob_url is not None:
                moto.drop(bucket)


@dataclass
class Controls:
    """``/_dingstore/`` over HTTP."""

    url: str

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.request(method, f"{self.url}/_dingstore/{path}", timeout=30, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, response.text
        body = response.json()
        assert isinstance(body, dict)
        return body

    def inject(self, operation: str, code: str | None = None, **fields: Any) -> str:
        body = {"operation": operation, "code": code, **fields}
        return str(self.ok("POST", "faults", json=body)["faultId"])

    def task(self, verb: str, **fields: Any) -> dict[str, Any]:
        return self.ok("POST", f"tasks/{verb}", json=fields)


@pytest.fixture
def controls(server: LiveServer) -> Controls:
    return Controls(server.url)


@pytest.fixture
def st(server: LiveServer, sdk: Sdk, tenant: Tenant) -> Storage:
    return Storage.of(server, sdk, tenant)
