"""What the embedded shape writes to disk is the server's user's alone: the data dir and every
directory in it 0700, every file 0600 (database, its WAL, the secret key, file bytes)."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import backends
from tests.conftest import new_tenant
from tests.live import LiveServer, Sdk, http
from tests.storage import Storage


@pytest.fixture
def umask() -> Iterator[None]:
    """The common default umask, so that only dingstore's own modes can keep others out."""
    before = os.umask(0o022)
    yield
    os.umask(before)


@pytest.mark.shapes(backends.EMBEDDED)
def test_data_files_are_private(
    umask: None, tmp_path: Path, make_server: Callable[..., LiveServer]
) -> None:
    data = tmp_path / "data"
    server = make_server(data_dir=data, database_url=f"sqlite+aiosqlite:///{data / 'dingstore.db'}")
    sdk = Sdk(server.endpoint)
    st = Storage.of(server, sdk, new_tenant(server, sdk))
    space = st.new_space()
    st.upload(space.id, b"payroll", "a.txt")
    pending = st.upload_info(space.id, multipart=True)
    part = st.part_infos(pending.upload_key, [1])[1]
    assert http.put(part.resource_urls[0], content=b"x" * 1000, headers=part.headers).is_success

    modes = {
        str(path.relative_to(tmp_path)): (path.is_dir(), stat.S_IMODE(path.stat().st_mode))
        for path in [data, *data.rglob("*")]
    }
    names = {Path(p).name for p in modes}
    assert {"dingstore.db", "dingstore.db-wal", "dingstore.db-shm", "secret.key"} <= names
    assert any(p.startswith("data/blobs/.parts/") and not d for p, (d, _) in modes.items())
    assert len([p for p, (d, _) in modes.items() if not d and "blobs" in p]) >= 3, modes
    loose = {p: oct(mode) for p, (d, mode) in modes.items() if mode != (0o700 if d else 0o600)}
    assert loose == {}
