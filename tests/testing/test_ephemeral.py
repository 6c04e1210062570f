"""Ephemeral stores (``serve --ephemeral``, the pytest plugin): tmpfs, no fsync, memory blobs,
gone on exit; the schema made from the models is the migrations' schema."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from dingstore.service import ephemeral
from dingstore.service.container import open_services
from dingstore.settings import ConfigError, Settings
from dingstore.store import database
from tests.live import DingstoreProcess, Sdk, free_port

pytestmark = pytest.mark.shapes("embedded")


def test_head_is_alembics_head() -> None:
    script = ScriptDirectory.from_config(database.alembic_config())
    assert database.head() == script.get_current_head()


def _shape(path: Path) -> dict[str, object]:
    """Every table's columns, keys and indexes (with a partial index's WHERE), as SQLite
    reports them: two schemas equal here behave the same."""
    conn = sqlite3.connect(path)
    try:
        shape: dict[str, object] = {}
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in sorted(tables):
            indexes = {}
            for _seq, name, unique, origin, partial in conn.execute(
                f"PRAGMA index_list('{table}')"
            ):
                sql = conn.execute("SELECT sql FROM sqlite_master WHERE name=?", (name,)).fetchone()
                where = re.sub(r"\s+", " ", sql[0].split(" WHERE ", 1)[1]) if partial else None
                columns = [r[2] for r in conn.execute(f"PRAGMA index_xinfo('{name}')") if r[5]]
                key = name if origin == "c" else f"{origin}:{columns}"
                indexes[key] = (unique, columns, where)
            shape[table] = {
                "columns": conn.execute(f"PRAGMA table_info('{table}')").fetchall(),
                "foreign_keys": sorted(
                    r[2:5] for r in conn.execute(f"PRAGMA foreign_key_list('{table}')")
                ),
                "indexes": indexes,
            }
        shape["rows"] = {
            "id_blocks": conn.execute("SELECT * FROM id_blocks").fetchall(),
            "alembic_version": conn.execute("SELECT * FROM alembic_version").fetchall(),
        }
        return shape
    finally:
        conn.close()


async def test_the_schema_made_from_the_models_is_the_migrated_one(tmp_path: Path) -> None:
    made, migrated = tmp_path / "made.db", tmp_path / "migrated.db"
    db = await database.open_database(f"sqlite:///{made}", fresh=True)
    await db.close()
    db = await database.open_database(f"sqlite:///{migrated}")
    await db.close()
    assert _shape(made) == _shape(migrated)
    # and a store made so is at head: opening it normally migrates nothing
    db = await database.open_database(f"sqlite:///{made}")
    await db.close()


async def test_an_ephemeral_store_lives_on_tmpfs_without_fsync_and_goes_on_close() -> None:
    settings = Settings(ephemeral=True, port=free_port())
    services = await open_services(settings)
    try:
        directory = settings.data_dir
        assert services.ephemeral_dir == directory
        if ephemeral.TMPFS.is_dir():
            assert directory.parent == ephemeral.TMPFS
        assert settings.blob_url == "memory://" and settings.secret_key
        assert (directory / "dingstore.db").is_file()
        async with services.db.read() as conn:
            synchronous = await conn.run_sync(
                lambda c: c.execute(sa.text("PRAGMA synchronous")).scalar()
            )
        assert synchronous == 0  # OFF
        assert not (directory / "secret.key").exists() and not (directory / "blobs").exists()
    finally:
        await services.close()
    assert not directory.exists()


def test_ephemeral_refuses_a_database_or_blob_url() -> None:
    with pytest.raises(ConfigError, match="DINGSTORE_BLOB_URL"):
        ephemeral.prepare(Settings(ephemeral=True, blob_url="memory://"))
    with pytest.raises(ConfigError, match="DINGSTORE_DATABASE_URL"):
        ephemeral.prepare(Settings(ephemeral=True, database_url="sqlite:///x.db"))


def test_serve_ephemeral_answers_with_its_first_start_credentials_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    port = free_port()
    process = DingstoreProcess(
        "serve",
        ["serve", "--ephemeral", "--port", str(port)],
        {"DINGSTORE_LOG_LEVEL": "WARNING"},
        tmp_path,
        port=port,
    ).start()
    try:
        process.wait_ready(timeout=30, interval=0.02)
        fields = dict(re.findall(r"│ (corpId|appKey|appSecret)\s+(\S+)", process.output()))
        token = Sdk(f"127.0.0.1:{port}").access_token(fields["appKey"], fields["appSecret"])
        assert token.access_token
        # the store: the database the process holds open
        opened = {Path(p.readlink()) for p in Path(f"/proc/{process.pid}/fd").iterdir()}
        (db,) = [p for p in opened if p.name == "dingstore.db"]
        assert db.parent.name.startswith("dingstore-")
    finally:
        assert process.stop() in (0, -15), process.log()
    assert not db.parent.exists()
