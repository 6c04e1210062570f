"""The backends every server test runs on: embedded SQLite, and PostgreSQL with a fresh
database per test (cloned from a template migrated once per session).

``DINGSTORE_TEST_BACKENDS=sqlite`` (comma-separated) narrows the set; PostgreSQL is expected at
``DINGSTORE_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432``) and a test fails, not
skips, when it is not there.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg

from dingstore.store import database

PG = os.environ.get("DINGSTORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
BACKENDS = [
    b.strip() for b in os.environ.get("DINGSTORE_TEST_BACKENDS", "sqlite,postgres").split(",")
]


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


class PostgresDatabases:
    """Creates migrated databases quickly: one template per session, a clone per test."""

    def __init__(self) -> None:
        self.template: str | None = None
        self.created: list[str] = []

    def _make_template(self) -> str:
        name = f"dingstore_tmpl_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))

        async def migrate() -> None:
            db = await database.open_database(f"{PG}/{name}")
            await db.close()

        asyncio.run(migrate())
        self.created.append(name)
        return name

    def new(self) -> str:
        """A fresh, migrated database; returns its URL."""
        if self.template is None:
            self.template = self._make_template()
        name = f"dingstore_test_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
        self.created.append(name)
        return f"{PG}/{name}"

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.remove(name)

    def drop_all(self) -> None:
        for name in reversed(self.created):
            asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.created.clear()
