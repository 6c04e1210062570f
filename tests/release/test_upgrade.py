"""Upgrades in place (docs/deploy.md): a store the previous release made, with its data, opened
by this release, which migrates it to head as ``serve`` does; everything it held reads back the
same through the API, its invariants hold, its schema is the models', and it works on.

The store is ``fixtures/0.1.0.tar.gz``, made by the previous release's own code
(``upgrade_fixture.py`` says how, and how to make it again for the next release)."""

from __future__ import annotations

import json
import sqlite3
import tarfile
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dingstore.clock import ManualClock
from dingstore.settings import Settings
from dingstore.store import database, schema
from tests.engine import trees
from tests.live import LiveServer, Sdk, bound_socket
from tests.release.upgrade_fixture import FIXTURES, describe, sha256, walk
from tests.storage import Storage

pytestmark = pytest.mark.shapes("embedded")  # the fixture is an embedded store

PREVIOUS = "0.1.0"


def _revision(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return str(conn.execute("SELECT version_num FROM alembic_version").fetchone()[0])


def test_the_previous_release_s_store_upgrades_in_place(tmp_path: Path) -> None:
    expected = json.loads((FIXTURES / f"{PREVIOUS}.json").read_text())
    with tarfile.open(FIXTURES / f"{PREVIOUS}.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    data = tmp_path / "data"
    assert _revision(data / "dingstore.db") == expected["revision"]

    listener = bound_socket()
    settings = Settings(data_dir=data, port=listener.getsockname()[1], log_json=False)
    server = LiveServer(settings, ManualClock(), listener).start()  # migrates, as serve does
    try:
        assert _revision(data / "dingstore.db") == database.head()
        creds = expected["credentials"]
        sdk = Sdk(server.endpoint)
        token = sdk.access_token(creds["appKey"], creds["appSecret"]).access_token
        st = Storage(server, sdk, token, creds["unionId"])

        # Everything reads back as the previous release answered: listings, every version's
        # bytes, the finished task, the recycle bin.
        held = describe(st, creds["corpId"], expected["spaces"], expected["task_ids"])
        for part in ("listing", "files", "tasks", "recycled"):
            assert held[part] == expected[part], part

        # And it works on: the recycled file comes back, a new version, a new copy task.
        docs, archive = expected["spaces"]
        bin_id = str(st.get_recycle_bin(creds["corpId"]).id)
        (item,) = st.recycle_items(bin_id)
        st.restore_recycle_item(bin_id, str(item.id))
        paths = {path: dentry for path, _, _, dentry in walk(st, docs)}
        assert "/trash.txt" in paths
        st.upload(
            docs, b"third draft\n", "r1.txt", paths["/reports"], conflict_strategy="OVERWRITE"
        )
        task_id = str(
            st.copy(docs, paths["/reports"], archive, conflict_strategy="AUTO_RENAME").task_id
        )
        assert st.wait_task(task_id).status == "SUCCESS"
        copies = {path: dentry for path, _, _, dentry in walk(st, archive)}
        assert len(copies) == 2 * len(expected["listing"][archive])
        again = [p for p in copies if p.endswith("/r1.txt") and p != "/reports/r1.txt"]
        assert len(again) == 1
        assert sha256(st.download(archive, copies[again[0]])) == sha256(b"third draft\n")

        db = server.services.db
        assert server.run(trees.problems(db)) == []
    finally:
        server.stop()

    # The upgraded schema is exactly the models' (as an empty database upgraded to head is).
    engine = database.sa.create_engine(f"sqlite:///{data / 'dingstore.db'}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    finally:
        engine.dispose()
    assert diff == []
