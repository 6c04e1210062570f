"""The session's dingstore server, with tasks that copy two items a step, so that a test can
pause a copy half way (the plugin's own ``dingstore_server`` lets a step take ~0.25 s of work:
a small copy is then done in one step)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dingstore.testing import DingstoreServer, start_server


@pytest.fixture(scope="session")
def dingstore_server() -> Iterator[DingstoreServer]:
    with start_server(task_chunk=2) as server:
        yield server
