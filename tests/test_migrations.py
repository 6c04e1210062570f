"""Upgrading an empty database to head gives exactly the schema the code describes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dingstore.store import database, schema


async def test_migrations_match_the_models(database_url: str) -> None:
    db = await database.open_database(database_url)
    try:
        async with db.read() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), schema.metadata)
            )
            ids = (await conn.execute(sa.select(schema.id_blocks))).all()
        assert diff == []
        assert [tuple(r) for r in ids] == [("global", 10_000_000_000)]
        await database.migrate(db)  # a second run is a no-op
    finally:
        await db.close()
