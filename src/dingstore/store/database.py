"""Choose the database implementation from a URL, open it, and bring its schema to head."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from dingstore import errors
from dingstore.store import base, postgres, sqlite

MIGRATIONS = Path(__file__).with_name("migrations")


def database_for(url: str, *, pool_size: int = 8) -> base.BaseDatabase:
    if url.startswith("sqlite"):
        if "+aiosqlite" not in url:
            url = url.replace("sqlite://", "sqlite+aiosqlite://", 1)
        return sqlite.SQLiteDatabase(url)
    if url.startswith(("postgresql", "postgres")):
        return postgres.PostgresDatabase(url, pool_size=pool_size)
    raise errors.SYSTEM_ERROR.error(f"unsupported database URL scheme: {url.split(':', 1)[0]}")


def alembic_config(connection: sa.Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        # Several processes may start at once; one migrates, the others wait and find it done.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7370000001)")
    command.upgrade(alembic_config(connection), "head")


async def migrate(db: base.BaseDatabase) -> None:
    """Apply every pending migration, in one transaction."""
    async with db.write() as conn:
        await conn.run_sync(_upgrade)


async def open_database(url: str, *, pool_size: int = 8) -> base.BaseDatabase:
    db = database_for(url, pool_size=pool_size)
    await db.open()
    await migrate(db)
    return db
