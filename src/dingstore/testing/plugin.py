"""The pytest plugin (entry point ``pytest11: dingstore``): the fixtures of docs/testing.md.

Loaded into every pytest run of an environment where dingstore is installed, so it imports
nothing but pytest here: the server is imported and started the first time a test asks for
one. ``-p no:dingstore`` turns the plugin off.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dingstore.testing.org import Dingstore
    from dingstore.testing.server import DingstoreServer


@pytest.fixture(scope="session")
def dingstore_server() -> Iterator[DingstoreServer]:
    """A dingstore server in this process (one per pytest-xdist worker), on a free loopback
    port, in ephemeral and test mode; ready when the fixture returns, stopped (and its store
    gone) at the end of the session."""
    from dingstore.testing import start_server

    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dingstore(dingstore_server: DingstoreServer) -> Iterator[Dingstore]:
    """A fresh org on the session's server for this test: its admin user and an internal app
    holding every scope, and the test-mode controls scoped to it. The org's faults and task
    pauses end with the test."""
    org = dingstore_server.new_org()
    try:
        yield org
    finally:
        org.close()
