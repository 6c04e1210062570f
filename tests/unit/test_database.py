"""The database seam on every backend: reads, writes, rollback, driver errors translated, and
prepared statements answering exactly as SQLAlchemy does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from dingstore import errors
from dingstore.store import base, database, schema

_t = schema.orgs
_BY_ID = base.prepared(sa.select(_t.c.corp_id, _t.c.name).where(_t.c.corp_id == sa.bindparam("c")))
_PLAIN = sa.select(_t.c.corp_id, _t.c.name).where(_t.c.corp_id == sa.bindparam("c"))


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[base.BaseDatabase]:
    opened = await database.open_database(database_url)
    yield opened
    await opened.close()


async def test_write_commits_and_rolls_back(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(sa.insert(_t).values(corp_id="ding2", name="two", created_at=2))
            raise RuntimeError("abort")
    async with db.read() as conn:
        names = (await conn.execute(sa.select(_t.c.name).order_by(_t.c.name))).scalars().all()
    assert names == ["one"]


async def test_unique_violation_is_a_conflict(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    with pytest.raises(errors.Conflict):
        async with db.write() as conn:
            await conn.execute(sa.insert(_t).values(corp_id="ding1", name="again", created_at=2))
    assert await db.ping()


async def test_prepared_statements_answer_as_sqlalchemy_does(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    async with db.read() as conn:
        for key in ("ding1", "nope"):
            fast = (await conn.execute(_BY_ID, {"c": key})).mappings().first()
            slow = (await conn.execute(_PLAIN, {"c": key})).mappings().first()
            assert (dict(fast) if fast else None) == (dict(slow) if slow else None)
        row = (await conn.execute(_BY_ID, {"c": "ding1"})).mappings().first()
        assert (row.corp_id, row["name"]) == ("ding1", "one")


async def test_a_failed_read_leaves_the_connection_usable(db: base.BaseDatabase) -> None:
    with pytest.raises((sa.exc.DBAPIError, errors.Unavailable)):
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert await db.ping()


async def test_prepared_statements_refuse_type_conversions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = await database.open_database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        converting = base.prepared(sa.select(schema.users.c.is_admin))
        with pytest.raises(TypeError, match="column is_admin"):
            async with db.read() as conn:
                await conn.execute(converting)
    finally:
        await db.close()
