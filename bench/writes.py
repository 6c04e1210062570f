"""Benchmark single small writes (AddFolder, RenameDentry, CommitFile, AddPermission) against a
floor doing the same.

What is measured
----------------
Throughput (requests/s) and latency (p50, p99) of the real ``dingstore serve`` — one uvicorn
worker, on a fresh store — answering each operation, loaded by ``wrk`` (one thread) at
``--connections`` (default 16) for ``--duration`` seconds (default 10):

* AddFolder (``POST /v1.0/storage/spaces/{spaceId}/dentries/0/folders?unionId=U``), asking
  ``conflictStrategy: RETURN_ERROR_IF_EXISTS``, so that a name taken twice would answer an error
  (and fail the run) instead of being renamed;
* RenameDentry (``POST …/dentries/{dentryId}/rename``) of the ``--targets`` folders (default 64)
  seeded at the root of each space, in turn;
* CommitFile (``POST /v1.0/storage/spaces/{spaceId}/files/commit``) of a new file at the root,
  ``RETURN_ERROR_IF_EXISTS``;
* AddPermission (``POST …/dentries/{dentryId}/permissions``): EDITOR on a seeded folder, in turn,
  for a department of the org (a DEPT member needs no row of its own, so every request grants a
  new member).

A wrk Lua script gives every request a name of its own (a load prefix, the wrk thread and a
request number): the new folder's or file's name, the new name, the department's id.

CommitFile needs an upload first. The upload protocol (GetFileUploadInfo, then the PUT of the
bytes) is two more requests that this benchmark does not measure (``bench/files.py`` does): the
uploads are seeded before the loads, as GetFileUploadInfo and the PUT would have left them — an
``uploads`` row per request the load may send, keyed by the name that request will use, and the
10 bytes of its blob as a file where the blob store keeps it (``DATA_DIR/blobs/blobs/<blobId>``,
written directly, then synced once). CommitFile itself is measured whole: it takes the upload
(single use), checks that the bytes are there and their size (a ``stat``), records the blob,
places the name, writes the file and its first version and charges the space. The seeded uploads
allow ``--upload-rate`` commits a second (default 3,000); a load that would need more fails.

Layouts
-------
``--layouts`` (default ``spaces`` on SQLite, ``spaces,orgs`` on PostgreSQL): ``spaces`` spreads
the writes over ``--spaces`` spaces (default 8) of one org (the bootstrap org, its admin acting);
``orgs`` over as many orgs, one space each (each org's own admin, app and token: the Lua script
sends each request with its org's token). Both are seeded in the same store. With both, the
report gives, for each operation and server, the ratio of the ``spaces`` layout's requests/s to
the ``orgs`` layout's: what one org's writes lose to whatever serializes an org (issue 14:
≥ 0.8 on PostgreSQL). On SQLite every write takes the one writer in turn, whatever its org.
The floor's own ratio (it serializes nothing by org) shows how far the machine's noise moves
it. Every other operation runs the layouts in the other order.

Each load also records the server process's CPU time per request (``CPU µs/req``, from /proc,
as ``get_task.py`` does): on a loaded machine it moves much less than requests/s.

The floor
---------
``bench/floor_writes.py``: a bare Starlette app on the same uvicorn setup doing what the
operation must in ONE transaction on the same store with the same durability (its docstring
lists the statements of each) — on SQLite (WAL + ``synchronous = FULL``, one stdlib ``sqlite3``
connection, the whole transaction one call on its own thread) or PostgreSQL (an asyncpg pool of
10). Same wrk load, same run, one server after the other.

The store is checked after each load: the names it wrote are each once in their space (or on
their node), on live entries at a root, and the highest request number among them lies between
wrk's completed requests and that plus twice the connections (requests cut off in flight may
have committed; a request built but not sent leaves a gap); AddFolder and CommitFile made that
many folders or files (each file with its version, its blob and its upload used up),
RenameDentry renamed every seeded folder, AddPermission granted that many members.

Run: ``.venv/bin/python bench/writes.py [--backend sqlite|postgres] [--duration 10]
[--connections 16] [--ops add_folder,rename_dentry,commit_file,add_permission]
[--layouts spaces,orgs]`` (needs ``wrk`` on PATH). Results go to ``bench/results/writes.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import common
import httpx
import stores
from common import (
    BENCH_DIR,
    TOKEN_HEADER,
    BenchError,
    Server,
    Tenant,
    dingstore_server,
    err,
    free_port,
    git_revision,
    out,
    pg_database,
    running,
    temp_dir,
    wait_ready,
    widen_output,
)
from get_task import Load, cpu_seconds, parse_wrk, require_wrk
from rich.table import Table
from stores import open_sql

if TYPE_CHECKING:
    from dingstore.service.container import Services

WARMUP_S = 2
WRK_THREAD = 1  # wrk -t1: the thread number in every name the load writes
UPLOAD_BYTES = b"0123456789"
BLOB_IDS = 9_000_000_000_000  # the seeded uploads' blobs, far above the ids the store allocates

# Each item the load takes in turn is "tenant:space:dentry" (the dentry 0 where the operation
# names none); each tenant "token:unionId:corpId".
_LUA_COMMON = r"""
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local prefix, n, items, tenants = "x", 0, {}, {}
function init(args)
  prefix = args[1] .. "-" .. tostring(tid)
  for t, s, d in string.gmatch(args[2], "(%d+):(%d+):(%d+)") do
    items[#items + 1] = {tenant = tonumber(t), space = s, dentry = d}
  end
  for token, union, corp in string.gmatch(args[3], "(%w+):(%w+):(%w+)") do
    local headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    headers["Content-Type"] = "application/json"
    headers["x-acs-dingtalk-access-token"] = token
    tenants[#tenants + 1] = {headers = headers, union = union, corp = corp}
  end
end
function request()
  n = n + 1
  local item = items[(n % #items) + 1]
  local tenant = tenants[item.tenant]
  local path, body = build(item, tenant, prefix .. "-" .. n)
  return wrk.format("POST", path .. "?unionId=" .. tenant.union, tenant.headers, body)
end
local function space_path(item)
  return "/v1.0/storage/spaces/" .. item.space
end
"""

LUA_BUILD = {
    "add_folder": r"""
function build(item, tenant, name)
  return space_path(item) .. "/dentries/0/folders",
    '{"name":"' .. name .. '","option":{"conflictStrategy":"RETURN_ERROR_IF_EXISTS"}}'
end
""",
    "rename_dentry": r"""
function build(item, tenant, name)
  return space_path(item) .. "/dentries/" .. item.dentry .. "/rename",
    '{"newName":"' .. name .. '"}'
end
""",
    "commit_file": r"""
function build(item, tenant, name)
  return space_path(item) .. "/files/commit",
    '{"uploadKey":"' .. name .. '","name":"' .. name ..
    '","parentId":"0","option":{"conflictStrategy":"RETURN_ERROR_IF_EXISTS"}}'
end
""",
    "add_permission": r"""
function build(item, tenant, name)
  return space_path(item) .. "/dentries/" .. item.dentry .. "/permissions",
    '{"roleId":"EDITOR","members":[{"type":"DEPT","id":"' .. name ..
    '","corpId":"' .. tenant.corp .. '"}]}'
end
""",
}


@dataclass(frozen=True)
class Layout:
    """Where a load's writes go: the tenants, and for each space (in the order the load takes
    them) its tenant (an index into ``tenants``); the seeded folders, ``(tenant, space,
    folder)``."""

    key: str  # spaces | orgs
    tenants: list[Tenant]
    spaces: list[tuple[int, int]]
    targets: list[tuple[int, int, int]]

    def tenant_arg(self) -> str:
        return ",".join(f"{t.token}:{t.union_id}:{t.corp_id}" for t in self.tenants)


@dataclass(frozen=True)
class Checked:
    rows: int  # the entries (grants) made or renamed during the load
    distinct: int  # distinct (space or node, name) among them
    last: int  # the highest request number among their names


@dataclass(frozen=True)
class Op:
    key: str
    title: str
    short: str  # in the names it writes, which must differ from every other load's
    on_targets: bool  # it acts on the seeded folders (else on the spaces' roots)

    def items(self, layout: Layout) -> list[tuple[int, int, int]]:
        """(tenant, space, dentry) in the order the load takes them (``items[n % len]`` for
        request ``n``)."""
        if self.on_targets:
            return list(layout.targets)
        return [(t, s, 0) for t, s in layout.spaces]

    def lua(self) -> str:
        return _LUA_COMMON + LUA_BUILD[self.key]


OPS = {
    "add_folder": Op("add_folder", "AddFolder", "af", on_targets=False),
    "rename_dentry": Op("rename_dentry", "RenameDentry", "rn", on_targets=True),
    "commit_file": Op("commit_file", "CommitFile", "cf", on_targets=False),
    "add_permission": Op("add_permission", "AddPermission", "ap", on_targets=True),
}
LAYOUTS = ("spaces", "orgs")


# --- setup -------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_backend_args(parser)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per server")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--spaces", type=int, default=8, help="spaces (orgs) the writes spread over"
    )
    parser.add_argument(
        "--targets", type=int, default=64, help="folders per space that RenameDentry renames"
    )
    parser.add_argument("--ops", default=",".join(OPS), help=f"some of {','.join(OPS)}")
    parser.add_argument(
        "--layouts",
        default=None,
        help="spaces (of one org), orgs (one space each) or both; default: spaces on sqlite, "
        "both on postgres",
    )
    parser.add_argument(
        "--upload-rate",
        type=int,
        default=3000,
        help="CommitFile: uploads seeded per second of load, per server",
    )
    parser.add_argument(
        "--subscribed",
        action="store_true",
        help="each org's app subscribes to its org's change events: every write also writes one",
    )
    args = parser.parse_args(argv)
    if min(args.duration, args.connections, args.spaces, args.targets, args.upload_rate) <= 0:
        parser.error("--duration, --connections, --spaces, --targets, --upload-rate: positive")
    args.ops = [o.strip() for o in args.ops.split(",") if o.strip()]
    if not args.ops or any(o not in OPS for o in args.ops):
        parser.error(f"--ops: some of {','.join(OPS)}")
    default = "spaces,orgs" if args.backend == "postgres" else "spaces"
    args.layouts = [x.strip() for x in (args.layouts or default).split(",") if x.strip()]
    if not args.layouts or any(x not in LAYOUTS for x in args.layouts):
        parser.error("--layouts: some of spaces,orgs")
    return args


async def _spaces_of(
    svc: Services, actor: Any, tenant: int, count: int, targets: int, tag: str
) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    """``count`` new spaces of the actor's org with ``targets`` folders at each root."""
    from dingstore.service.spaces import NewSpace

    spaces, folders = [], []
    for i in range(count):
        new = NewSpace(name=f"writes {tag} {i}", scene="bench", scene_id=f"{tag}{i}")
        space = str((await svc.spaces.add(actor, new)).id)
        spaces.append((tenant, int(space)))
        for j in range(targets):
            made = await svc.dentries.add_folder(actor, space, "0", f"target-{j}", None)
            folders.append((tenant, int(space), int(made.id)))
    return spaces, folders


async def _subscribe(svc: Services, tenants: set[Tenant]) -> None:
    """Subscribe each tenant's app to its org's change events (``--subscribed``)."""
    from dingstore.store import events

    for tenant in tenants:
        principal = await svc.tokens.authenticate(tenant.token)
        async with svc.db.write() as conn:
            corp_id = principal.corp_id
            await events.subscribe(conn, corp_id, principal.app_id, "ORG", corp_id, now=0)


async def seed(
    data_dir: Path, port: int, database_url: str | None, args: argparse.Namespace
) -> dict[str, Layout]:
    """A migrated store with the bootstrap org, admin, app and token; for the ``spaces`` layout
    ``--spaces`` spaces of that org, for ``orgs`` as many more orgs (each with its admin, app,
    token and one space); ``--targets`` folders at the root of each space."""
    from dingstore.service import models

    layouts: dict[str, Layout] = {}
    async with common.fresh_services(data_dir, port, database_url) as (svc, boot):
        first = Tenant(boot.token, boot.union_id, boot.corp_id)
        if "spaces" in args.layouts:
            admin = await common.actor(svc, boot)
            spaces, folders = await _spaces_of(svc, admin, 0, args.spaces, args.targets, "s")
            layouts["spaces"] = Layout("spaces", [first], spaces, folders)
        if "orgs" in args.layouts:
            tenants, spaces, folders = [], [], []
            for i in range(args.spaces):
                org = await svc.identity.create_org(f"writes org {i}")
                user = await svc.identity.create_user(org.corp_id, "admin", admin=True)
                made = await svc.identity.create_app(org.corp_id, "bench")
                assert made.app.app_key is not None
                token = await svc.tokens.issue_for_app(made.app.app_key, made.app_secret)
                tenants.append(Tenant(token.access_token, user.union_id, org.corp_id))
                principal = await svc.tokens.authenticate(token.access_token)
                actor = models.Actor(principal, user, svc.clock)
                more, under = await _spaces_of(svc, actor, i, 1, args.targets, f"o{i}-")
                spaces += more
                folders += under
            layouts["orgs"] = Layout("orgs", tenants, spaces, folders)
        if "commit_file" in args.ops:
            await seed_uploads(svc, data_dir, layouts, args)
        if args.subscribed:
            await _subscribe(svc, {t for layout in layouts.values() for t in layout.tenants})
        await common.analyze(svc)
    return layouts


def load_tag(server: str, layout: str, op: Op) -> str:
    """What the names of one server's load of ``op`` on ``layout`` begin with."""
    return f"{server}{layout[0]}{op.short}"


def upload_keys(tag: str, items: list[tuple[int, int, int]], args: argparse.Namespace) -> Any:
    """(upload key, item) for every CommitFile a load tagged ``tag`` may send: the one checked
    by hand, then the warm-up's and the run's (each key the name its request sends)."""
    yield f"{tag}-first", items[0]
    for phase, seconds in (("warm", WARMUP_S), ("run", args.duration)):
        for n in range(1, args.upload_rate * seconds + 2 * args.connections + 1):
            yield f"{tag}-{phase}-{WRK_THREAD}-{n}", items[n % len(items)]


async def seed_uploads(
    svc: Services, data_dir: Path, layouts: dict[str, Layout], args: argparse.Namespace
) -> None:
    """The uploads CommitFile takes (see the module's docstring): rows as GetFileUploadInfo
    writes them, and the bytes of each blob as the PUT leaves them."""
    import sqlalchemy as sa

    from dingstore.store import schema

    op, now = OPS["commit_file"], svc.clock.now_ms()
    blob_dir = data_dir / "blobs" / "blobs"
    blob_dir.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for layout in layouts.values():
        items = op.items(layout)
        for server in ("ds", "fl"):
            for key, (tenant, space, _) in upload_keys(
                load_tag(server, layout.key, op), items, args
            ):
                blob_id = BLOB_IDS + len(rows)
                (blob_dir / str(blob_id)).write_bytes(UPLOAD_BYTES)
                owner = layout.tenants[tenant]
                rows.append(
                    dict(
                        upload_key=key, corp_id=owner.corp_id, space_id=space,
                        creator_id=owner.union_id, blob_id=blob_id, multipart_id=None, size=None,
                        md5=None, name=None, parent_id=None, created_at=now,
                        expires_at=now + 86_400_000,
                    )
                )  # fmt: skip
    os.sync()
    async with svc.db.write() as conn:
        for at in range(0, len(rows), 5000):
            await conn.execute(sa.insert(schema.uploads), rows[at : at + 5000])
    err.print(f"[dim]seeded {len(rows):,} uploads for CommitFile[/dim]")


def floor_server(data_dir: Path, port: int, database_url: str | None) -> Server:
    env = dict(os.environ)
    env["FLOOR_BLOB_ROOT"] = str(data_dir / "blobs")
    if database_url:
        env["FLOOR_DATABASE_URL"] = database_url
        env["FLOOR_POOL_SIZE"] = "10"
    else:
        env["FLOOR_SQLITE_PATH"] = str(data_dir / "dingstore.db")
    cmd = [sys.executable, "-m", "uvicorn", "floor_writes:app", "--app-dir", str(BENCH_DIR)]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
    cmd += ["--no-access-log", "--log-level", "warning"]
    return Server("floor (bare Starlette, one transaction)", cmd, env, port, "/healthz")


def write_once(base: str, op: Op, layout: Layout, name: str) -> None:
    """One write must answer 200 with what it made: never benchmark errors."""
    tenant_index, space, dentry = op.items(layout)[0]
    tenant = layout.tenants[tenant_index]
    prefix = f"/v1.0/storage/spaces/{space}"
    body: dict[str, Any]
    if op.key == "add_folder":
        path = f"{prefix}/dentries/0/folders"
        body = {"name": name, "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}}
    elif op.key == "rename_dentry":
        path, body = f"{prefix}/dentries/{dentry}/rename", {"newName": name}
    elif op.key == "commit_file":
        path = f"{prefix}/files/commit"
        body = {"uploadKey": name, "name": name, "parentId": "0",
                "option": {"conflictStrategy": "RETURN_ERROR_IF_EXISTS"}}  # fmt: skip
    else:
        path = f"{prefix}/dentries/{dentry}/permissions"
        member = {"type": "DEPT", "id": name, "corpId": tenant.corp_id}
        body = {"roleId": "EDITOR", "members": [member]}
    response = httpx.post(
        base + path,
        params={"unionId": tenant.union_id},
        headers={TOKEN_HEADER: tenant.token},
        json=body,
        timeout=10,
    )
    if response.status_code != 200:
        raise BenchError(f"POST {path} answered {response.status_code}: {response.text[:300]}")
    answer = response.json()
    if op.key == "add_permission":
        made = answer.get("success") is True
    else:
        dentry_made = answer.get("dentry") or {}
        kind = "FILE" if op.key == "commit_file" else "FOLDER"
        made = dentry_made.get("name") == name and dentry_made.get("type") == kind
    if not made:
        raise BenchError(f"POST {path} answered no {op.title} of {name!r}: {response.text[:300]}")


# --- load --------------------------------------------------------------------------------------


def run_wrk(
    wrk: str, script: Path, base: str, script_args: list[str], duration: int, conns: int
) -> str:
    cmd = [wrk, f"-t{WRK_THREAD}", f"-c{conns}", f"-d{duration}s", "--latency", "-s", str(script)]
    cmd += [base, "--", *script_args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    if done.returncode != 0:
        raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return done.stdout


def _fetch(db: stores.Sql, sql: str, prefix: str) -> list[tuple[Any, ...]]:
    if isinstance(db, stores.SqliteSql):
        return [tuple(r) for r in db.db.execute(sql, {"p": prefix + "-%"}).fetchall()]
    assert isinstance(db, stores.PostgresSql)
    rows = db.loop.run_until_complete(db.conn.fetch(sql.replace(":p", "$1"), prefix + "-%"))
    return [tuple(r) for r in rows]


# Per operation: what its load wrote, as (id, where, name, odd) rows — ``where`` the space (or
# node) a name must be unique in, ``odd`` whatever the row should not be (None when right).
_WRITTEN = {
    "dentries": (
        "SELECT id, space_id, name, type, status, parent_id FROM dentries WHERE name LIKE :p"
    ),
    "grants": (
        "SELECT dentry_id, dentry_id, member_id, role_id, member_type, space_id FROM permissions"
        " WHERE member_id LIKE :p"
    ),
}


def check_store(
    data_dir: Path,
    url: str | None,
    op: Op,
    layout: Layout,
    prefix: str,
    load: Load,
    conns: int,
    seeded_uploads: int,
) -> Checked:
    """What the load left: its names (``<prefix>-<wrk thread>-<request number>``) each once in
    its space (grants: on its node) on a live entry at a root (grants: an EDITOR grant to a
    department), the highest request number at least wrk's completed requests and at most that
    plus twice the connections. AddFolder, CommitFile, AddPermission: that many entries (files
    each with one version and a blob, their uploads used up); RenameDentry: every seeded folder
    renamed, once there were as many requests."""
    db = open_sql(data_dir, url)
    try:
        rows = _fetch(db, _WRITTEN["grants" if op.key == "add_permission" else "dentries"], prefix)
        extra: dict[str, int] = {}
        if op.key == "commit_file":
            for what, sql in (
                ("versions", "SELECT count(*) FROM dentry_versions v JOIN dentries d ON "
                 "d.id = v.dentry_id WHERE d.name LIKE :p"),
                ("blobs", "SELECT count(*) FROM blobs b JOIN dentries d ON d.blob_id = b.id "
                 "WHERE d.name LIKE :p AND b.refcount = 1"),
                ("uploads", "SELECT count(*) FROM uploads WHERE upload_key LIKE :p"),
            ):  # fmt: skip
                extra[what] = int(_fetch(db, sql, prefix)[0][0])
    finally:
        db.close()
    numbers = [int(r[2].rsplit("-", 1)[1]) for r in rows]
    last = max(numbers, default=0)
    distinct = len({(r[1], r[2]) for r in rows})
    want = {
        "add_folder": ("FOLDER", "NORMAL", 0),
        "rename_dentry": ("FOLDER", "NORMAL", 0),
        "commit_file": ("FILE", "NORMAL", 0),
        "add_permission": ("EDITOR", "DEPT"),
    }[op.key]
    odd = [r for r in rows if r[3 : 3 + len(want)] != want]
    if distinct != len(rows) or len(set(numbers)) != len(rows):
        raise BenchError(f"{prefix}: {len(rows)} rows, but names repeat")
    if odd:
        raise BenchError(f"{prefix}: {len(odd)} rows are not what {op.title} makes: {odd[:3]}")
    # wrk numbers a request when it builds it: one per connection may be built and never sent
    # when the load stops, a gap in the numbers but no row.
    if not load.requests <= last <= load.requests + 2 * conns:
        raise BenchError(
            f"{prefix}: the last request number in the store is {last}, for {load.requests} "
            f"answered requests ({conns} connections)"
        )
    if op.key == "rename_dentry":
        seeded = {d for _, _, d in layout.targets}
        if any(r[0] not in seeded for r in rows):
            raise BenchError(f"{prefix}: a renamed row is not one of the seeded folders")
        least = min(len(seeded), load.requests)
        if not least <= len(rows) <= len(seeded):
            raise BenchError(f"{prefix}: {len(rows)} folders renamed, expected at least {least}")
    elif not load.requests <= len(rows) <= load.requests + conns:
        raise BenchError(
            f"{prefix}: {len(rows)} made in the store for {load.requests} answered "
            f"requests ({conns} connections)"
        )
    if op.key == "commit_file" and (
        extra["versions"] != len(rows)
        or extra["blobs"] != len(rows)
        or extra["uploads"] != seeded_uploads - len(rows)
    ):
        raise BenchError(f"{prefix}: {len(rows)} files, but {extra} (of {seeded_uploads} uploads)")
    return Checked(len(rows), distinct, last)


def measure(
    server: Server,
    tag: str,
    op: Op,
    layout: Layout,
    args: argparse.Namespace,
    wrk: str,
    logs: Path,
    data_dir: Path,
    url: str | None,
) -> tuple[Load, Checked]:
    """Start the server, check one request, warm up, load it, stop it, check the store."""
    base = server.base_url
    tag = load_tag(tag, layout.key, op)
    script = logs / f"{op.key}.lua"
    script.write_text(op.lua())
    items = ",".join(f"{t + 1}:{s}:{d}" for t, s, d in op.items(layout))

    def load(prefix: str, seconds: int) -> str:
        script_args = [prefix, items, layout.tenant_arg()]
        return run_wrk(wrk, script, base, script_args, seconds, args.connections)

    err.print(f"[dim]{server.label}: starting on {base}[/dim]")
    with running(server, logs / f"server-{server.port}.log") as proc:
        wait_ready(proc, base + server.ready_path, {})
        write_once(base, op, layout, f"{tag}-first")
        load(f"{tag}-warm", WARMUP_S)
        err.print(
            f"[dim]{server.label}: {op.title} over {layout.key}, {args.duration} s at "
            f"{args.connections} connections[/dim]"
        )
        before = cpu_seconds(proc.pid)
        result = parse_wrk(load(f"{tag}-run", args.duration))
        after = cpu_seconds(proc.pid)
        if before is not None and after is not None and result.requests:
            cpu = round((after - before) / result.requests * 1e6, 1)
            result = dataclasses.replace(result, cpu_us_per_request=cpu)
        if proc.poll() is not None:
            raise BenchError(f"the server exited ({proc.returncode}) during the load")
    if any(result.socket_errors.values()):
        err.print(f"[yellow]{server.label}: wrk socket errors {result.socket_errors}[/yellow]")
    seeded = args.upload_rate * args.duration + 2 * args.connections
    checked = check_store(data_dir, url, op, layout, f"{tag}-run", result, args.connections, seeded)
    return result, checked


# --- report ------------------------------------------------------------------------------------

Measured = tuple[Load, Checked]


def report(
    measured: dict[tuple[str, str], tuple[Measured, Measured]], settings: dict[str, Any]
) -> dict[str, Any]:
    table = Table(
        title=f"Small writes — {settings['backend']}, {settings['connections']} connections, "
        f"{settings['spaces']} spaces or orgs, {settings['duration_s']} s"
    )
    for column in ("operation", "layout", "server"):
        table.add_column(column)
    for column in (
        "requests/s",
        "p50 ms",
        "p99 ms",
        "CPU µs/req",
        "rows checked",
        "ratio to floor",
    ):
        table.add_column(column, justify="right")
    results: dict[str, Any] = {"settings": settings}
    for (key, layout), (dingstore, floor) in measured.items():
        ratio = dingstore[0].requests_per_s / floor[0].requests_per_s
        for label, (load, checked), shown in (
            ("dingstore", dingstore, f"{ratio:.2f}"),
            ("floor", floor, "1.00"),
        ):
            table.add_row(
                OPS[key].title,
                layout,
                label,
                f"{load.requests_per_s:,.0f}",
                f"{load.p50_ms:.2f}",
                f"{load.p99_ms:.2f}",
                "" if load.cpu_us_per_request is None else f"{load.cpu_us_per_request:.0f}",
                f"{checked.rows:,}",
                shown,
            )
        results.setdefault(key, {})[layout] = {
            "dingstore": {**asdict(dingstore[0]), "store": asdict(dingstore[1])},
            "floor": {**asdict(floor[0]), "store": asdict(floor[1])},
            "ratio": round(ratio, 4),
        }
    out.print(table)
    out.print("issue 14 target: ratio ≥ 0.5 for each operation")
    for key in OPS:
        both = results.get(key, {})
        if "spaces" in both and "orgs" in both:
            one_org = {
                server: both["spaces"][server]["requests_per_s"]
                / both["orgs"][server]["requests_per_s"]
                for server in ("dingstore", "floor")
            }
            both["spaces_over_orgs"] = {s: round(r, 4) for s, r in one_org.items()}
            out.print(
                f"{OPS[key].title}: spaces of one org / eight orgs: dingstore "
                f"{one_org['dingstore']:.2f}, floor {one_org['floor']:.2f} (target on "
                "PostgreSQL: dingstore ≥ 0.8)"
            )
    return results


# --- main --------------------------------------------------------------------------------------


def run(args: argparse.Namespace, wrk: str, stack: contextlib.ExitStack) -> dict[str, Any]:
    widen_output()
    tmp = temp_dir(stack)
    data_dir, logs = tmp / "data", tmp

    url: str | None = None
    if args.backend == "postgres":
        url = stack.enter_context(pg_database(args.pg_url))

    port, floor_port = free_port(), free_port()
    layouts = asyncio.run(seed(data_dir, port, url, args))

    measured = {}
    for n, key in enumerate(args.ops):
        op = OPS[key]
        # Every other operation takes the layouts the other way round: whatever the first load
        # after another pays (the database settling after the seeding) falls on each in turn.
        for layout in list(layouts.values())[:: -1 if n % 2 else 1]:
            server = dingstore_server(data_dir, port, url, f"dingstore {op.title}")
            dingstore = measure(server, "ds", op, layout, args, wrk, logs, data_dir, url)
            floor = floor_server(data_dir, floor_port, url)
            floor_result = measure(floor, "fl", op, layout, args, wrk, logs, data_dir, url)
            measured[(key, layout.key)] = (dingstore, floor_result)

    settings: dict[str, Any] = {
        "backend": args.backend,
        "duration_s": args.duration,
        "connections": args.connections,
        "spaces": args.spaces,
        "layouts": args.layouts,
        "rename_targets_per_space": args.targets,
        "upload_rate": args.upload_rate,
        "wrk_threads": WRK_THREAD,
        "warmup_s": WARMUP_S,
        "floor_sqlite": "stdlib sqlite3, one connection on one thread, WAL, synchronous=FULL",
        "floor_postgres": "asyncpg pool of 10",
        "nproc": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        **git_revision(),
    }
    return report(measured, settings)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    wrk = require_wrk()
    return common.run_benchmark(lambda stack: run(args, wrk, stack), "writes")


if __name__ == "__main__":
    sys.exit(main())
