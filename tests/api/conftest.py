"""What the API tests share: ``st``, the test's org acting through the official SDK; and a
check that ends every API test that ran a server: the tree's kept sizes against the rows (each
node's live descendants and stored bytes, ``dentries.descendants`` / ``stored``), which every
change must keep exact at every commit, and no grant left on a purged dentry or naming a space
other than its dentry's. A module's tests share a server, so the check holds a test to the
problems it added."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Tenant
from tests.engine import trees
from tests.live import LiveServer, Sdk
from tests.storage import Storage

CHECKED = {trees.Kind.SIZES, trees.Kind.GRANTS}


@pytest.fixture
def st(server: LiveServer, sdk: Sdk, tenant: Tenant) -> Storage:
    """The test's org: its app, acting as its admin."""
    return Storage.of(server, sdk, tenant)


def _checked(server: LiveServer) -> set[trees.Problem]:
    return {p for p in server.run(trees.problems(server.services.db)) if p.kind in CHECKED}


@pytest.fixture(autouse=True)
def sizes_stay_exact(request: pytest.FixtureRequest) -> Iterator[None]:
    if "server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("server")  # set up before, torn down after this fixture
    before = _checked(server)
    yield
    if server.services is None:
        return
    assert sorted(_checked(server) - before) == []
