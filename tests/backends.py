"""The two shapes every server test runs on, as a deployment would:

* ``embedded`` — SQLite in the store's directory (a copy of a file migrated once per session),
  file bytes as local files beside it, served through dingstore's own data plane (``/_blobs/``);
* ``scale-out`` — PostgreSQL, a fresh database per store (cloned from a template migrated once
  per session), and file bytes in a fresh bucket of the S3 server the session starts on loopback
  (``tests/s3.py``), moved through the bucket's own pre-signed URLs.

``DINGSTORE_TEST_BACKENDS=embedded`` (comma-separated; ``sqlite`` and ``postgres`` are older
names for the two) narrows the set. PostgreSQL is expected at ``DINGSTORE_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432``), and a test fails, not skips, when it is not there.

A test of what only one shape has is generated for that shape alone, never skipped: mark it
``@pytest.mark.shapes(backends.EMBEDDED)`` (dingstore's own data plane, ``/_blobs/``: the
scale-out shape's transfers are the object store's) or ``@pytest.mark.shapes(backends.SCALE_OUT)``
(PostgreSQL's LISTEN/NOTIFY, deadlocks). A run narrowed to the other shape leaves it out.

A store is made per module and shape (``module_server``: each test brings its own org) or per
test (``make_server``, ``database_url``, or a test marked ``own_server``). Everything a session
makes is named at random (databases, buckets) or lives in its own temporary directory and port,
so pytest-xdist workers never meet.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from pathlib import Path

import asyncpg

from dingstore.store import database

PG = os.environ.get("DINGSTORE_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
EMBEDDED, SCALE_OUT = "embedded", "scale-out"
_NAMES = {EMBEDDED: EMBEDDED, SCALE_OUT: SCALE_OUT, "sqlite": EMBEDDED, "postgres": SCALE_OUT}


def _shapes(value: str) -> list[str]:
    named = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in named if name not in _NAMES]
    if unknown or not named:
        raise ValueError(
            f"DINGSTORE_TEST_BACKENDS={value!r}: {EMBEDDED} and/or {SCALE_OUT}, comma-separated"
        )
    return list(dict.fromkeys(_NAMES[name] for name in named))


SHAPES = _shapes(os.environ.get("DINGSTORE_TEST_BACKENDS") or f"{EMBEDDED},{SCALE_OUT}")


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{PG}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def migrated_sqlite(path: Path) -> Path:
    """Create and migrate a SQLite database at ``path``: the template stores are copied from."""

    async def migrate() -> None:
        db = await database.open_database(f"sqlite+aiosqlite:///{path}")
        await db.close()  # the last connection's close checkpoints the WAL into the file

    asyncio.run(migrate())
    return path


def copy_sqlite(template: Path, path: Path) -> None:
    """A fresh store at ``path``: a copy of a migrated template, private as dingstore's own."""
    shutil.copyfile(template, path)
    path.chmod(0o600)


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

    def new(self, *, empty: bool = False) -> str:
        """A fresh, migrated database (or an ``empty`` one); returns its URL."""
        if self.template is None and not empty:
            self.template = self._make_template()
        name = f"dingstore_test_{uuid.uuid4().hex[:12]}"
        clone = "" if empty else f' TEMPLATE "{self.template}"'
        asyncio.run(_admin(f'CREATE DATABASE "{name}"{clone}'))
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
