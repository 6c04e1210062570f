"""``snapshots.still_referenced``: which blobs a live SQLite store references, asked a chunk of
ids a statement (SQLite caps a statement's parameters). A backup uses it to tell a blob that went
missing while it copied from one the store still needs."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from dingstore.store import snapshots
from dingstore.store.schema import blobs


def _store(path: Path, refcounts: dict[int, int]) -> None:
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        blobs.create(engine)
        with engine.begin() as conn:
            conn.execute(
                blobs.insert(),
                [dict(id=i, size=1, refcount=n, created_at=0) for i, n in refcounts.items()],
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize("chunk", [2, 3, snapshots.CHUNK])
def test_every_chunk_is_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int) -> None:
    monkeypatch.setattr(snapshots, "CHUNK", chunk)
    refcounts = {i: i % 3 for i in range(1, 1_201)}  # every third one released
    path = tmp_path / "dingstore.db"
    _store(path, refcounts)
    asked = [*reversed(refcounts), 5_000, 5_001]  # out of order, two the store never had
    referenced = sorted(i for i, n in refcounts.items() if n > 0)
    assert snapshots.still_referenced(path, asked) == referenced
    assert snapshots.still_referenced(path, []) == []
