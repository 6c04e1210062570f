"""The floor for the GetTask benchmark: the least a Python ASGI server can do for this request.

One Starlette route, ``GET /v1.0/storage/tasks/{taskId}``, that reads the task row by primary key
with the database driver directly and returns it with Starlette's ``JSONResponse``. No FastAPI,
no auth, no middleware, no SQLAlchemy, no pydantic: what dingstore adds on top of this is what
the benchmark's ratio measures.

Configured by environment (``bench/get_task.py`` sets it):

* ``FLOOR_SQLITE_PATH`` — the SQLite file; one aiosqlite connection opened in the lifespan, WAL.
* ``FLOOR_DATABASE_URL`` — a PostgreSQL URL; an asyncpg pool of ``FLOOR_POOL_SIZE`` connections
  (``get_task.py`` gives it as many as dingstore's reads have), that sends no reset query when a
  connection is given back (dingstore's reads send none either: a single SELECT in autocommit
  leaves nothing to reset).

Serve it with ``uvicorn floor_app:app --app-dir bench --loop uvloop --http httptools``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

# The same columns dingstore's GetTask reads (its ``_PUBLIC`` select).
COLUMNS = (
    "id",
    "corp_id",
    "creator_id",
    "status",
    "total_count",
    "success_count",
    "fail_count",
    "fail_message",
    "begin_time",
    "end_time",
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM tasks WHERE id = "

Fetch = Callable[[int], Awaitable[dict[str, Any] | None]]


@contextlib.asynccontextmanager
async def _sqlite(path: str) -> AsyncIterator[Fetch]:
    import aiosqlite

    conn = await aiosqlite.connect(path)
    await conn.execute("PRAGMA journal_mode=WAL")
    query = _SELECT + "?"

    async def fetch(task_id: int) -> dict[str, Any] | None:
        async with conn.execute(query, (task_id,)) as cursor:
            row = await cursor.fetchone()
        return None if row is None else dict(zip(COLUMNS, row, strict=True))

    try:
        yield fetch
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def _postgres(url: str, pool_size: int) -> AsyncIterator[Fetch]:
    import asyncpg

    async def no_reset(conn: asyncpg.Connection) -> None:
        pass

    pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size, reset=no_reset)
    query = _SELECT + "$1"

    async def fetch(task_id: int) -> dict[str, Any] | None:
        row = await pool.fetchrow(query, task_id)
        return None if row is None else dict(row)

    try:
        yield fetch
    finally:
        await pool.close()


def _reader() -> contextlib.AbstractAsyncContextManager[Fetch]:
    url = os.environ.get("FLOOR_DATABASE_URL")
    if url:
        return _postgres(url, int(os.environ.get("FLOOR_POOL_SIZE", "8")))
    return _sqlite(os.environ["FLOOR_SQLITE_PATH"])


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with _reader() as fetch:
        app.state.fetch = fetch
        yield


async def get_task(request: Request) -> JSONResponse:
    text = request.path_params["taskId"]
    if not text.isdigit():
        return JSONResponse({"code": "paramError"}, status_code=400)
    row = await request.app.state.fetch(int(text))
    if row is None:
        return JSONResponse({"code": "taskNotExist"}, status_code=404)
    return JSONResponse({"task": row})


app = Starlette(routes=[Route("/v1.0/storage/tasks/{taskId}", get_task)], lifespan=lifespan)
