"""Queries for recycle-bin items."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dingstore.store.base import Connection
from dingstore.store.schema import recycle_items


async def insert(conn: Connection, **values: Any) -> None:
    await conn.execute(sa.insert(recycle_items).values(**values))
