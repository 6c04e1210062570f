"""The floor for the small-writes benchmark: the least a Python ASGI server can do for AddFolder
and RenameDentry.

Two Starlette routes, ``POST /v1.0/storage/spaces/{spaceId}/dentries/{parentId}/folders`` and
``POST …/dentries/{dentryId}/rename``, each doing what the operation must in ONE transaction on
the store's own tables, with the driver directly: read the token (by its SHA-256, unexpired)
and its app, read the space (it exists, is the app's org's and live); then AddFolder checks
that no live sibling holds the name, inserts the folder row and touches the space
(``modified_at``, ``modifier_id``), and RenameDentry reads the live row, checks the name among
its siblings and updates its name, modifier and time; commit; answer the row with
``JSONResponse``. No FastAPI, no middleware, no SQLAlchemy, no pydantic, no tree lock, no
permission walk: what dingstore adds on top of this is what the benchmark's ratio measures. A
taken name answers 409 (the bench sends unique names, so that fails the run).

Configured by environment (``bench/writes.py`` sets it):

* ``FLOOR_SQLITE_PATH`` — the SQLite file, with dingstore's durability: WAL, ``synchronous =
  FULL``. One connection of the stdlib ``sqlite3`` module, owned by a single-thread executor;
  each request's whole transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) is one call on that
  thread, so the event loop is free during the fsync and pays one thread hop per request.
* ``FLOOR_DATABASE_URL`` — a PostgreSQL URL; an asyncpg pool of ``FLOOR_POOL_SIZE`` (default
  10), one ``conn.transaction()`` per request, the server's default ``synchronous_commit``.

Ids for the new rows come from a counter in the process, started above the store's largest id.

Serve it with ``uvicorn floor_writes:app --app-dir bench --loop uvloop --http httptools``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import os
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


# (token digest, union id, space id, parent id, name) -> the new row; RenameDentry likewise,
# with the dentry's id for the parent's.
Write = Callable[[str, str, int, int, str], Awaitable[dict[str, Any]]]

_TOKEN = (
    "SELECT a.corp_id FROM tokens t JOIN apps a ON a.app_id = t.app_id "
    "WHERE t.token_hash = {0} AND t.expires_at > {1} AND NOT a.disabled"
)
_SPACE = "SELECT corp_id, status FROM spaces WHERE id = {0}"
_TAKEN = (
    "SELECT 1 FROM dentries WHERE space_id = {0} AND parent_id = {1} AND name = {2} "
    "AND status = 'NORMAL'"
)
_INSERT = (
    "INSERT INTO dentries (id, space_id, parent_id, name, type, status, uuid, creator_id, "
    "modifier_id, created_at, modified_at, descendants, stored) "
    "VALUES ({0}, {1}, {2}, {3}, 'FOLDER', 'NORMAL', {4}, {5}, {5}, {6}, {6}, 0, 0)"
)
_TOUCH = "UPDATE spaces SET modified_at = {0}, modifier_id = {1} WHERE id = {2}"
_NODE = (
    "SELECT parent_id, type FROM dentries WHERE id = {0} AND space_id = {1} AND status = 'NORMAL'"
)
_RENAME = "UPDATE dentries SET name = {0}, modifier_id = {1}, modified_at = {2} WHERE id = {3}"


def _sql(template: str, style: str) -> str:
    """``{n}`` as the driver's n-th parameter: ``?n+1`` (sqlite3) or ``$n+1`` (asyncpg)."""
    return template.format(*(f"{style}{i + 1}" for i in range(10)))


def _row(
    new_id: int,
    space_id: int,
    parent_id: int,
    name: str,
    union_id: str,
    now: int,
    kind: str = "FOLDER",
) -> dict:
    return {
        "id": str(new_id),
        "spaceId": str(space_id),
        "parentId": str(parent_id),
        "type": kind,
        "name": name,
        "status": "NORMAL",
        "creatorId": union_id,
        "modifierId": union_id,
        "createTime": now,
        "modifiedTime": now,
    }


def _check(corp: Any, space: Any) -> None:
    if corp is None:
        raise Refused(401, "InvalidAuthentication")
    if space is None or space[0] != corp[0] or space[1] != "NORMAL":
        raise Refused(404, "spaceNotExist")


@contextlib.asynccontextmanager
async def _sqlite(path: str) -> AsyncIterator[dict[str, Write]]:
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="floor-sqlite")
    loop = asyncio.get_running_loop()

    def connect() -> sqlite3.Connection:
        db = sqlite3.connect(path, isolation_level=None)
        for pragma in ("busy_timeout = 10000", "journal_mode = WAL", "synchronous = FULL"):
            db.execute(f"PRAGMA {pragma}")
        return db

    db = await loop.run_in_executor(pool, connect)
    first = await loop.run_in_executor(
        pool, lambda: db.execute("SELECT coalesce(max(id), 0) FROM dentries").fetchone()[0]
    )
    ids = itertools.count(int(first) + 1_000_000)
    token_q, space_q, taken_q = (_sql(t, "?") for t in (_TOKEN, _SPACE, _TAKEN))
    insert_q, touch_q = _sql(_INSERT, "?"), _sql(_TOUCH, "?")
    node_q, rename_q = _sql(_NODE, "?"), _sql(_RENAME, "?")

    def one(fn: Callable[[int], dict]) -> dict:
        """``fn(now)`` in one write transaction, committed."""
        db.execute("BEGIN IMMEDIATE")
        try:
            row = fn(int(time.time() * 1000))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return row

    def authorized(digest: str, space_id: int, now: int) -> None:
        corp = db.execute(token_q, (digest, now)).fetchone()
        _check(corp, db.execute(space_q, (space_id,)).fetchone())

    def add(digest: str, union_id: str, space_id: int, parent: int, name: str) -> dict:
        def body(now: int) -> dict:
            authorized(digest, space_id, now)
            if db.execute(taken_q, (space_id, parent, name)).fetchone() is not None:
                raise Refused(409, "dentryAlreadyExist")
            new_id = next(ids)
            db.execute(insert_q, (new_id, space_id, parent, name, uuid.uuid4().hex, union_id, now))
            db.execute(touch_q, (now, union_id, space_id))
            return _row(new_id, space_id, parent, name, union_id, now)

        return one(body)

    def rename(digest: str, union_id: str, space_id: int, node_id: int, name: str) -> dict:
        def body(now: int) -> dict:
            authorized(digest, space_id, now)
            node = db.execute(node_q, (node_id, space_id)).fetchone()
            if node is None:
                raise Refused(404, "dentryNotExist")
            if db.execute(taken_q, (space_id, node[0], name)).fetchone() is not None:
                raise Refused(409, "dentryAlreadyExist")
            db.execute(rename_q, (name, union_id, now, node_id))
            return _row(node_id, space_id, node[0], name, union_id, now, node[1])

        return one(body)

    def on_thread(fn: Callable[..., dict]) -> Write:
        async def call(*args: Any) -> dict:
            return await loop.run_in_executor(pool, fn, *args)

        return call

    try:
        yield {"add_folder": on_thread(add), "rename": on_thread(rename)}
    finally:
        await loop.run_in_executor(pool, db.close)
        pool.shutdown()


@contextlib.asynccontextmanager
async def _postgres(url: str, pool_size: int) -> AsyncIterator[dict[str, Write]]:
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
    first = await pool.fetchval("SELECT coalesce(max(id), 0) FROM dentries")
    ids = itertools.count(int(first) + 1_000_000)
    token_q, space_q, taken_q = (_sql(t, "$") for t in (_TOKEN, _SPACE, _TAKEN))
    insert_q, touch_q = _sql(_INSERT, "$"), _sql(_TOUCH, "$")
    node_q, rename_q = _sql(_NODE, "$"), _sql(_RENAME, "$")

    async def authorized(conn: Any, digest: str, space_id: int, now: int) -> None:
        corp = await conn.fetchrow(token_q, digest, now)
        _check(corp, await conn.fetchrow(space_q, space_id))

    async def add(digest: str, union_id: str, space_id: int, parent: int, name: str) -> dict:
        now = int(time.time() * 1000)
        async with pool.acquire() as conn, conn.transaction():
            await authorized(conn, digest, space_id, now)
            if await conn.fetchval(taken_q, space_id, parent, name) is not None:
                raise Refused(409, "dentryAlreadyExist")
            new_id = next(ids)
            await conn.execute(
                insert_q, new_id, space_id, parent, name, uuid.uuid4().hex, union_id, now
            )
            await conn.execute(touch_q, now, union_id, space_id)
        return _row(new_id, space_id, parent, name, union_id, now)

    async def rename(digest: str, union_id: str, space_id: int, node_id: int, name: str) -> dict:
        now = int(time.time() * 1000)
        async with pool.acquire() as conn, conn.transaction():
            await authorized(conn, digest, space_id, now)
            node = await conn.fetchrow(node_q, node_id, space_id)
            if node is None:
                raise Refused(404, "dentryNotExist")
            if await conn.fetchval(taken_q, space_id, node[0], name) is not None:
                raise Refused(409, "dentryAlreadyExist")
            await conn.execute(rename_q, name, union_id, now, node_id)
        return _row(node_id, space_id, node[0], name, union_id, now, node[1])

    try:
        yield {"add_folder": add, "rename": rename}
    finally:
        await pool.close()


def _writer() -> contextlib.AbstractAsyncContextManager[dict[str, Write]]:
    url = os.environ.get("FLOOR_DATABASE_URL")
    if url:
        return _postgres(url, int(os.environ.get("FLOOR_POOL_SIZE", "10")))
    return _sqlite(os.environ["FLOOR_SQLITE_PATH"])


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with _writer() as writes:
        app.state.writes = writes
        yield


async def _write(request: Request, op: str, node: str, field: str) -> JSONResponse:
    token = request.headers.get("x-acs-dingtalk-access-token")
    union_id = request.query_params.get("unionId")
    space, node = request.path_params["spaceId"], request.path_params[node]
    if not token or not union_id or not space.isdigit() or not node.isdigit():
        return JSONResponse({"code": "paramError"}, status_code=400)
    try:
        name = (await request.json())[field].strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"code": "paramError"}, status_code=400)
    digest = hashlib.sha256(token.encode()).hexdigest()
    try:
        row = await request.app.state.writes[op](digest, union_id, int(space), int(node), name)
    except Refused as exc:
        return JSONResponse({"code": exc.code}, status_code=exc.status)
    return JSONResponse({"dentry": row})


async def add_folder(request: Request) -> JSONResponse:
    return await _write(request, "add_folder", "parentId", "name")


async def rename_dentry(request: Request) -> JSONResponse:
    return await _write(request, "rename", "dentryId", "newName")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


app = Starlette(
    routes=[
        Route(
            "/v1.0/storage/spaces/{spaceId}/dentries/{parentId}/folders",
            add_folder,
            methods=["POST"],
        ),
        Route(
            "/v1.0/storage/spaces/{spaceId}/dentries/{dentryId}/rename",
            rename_dentry,
            methods=["POST"],
        ),
        Route("/healthz", healthz),
    ],
    lifespan=lifespan,
)
