"""Every API test that ran a server ends with the tree's kept sizes checked against the rows:
each node's live descendants and stored bytes (``dentries.descendants`` / ``stored``), which
every change must keep exact at every commit, and no grant left on a purged dentry or naming a
space other than its dentry's."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine import trees


@pytest.fixture(autouse=True)
def sizes_stay_exact(request: pytest.FixtureRequest) -> Iterator[None]:
    if "server" not in request.fixturenames:
        yield
        return
    server = request.getfixturevalue("server")  # set up before, torn down after this fixture
    yield
    if server.services is None:
        return
    found = server.run(trees.problems(server.services.db))
    assert [p for p in found if ": sizes (" in p or p.startswith("grant ")] == []
