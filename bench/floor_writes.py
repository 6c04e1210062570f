"""The floor for the small-writes benchmark: the least a Python ASGI server can do for AddFolder,
RenameDentry, CommitFile and AddPermission.

Four Starlette routes, each doing what the operation must in ONE transaction on the store's own
tables, with the driver directly. All four read the token (by its SHA-256, unexpired) and its
app, and the space (it exists, is the app's org's and live). Then:

* AddFolder (``POST …/dentries/{parentId}/folders``): checks that no live sibling holds the
  name, inserts the folder row and touches the space (``modified_at``, ``modifier_id``);
* RenameDentry (``POST …/dentries/{dentryId}/rename``): reads the live row, checks the name
  among its siblings, updates its name, modifier and time;
* CommitFile (``POST /v1.0/storage/spaces/{spaceId}/files/commit``): takes the upload row (a
  ``DELETE … RETURNING`` of the org's key: single use), checks it is of the space and not
  expired, reads the size of its bytes from the blob file (``FLOOR_BLOB_ROOT/blobs/<blobId>``),
  inserts the blob row, checks the name among the live siblings, inserts the file row and its
  first version row and charges the space's quota (``used_quota``, refused past ``quota``);
* AddPermission (``POST …/dentries/{dentryId}/permissions``, one member): reads the live node,
  checks the member (a DEPT or TAG of the org, an ORG that is it), and upserts the grant (an
  APP space's expires in an hour, as dingstore's default).

Commit; answer the row (or ``{"success": true}``) with ``JSONResponse``. No FastAPI, no
middleware, no SQLAlchemy, no pydantic, no tree lock, no permission walk: what dingstore adds on
top of this is what the benchmark's ratio measures. A taken name answers 409 (the bench sends
unique names, so that fails the run).

Configured by environment (``bench/writes.py`` sets it):

* ``FLOOR_SQLITE_PATH`` — the SQLite file, with dingstore's durability: WAL, ``synchronous =
  FULL``. One connection of the stdlib ``sqlite3`` module, owned by a single-thread executor;
  each request's whole transaction (``BEGIN IMMEDIATE`` … ``COMMIT``) is one call on that
  thread, so the event loop is free during the fsync and pays one thread hop per request.
* ``FLOOR_DATABASE_URL`` — a PostgreSQL URL; an asyncpg pool of ``FLOOR_POOL_SIZE`` (default
  10), one ``conn.transaction()`` per request, the server's default ``synchronous_commit``.
* ``FLOOR_BLOB_ROOT`` — where the blob store keeps its files (``DATA_DIR/blobs``).

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Refused(Exception):
    def __init__(self, status: int, code: str) -> None:
        self.status, self.code = status, code


@dataclass(frozen=True)
class Call:
    """One request, parsed: who (the token's digest, the operator), where (space, node: the
    parent or the dentry), and the body's values the operation reads."""

    digest: str
    union_id: str
    space_id: int
    node_id: int
    body: dict[str, Any]


Write = Callable[[Call], Awaitable[dict[str, Any]]]

_TOKEN = (
    "SELECT a.corp_id FROM tokens t JOIN apps a ON a.app_id = t.app_id "
    "WHERE t.token_hash = {0} AND t.expires_at > {1} AND NOT a.disabled"
)
_SPACE = "SELECT corp_id, status, owner_type FROM spaces WHERE id = {0}"
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
_TAKE_UPLOAD = (
    "DELETE FROM uploads WHERE upload_key = {0} AND corp_id = {1} "
    "RETURNING space_id, blob_id, md5, expires_at"
)
_BLOB = "INSERT INTO blobs (id, size, md5, refcount, created_at) VALUES ({0}, {1}, {2}, 1, {3})"
_FILE = (
    "INSERT INTO dentries (id, space_id, parent_id, name, type, size, blob_id, version, status, "
    "uuid, creator_id, modifier_id, created_at, modified_at, descendants, stored) "
    "VALUES ({0}, {1}, {2}, {3}, 'FILE', {4}, {5}, 1, 'NORMAL', {6}, {7}, {7}, {8}, {8}, 0, {4})"
)
_VERSION = (
    "INSERT INTO dentry_versions (dentry_id, version, space_id, name, size, blob_id, "
    "modifier_id, created_at) VALUES ({0}, 1, {1}, {2}, {3}, {4}, {5}, {6})"
)
_CHARGE = (
    "UPDATE spaces SET used_quota = used_quota + {0} "
    "WHERE id = {1} AND (quota IS NULL OR used_quota + {0} <= quota)"
)
_GRANT = (
    "INSERT INTO permissions (space_id, dentry_id, member, role_id, rank, member_type, "
    "member_id, member_corp_id, expires_at, operator_id, created_at, modified_at) "
    "VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}, {8}, {9}, {10}, {10}) "
    "ON CONFLICT (space_id, dentry_id, member, role_id) DO UPDATE SET "
    "expires_at = excluded.expires_at, operator_id = excluded.operator_id, "
    "modified_at = excluded.modified_at"
)
_RANKS = {"READER": 1, "DOWNLOADER": 2, "EDITOR": 3, "MANAGER": 4, "OWNER": 5}
_STATEMENTS = {
    "token": _TOKEN,
    "space": _SPACE,
    "taken": _TAKEN,
    "insert": _INSERT,
    "touch": _TOUCH,
    "node": _NODE,
    "rename": _RENAME,
    "take_upload": _TAKE_UPLOAD,
    "blob": _BLOB,
    "file": _FILE,
    "version": _VERSION,
    "charge": _CHARGE,
    "grant": _GRANT,
}


def _sql(template: str, style: str) -> str:
    """``{n}`` as the driver's n-th parameter: ``?n+1`` (sqlite3) or ``$n+1`` (asyncpg)."""
    return template.format(*(f"{style}{i + 1}" for i in range(12)))


def _row(
    new_id: int,
    call: Call,
    parent_id: int,
    name: str,
    now: int,
    kind: str = "FOLDER",
    size: int | None = None,
) -> dict[str, Any]:
    row = {
        "id": str(new_id),
        "spaceId": str(call.space_id),
        "parentId": str(parent_id),
        "type": kind,
        "name": name,
        "status": "NORMAL",
        "creatorId": call.union_id,
        "modifierId": call.union_id,
        "createTime": now,
        "modifiedTime": now,
    }
    if kind == "FILE":
        row |= {"size": size, "version": 1}
    return row


def _check(corp: Any, space: Any) -> tuple[str, str]:
    """The org and the space's owner type, or the refusal."""
    if corp is None:
        raise Refused(401, "InvalidAuthentication")
    if space is None or space[0] != corp[0] or space[1] != "NORMAL":
        raise Refused(404, "spaceNotExist")
    return str(corp[0]), str(space[2])


def _upload(taken: Any, call: Call, now: int) -> tuple[int, Any]:
    """The taken upload's blob id and md5, if it is of the space and not expired."""
    if taken is None or int(taken[0]) != call.space_id or int(taken[3]) <= now:
        raise Refused(400, "paramError.uploadKey")
    return int(taken[1]), taken[2]


def _blob_size(root: Path, blob_id: int) -> int:
    try:
        return (root / "blobs" / str(blob_id)).stat().st_size
    except FileNotFoundError:
        raise Refused(400, "dentryUploadError") from None


def _grant(call: Call, corp: str, owner_type: str, now: int) -> tuple[Any, ...]:
    """The grant row's values (``_GRANT``), for the body's one member."""
    role = call.body.get("roleId")
    member = (call.body.get("members") or [{}])[0]
    kind, member_id, member_corp = member.get("type"), member.get("id"), member.get("corpId")
    if role not in _RANKS or kind not in ("DEPT", "TAG", "ORG") or not member_id:
        raise Refused(400, "paramError")
    if (member_corp if kind != "ORG" else member_id) != corp:
        raise Refused(400, "paramError.members")
    key = f"{kind}:{corp}:{member_id}" if kind != "ORG" else f"ORG:{member_id}"
    expires = now + 3_600_000 if owner_type == "APP" else None
    return (
        call.space_id,
        call.node_id,
        key,
        role,
        _RANKS[role],
        kind,
        member_id,
        member_corp if kind != "ORG" else None,
        expires,
        call.union_id,
        now,
    )


@contextlib.asynccontextmanager
async def _sqlite(path: str, blob_root: Path) -> AsyncIterator[dict[str, Write]]:
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
    q = {name: _sql(template, "?") for name, template in _STATEMENTS.items()}

    def one(fn: Callable[[int], dict[str, Any]]) -> dict[str, Any]:
        """``fn(now)`` in one write transaction, committed."""
        db.execute("BEGIN IMMEDIATE")
        try:
            row = fn(int(time.time() * 1000))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return row

    def authorized(call: Call, now: int) -> tuple[str, str]:
        corp = db.execute(q["token"], (call.digest, now)).fetchone()
        return _check(corp, db.execute(q["space"], (call.space_id,)).fetchone())

    def free(call: Call, parent: int, name: str) -> None:
        if db.execute(q["taken"], (call.space_id, parent, name)).fetchone() is not None:
            raise Refused(409, "dentryAlreadyExist")

    def add(call: Call) -> dict[str, Any]:
        def body(now: int) -> dict[str, Any]:
            authorized(call, now)
            name, parent = call.body["name"], call.node_id
            free(call, parent, name)
            new_id = next(ids)
            db.execute(
                q["insert"],
                (new_id, call.space_id, parent, name, uuid.uuid4().hex, call.union_id, now),
            )
            db.execute(q["touch"], (now, call.union_id, call.space_id))
            return _row(new_id, call, parent, name, now)

        return one(body)

    def rename(call: Call) -> dict[str, Any]:
        def body(now: int) -> dict[str, Any]:
            authorized(call, now)
            node = db.execute(q["node"], (call.node_id, call.space_id)).fetchone()
            if node is None:
                raise Refused(404, "dentryNotExist")
            name = call.body["newName"]
            free(call, node[0], name)
            db.execute(q["rename"], (name, call.union_id, now, call.node_id))
            return _row(call.node_id, call, node[0], name, now, node[1])

        return one(body)

    def commit(call: Call) -> dict[str, Any]:
        def body(now: int) -> dict[str, Any]:
            corp, _ = authorized(call, now)
            taken = db.execute(q["take_upload"], (call.body["uploadKey"], corp)).fetchone()
            blob_id, md5 = _upload(taken, call, now)
            size = _blob_size(blob_root, blob_id)
            db.execute(q["blob"], (blob_id, size, md5, now))
            name, parent = call.body["name"], call.node_id
            free(call, parent, name)
            new_id = next(ids)
            db.execute(
                q["file"],
                (new_id, call.space_id, parent, name, size, blob_id, uuid.uuid4().hex,
                 call.union_id, now),
            )  # fmt: skip
            db.execute(
                q["version"], (new_id, call.space_id, name, size, blob_id, call.union_id, now)
            )
            if not db.execute(q["charge"], (size, call.space_id)).rowcount:
                raise Refused(400, "spaceQuotaInsufficient")
            return _row(new_id, call, parent, name, now, "FILE", size)

        return one(body)

    def permit(call: Call) -> dict[str, Any]:
        def body(now: int) -> dict[str, Any]:
            corp, owner_type = authorized(call, now)
            if db.execute(q["node"], (call.node_id, call.space_id)).fetchone() is None:
                raise Refused(400, "dentryNotExist")
            db.execute(q["grant"], _grant(call, corp, owner_type, now))
            return {"success": True}

        return one(body)

    def on_thread(fn: Callable[[Call], dict[str, Any]]) -> Write:
        async def call(request: Call) -> dict[str, Any]:
            return await loop.run_in_executor(pool, fn, request)

        return call

    try:
        yield {
            "add_folder": on_thread(add),
            "rename": on_thread(rename),
            "commit": on_thread(commit),
            "permit": on_thread(permit),
        }
    finally:
        await loop.run_in_executor(pool, db.close)
        pool.shutdown()


@contextlib.asynccontextmanager
async def _postgres(url: str, pool_size: int, blob_root: Path) -> AsyncIterator[dict[str, Write]]:
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=pool_size, max_size=pool_size)
    first = await pool.fetchval("SELECT coalesce(max(id), 0) FROM dentries")
    ids = itertools.count(int(first) + 1_000_000)
    q = {name: _sql(template, "$") for name, template in _STATEMENTS.items()}

    async def authorized(conn: Any, call: Call, now: int) -> tuple[str, str]:
        corp = await conn.fetchrow(q["token"], call.digest, now)
        return _check(corp, await conn.fetchrow(q["space"], call.space_id))

    async def free(conn: Any, call: Call, parent: int, name: str) -> None:
        if await conn.fetchval(q["taken"], call.space_id, parent, name) is not None:
            raise Refused(409, "dentryAlreadyExist")

    async def add(call: Call) -> dict[str, Any]:
        now = int(time.time() * 1000)
        name, parent = call.body["name"], call.node_id
        async with pool.acquire() as conn, conn.transaction():
            await authorized(conn, call, now)
            await free(conn, call, parent, name)
            new_id = next(ids)
            await conn.execute(
                q["insert"], new_id, call.space_id, parent, name, uuid.uuid4().hex,
                call.union_id, now,
            )  # fmt: skip
            await conn.execute(q["touch"], now, call.union_id, call.space_id)
        return _row(new_id, call, parent, name, now)

    async def rename(call: Call) -> dict[str, Any]:
        now = int(time.time() * 1000)
        name = call.body["newName"]
        async with pool.acquire() as conn, conn.transaction():
            await authorized(conn, call, now)
            node = await conn.fetchrow(q["node"], call.node_id, call.space_id)
            if node is None:
                raise Refused(404, "dentryNotExist")
            await free(conn, call, node[0], name)
            await conn.execute(q["rename"], name, call.union_id, now, call.node_id)
        return _row(call.node_id, call, node[0], name, now, node[1])

    async def commit(call: Call) -> dict[str, Any]:
        now = int(time.time() * 1000)
        name, parent = call.body["name"], call.node_id
        async with pool.acquire() as conn, conn.transaction():
            corp, _ = await authorized(conn, call, now)
            taken = await conn.fetchrow(q["take_upload"], call.body["uploadKey"], corp)
            blob_id, md5 = _upload(taken, call, now)
            size = _blob_size(blob_root, blob_id)
            await conn.execute(q["blob"], blob_id, size, md5, now)
            await free(conn, call, parent, name)
            new_id = next(ids)
            await conn.execute(
                q["file"], new_id, call.space_id, parent, name, size, blob_id,
                uuid.uuid4().hex, call.union_id, now,
            )  # fmt: skip
            await conn.execute(
                q["version"], new_id, call.space_id, name, size, blob_id, call.union_id, now
            )
            if await conn.execute(q["charge"], size, call.space_id) == "UPDATE 0":
                raise Refused(400, "spaceQuotaInsufficient")
        return _row(new_id, call, parent, name, now, "FILE", size)

    async def permit(call: Call) -> dict[str, Any]:
        now = int(time.time() * 1000)
        async with pool.acquire() as conn, conn.transaction():
            corp, owner_type = await authorized(conn, call, now)
            if await conn.fetchrow(q["node"], call.node_id, call.space_id) is None:
                raise Refused(400, "dentryNotExist")
            await conn.execute(q["grant"], *_grant(call, corp, owner_type, now))
        return {"success": True}

    try:
        yield {"add_folder": add, "rename": rename, "commit": commit, "permit": permit}
    finally:
        await pool.close()


def _writer() -> contextlib.AbstractAsyncContextManager[dict[str, Write]]:
    blob_root = Path(os.environ.get("FLOOR_BLOB_ROOT", "."))
    url = os.environ.get("FLOOR_DATABASE_URL")
    if url:
        return _postgres(url, int(os.environ.get("FLOOR_POOL_SIZE", "10")), blob_root)
    return _sqlite(os.environ["FLOOR_SQLITE_PATH"], blob_root)


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with _writer() as writes:
        app.state.writes = writes
        yield


# What each operation needs in its body: text fields, stripped as dingstore strips names.
_NAMES = {"add_folder": ("name",), "rename": ("newName",), "commit": ("name", "uploadKey")}


async def _write(request: Request, op: str, node: str | None) -> JSONResponse:
    token = request.headers.get("x-acs-dingtalk-access-token")
    union_id = request.query_params.get("unionId")
    space = request.path_params["spaceId"]
    node_text = request.path_params[node] if node else "0"
    if not token or not union_id or not space.isdigit() or not node_text.isdigit():
        return JSONResponse({"code": "paramError"}, status_code=400)
    try:
        body = await request.json()
        for field in _NAMES.get(op, ()):
            body[field] = body[field].strip()
        if op == "commit":
            node_text = body["parentId"]
            if not node_text.isdigit():
                raise ValueError(node_text)
    except (ValueError, KeyError, TypeError, AttributeError):
        return JSONResponse({"code": "paramError"}, status_code=400)
    digest = hashlib.sha256(token.encode()).hexdigest()
    call = Call(digest, union_id, int(space), int(node_text), body)
    try:
        row = await request.app.state.writes[op](call)
    except Refused as exc:
        return JSONResponse({"code": exc.code}, status_code=exc.status)
    return JSONResponse(row if op == "permit" else {"dentry": row})


async def add_folder(request: Request) -> JSONResponse:
    return await _write(request, "add_folder", "parentId")


async def rename_dentry(request: Request) -> JSONResponse:
    return await _write(request, "rename", "dentryId")


async def commit_file(request: Request) -> JSONResponse:
    return await _write(request, "commit", None)


async def add_permission(request: Request) -> JSONResponse:
    return await _write(request, "permit", "dentryId")


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


_DENTRIES = "/v1.0/storage/spaces/{spaceId}/dentries"
app = Starlette(
    routes=[
        Route(_DENTRIES + "/{parentId}/folders", add_folder, methods=["POST"]),
        Route(_DENTRIES + "/{dentryId}/rename", rename_dentry, methods=["POST"]),
        Route(_DENTRIES + "/{dentryId}/permissions", add_permission, methods=["POST"]),
        Route("/v1.0/storage/spaces/{spaceId}/files/commit", commit_file, methods=["POST"]),
        Route("/healthz", healthz),
    ],
    lifespan=lifespan,
)
