"""PostgreSQL's read pool (store/postgres_pool.py): connections handed out first come, first
served, and a connection in no known state (cancelled mid-statement, closed by the server)
replaced, never handed out again."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from dingstore.store import postgres_pool
from tests import backends

pytestmark = pytest.mark.shapes(backends.SCALE_OUT)

READER = "dingstore-test-reader"  # its connections' application_name


@pytest.fixture
async def dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[postgres_pool.ReadPool]:
    opened = postgres_pool.ReadPool(dsn, 1, server_settings={"application_name": READER})
    await opened.open()
    yield opened
    await opened.close()


async def _readers(dsn: str) -> int:
    """The pool's connections the server sees."""
    conn = await asyncpg.connect(dsn)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", READER
        )
        return count
    finally:
        await conn.close()


async def test_a_freed_connection_goes_to_the_reader_that_waited_longest(
    pool: postgres_pool.ReadPool,
) -> None:
    answered: list[int] = []

    async def read(n: int) -> None:
        rows = await pool.fetch("SELECT $1::int AS n", [n])
        answered.append(rows[0]["n"])

    holder = asyncio.create_task(pool.fetch("SELECT pg_sleep(0.05)", []))
    await asyncio.sleep(0.01)  # the holder has the one connection
    waiting = [asyncio.create_task(read(n)) for n in range(5)]
    await asyncio.sleep(0.01)  # all five wait
    await holder
    # The connection is on its way to reader 0: one who asks now waits behind all five, even
    # though no reader has run a statement on it yet.
    late = asyncio.create_task(read(99))
    await asyncio.gather(*waiting, late)
    assert answered == [0, 1, 2, 3, 4, 99]


async def test_a_reader_cancelled_while_waiting_leaves_the_line(
    pool: postgres_pool.ReadPool,
) -> None:
    holder = asyncio.create_task(pool.fetch("SELECT pg_sleep(0.05)", []))
    await asyncio.sleep(0.01)
    gone = asyncio.create_task(pool.fetch("SELECT 1", []))
    after = asyncio.create_task(pool.fetch("SELECT 2 AS n", []))
    await asyncio.sleep(0.01)
    gone.cancel()
    await holder
    assert (await asyncio.wait_for(after, 5))[0]["n"] == 2
    assert gone.cancelled()


async def test_a_statement_cancelled_midway_is_cancelled_on_the_server(
    pool: postgres_pool.ReadPool, dsn: str
) -> None:
    slow = asyncio.create_task(pool.fetch("SELECT pg_sleep(30)", []))
    await asyncio.sleep(0.05)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    # The next read runs as soon as the server has given the statement up, on the same
    # connection, which is then the only one.
    rows = await asyncio.wait_for(pool.fetch("SELECT 3 AS n", []), 2)
    assert rows[0]["n"] == 3
    assert await _readers(dsn) == 1


async def test_a_refused_statement_keeps_its_connection(pool: postgres_pool.ReadPool) -> None:
    pid = (await pool.fetch("SELECT pg_backend_pid() AS pid", []))[0]["pid"]
    with pytest.raises(asyncpg.PostgresError):
        await pool.fetch("SELECT 1 / 0", [])
    assert (await pool.fetch("SELECT pg_backend_pid() AS pid", []))[0]["pid"] == pid


async def test_a_connection_the_server_closed_is_replaced(
    pool: postgres_pool.ReadPool, dsn: str
) -> None:
    await pool.fetch("SELECT 1", [])
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            READER,
        )
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the pool's idle connection hears the server go
    assert (await pool.fetch("SELECT 4 AS n", []))[0]["n"] == 4


async def test_a_closed_pool_refuses_readers_and_tells_those_waiting(
    pool: postgres_pool.ReadPool,
) -> None:
    holder = asyncio.create_task(pool.fetch("SELECT pg_sleep(0.05)", []))
    await asyncio.sleep(0.01)
    waiting = asyncio.create_task(pool.fetch("SELECT 1", []))
    await asyncio.sleep(0.01)
    await pool.close()
    with pytest.raises(asyncpg.InterfaceError):
        await waiting
    await holder  # the statement in progress ends; its connection is closed on its way back
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetch("SELECT 1", [])
