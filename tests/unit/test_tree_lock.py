"""The tree lock is a space's, not its org's (service/tree.py): a change to one space keeps
another change to that space waiting until it commits, and the one that waited reads what it
committed; a change to another space of the same org does not wait (on PostgreSQL: SQLite's
single writer runs one change at a time whatever it touches)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from dingstore.store import base, database, schema, spaces

SPACES = (11, 12)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[base.BaseDatabase]:
    opened = await database.open_database(database_url)
    async with opened.write() as conn:
        await conn.execute(sa.insert(schema.orgs).values(corp_id="c", name="o", created_at=0))
        for space_id in SPACES:
            await conn.execute(
                sa.insert(schema.spaces).values(
                    id=space_id, corp_id="c", app_id="a", name="s", owner_type="USER",
                    owner_id="u", creator_id="u", modifier_id="u", used_quota=0,
                    status="NORMAL", scene="x", scene_id=str(space_id), can_search=True,
                    can_rename=True, can_record_recent_file=True, created_at=0, modified_at=0,
                )
            )  # fmt: skip
    yield opened
    await opened.close()


async def test_a_space_lock_keeps_that_space_waiting_not_the_org(db: base.BaseDatabase) -> None:
    order: list[str] = []
    seen: dict[int, int] = {}

    async def second(space_id: int) -> None:
        async with db.write() as conn:
            row = (await spaces.lock(conn, [space_id]))[space_id]
            seen[space_id] = int(row.used_quota)
            order.append(f"second {space_id}")

    async with db.write() as conn:
        locked = await spaces.lock(conn, [SPACES[0]])
        assert list(locked) == [SPACES[0]]
        await spaces.charge(conn, SPACES[0], 5)
        same = asyncio.create_task(second(SPACES[0]))
        other = asyncio.create_task(second(SPACES[1]))
        if db.dialect == "postgresql":
            await asyncio.wait_for(asyncio.shield(other), 5)
        await asyncio.sleep(0.3)
        assert not same.done()
        order.append("first")
    await asyncio.wait_for(asyncio.gather(same, other), 5)
    assert order.index("first") < order.index(f"second {SPACES[0]}")
    assert seen[SPACES[0]] == 5  # what the first committed, read as the lock was taken


async def test_locking_two_spaces_in_either_order_never_deadlocks(db: base.BaseDatabase) -> None:
    """Two changes naming the same two spaces in opposite orders (a move each way) take the
    locks in one order, so both commit."""

    async def change(ids: list[int]) -> None:
        async with db.write() as conn:
            assert set(await spaces.lock(conn, ids)) == set(SPACES)
            await asyncio.sleep(0.05)
            for space_id in ids:
                await spaces.charge(conn, space_id, 1)

    for _ in range(5):
        await asyncio.wait_for(
            asyncio.gather(change(list(SPACES)), change(list(reversed(SPACES)))), 10
        )
    async with db.read() as conn:
        used = (await conn.execute(sa.select(schema.spaces.c.used_quota))).scalars().all()
    assert used == [10, 10]
