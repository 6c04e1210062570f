"""64-bit ids unique across every process that shares the database.

The database hands out disjoint ranges from one counter (``id_blocks``); a process keeps a small
block in memory for single ids and asks for exact ranges for bulk work (a copy step numbers its
new rows ``first .. first + n - 1``). A range lost to a crash is simply never used.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from dingstore.store import base, schema

_t = schema.id_blocks


class IdAllocator:
    def __init__(self, db: base.BaseDatabase, *, block: int = 256) -> None:
        self._db = db
        self._block = block
        self._next = 0
        self._end = 0
        self._lock = asyncio.Lock()

    async def reserve(self, count: int) -> int:
        """Reserve ``count`` consecutive ids and return the first.

        Runs its own write transaction: never call it inside ``db.write()``.
        """
        async with self._db.write() as conn:
            return await reserve_in(conn, count)

    async def next(self) -> int:
        async with self._lock:
            if self._next >= self._end:
                self._next = await self.reserve(self._block)
                self._end = self._next + self._block
            value = self._next
            self._next += 1
            return value


async def reserve_in(conn: base.Connection, count: int) -> int:
    """Reserve ``count`` consecutive ids inside the caller's write transaction (they are the
    caller's only if it commits); returns the first."""
    end = (
        await conn.execute(
            sa.update(_t)
            .where(_t.c.name == "global")
            .values(next_value=_t.c.next_value + count)
            .returning(_t.c.next_value)
        )
    ).scalar_one()
    return int(end) - count
