"""Choose the database implementation from a URL, open it, and bring its schema to head."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dingstore.settings import ConfigError
from dingstore.store import base, postgres, sqlite

MIGRATIONS = Path(__file__).with_name("migrations")


def check_url(url: str) -> None:
    """``ConfigError`` unless ``url`` names a database dingstore supports."""
    if not url.startswith(("sqlite", "postgresql", "postgres")):
        raise ConfigError(
            f"DINGSTORE_DATABASE_URL: unsupported scheme {url.split(':', 1)[0]!r}: "
            "sqlite:///PATH or postgresql://USER@HOST/DATABASE"
        )


def database_for(url: str, *, pool_size: int = 8) -> base.BaseDatabase:
    check_url(url)
    if url.startswith("sqlite"):
        return sqlite.SQLiteDatabase(url)
    return postgres.PostgresDatabase(url, pool_size=pool_size)


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


# Several processes may start at once; one migrates, the others wait and find it done.
MIGRATION_LOCK = 7370000001


def _upgrade(connection: sa.Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def migrate(db: base.BaseDatabase) -> None:
    """Apply every pending migration, in one transaction."""
    async with db.write(long=True) as conn:
        await conn.lock(MIGRATION_LOCK)
        await conn.run_sync(_upgrade)


async def open_database(url: str, *, pool_size: int = 8) -> base.BaseDatabase:
    db = database_for(url, pool_size=pool_size)
    await db.open()
    await migrate(db)
    return db
