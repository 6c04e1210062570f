"""The file commands' fixture: the test's org, as ``dingstore ls|put|...`` reach it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.files import Remote
from tests.conftest import Tenant
from tests.live import LiveServer, Sdk
from tests.storage import Storage


@pytest.fixture
def remote(server: LiveServer, sdk: Sdk, tenant: Tenant, tmp_path: Path) -> Remote:
    return Remote(server, tenant, Storage.of(server, sdk, tenant), tmp_path / "config")
