"""Choose the database implementation from a URL, open it, and bring its schema to head.

Alembic (and the PostgreSQL driver) are imported only when needed: a store already at head, or
an ephemeral one, starts without them (about 0.2 s of imports, docs/testing.md).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from dingstore.settings import ConfigError
from dingstore.store import base, schema, sqlite

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).with_name("migrations")
# The rows migration 0001 writes, which ``create_schema`` writes too.
_FIRST_ID = 10_000_000_000


def check_url(url: str) -> None:
    """``ConfigError`` unless ``url`` names a database dingstore supports."""
    if not url.startswith(("sqlite", "postgresql", "postgres")):
        raise ConfigError(
            f"DINGSTORE_DATABASE_URL: unsupported scheme {url.split(':', 1)[0]!r}: "
            "sqlite:///PATH or postgresql://USER@HOST/DATABASE"
        )


def database_for(url: str, *, pool_size: int = 8, durable: bool = True) -> base.BaseDatabase:
    """The database at ``url``, not yet opened. ``durable=False`` (ephemeral stores, SQLite
    only) commits without waiting for the disk."""
    check_url(url)
    if url.startswith("sqlite"):
        return sqlite.SQLiteDatabase(url, durable=durable)
    from dingstore.store import postgres

    return postgres.PostgresDatabase(url, pool_size=pool_size)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def known_revision(revision: str) -> bool:
    """Whether this release's migrations know ``revision`` (a store made by a later release
    has revisions this one has never heard of, and cannot be opened by it)."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config())
    try:
        return scripts.get_revision(revision) is not None
    except Exception:  # alembic's ResolutionError and CommandError: not one of ours
        return False


def head() -> str:
    """The newest migration's revision, read from the file names (``NNNN_what.py`` holds
    revision ``"NNNN"``; tests/test_migrations.py holds alembic to the same answer)."""
    names = (p.name for p in (MIGRATIONS / "versions").glob("*.py"))
    return max(m.group(1) for m in map(re.compile(r"(\d{4})_\w+\.py$").match, names) if m)


# Several processes may start at once; one migrates, the others wait and find it done.
MIGRATION_LOCK = 7370000001


def _upgrade(connection: sa.Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def _version(connection: sa.Connection) -> str | None:
    if not sa.inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


async def migrate(db: base.BaseDatabase) -> None:
    """Apply every pending migration, in one transaction."""
    async with db.read() as conn:
        if await conn.run_sync(_version) == head():
            return  # nothing to do, and no need to load alembic
    async with db.write(long=True) as conn:
        await conn.lock(MIGRATION_LOCK)
        await conn.run_sync(_upgrade)


def _create(connection: sa.Connection) -> None:
    schema.metadata.create_all(connection)
    connection.execute(sa.insert(schema.id_blocks).values(name="global", next_value=_FIRST_ID))
    version = sa.table("alembic_version", sa.column("version_num"))
    connection.execute(
        sa.text(
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
            "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
        )
    )
    connection.execute(sa.insert(version).values(version_num=head()))


async def create_schema(db: base.BaseDatabase) -> None:
    """Build the schema of head at once on an empty database, from the models rather than by
    replaying every migration, and stamp it as migrated (tests/test_migrations.py holds the two
    to the same schema)."""
    async with db.write(long=True) as conn:
        await conn.run_sync(_create)


async def open_database(
    url: str, *, pool_size: int = 8, durable: bool = True, fresh: bool = False
) -> base.BaseDatabase:
    """The database at ``url``, opened and at head. ``fresh``: it is known to be empty (an
    ephemeral store), and the schema is created rather than migrated to."""
    db = database_for(url, pool_size=pool_size, durable=durable)
    await db.open()
    await (create_schema(db) if fresh else migrate(db))
    return db
