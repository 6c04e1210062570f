"""What the dentry services share: parsing ids and page tokens, finding a caller's space and
folders (and checking the operator's role on them), placing a name under a conflict strategy,
and turning rows into ``models.Dentry``.

Who may act: the operator's role on the node an operation touches (docs/permissions.md,
service/access.py), checked right after the node is found, before anything changes. A space of
another org does not exist for the caller (404 ``spaceNotExist``).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.engine import queue, worker
from dingstore.service import access, models, names
from dingstore.store import dentries, properties, spaces, subtree
from dingstore.store.base import Connection, Writer

MAX_ID = 2**63 - 1
STRATEGIES = ("AUTO_RENAME", "OVERWRITE", "RETURN_DENTRY_IF_EXISTS", "RETURN_ERROR_IF_EXISTS")


def parse_id(text: str | None, field: str, *, root_ok: bool = False) -> int:
    """A decimal id (``"0"``, the root, only where ``root_ok``) or ``paramError.<field>``."""
    if text is not None and text.isascii() and text.isdigit() and len(text) <= 19:
        value = int(text)
        if (value == 0 and root_ok) or 0 < value <= MAX_ID:
            return value
    raise errors.param_error(field, f"{field} must be a decimal id, got {text!r}")


def strategy(value: str | None) -> str:
    if value is None:
        return "AUTO_RENAME"
    if value not in STRATEGIES:
        raise errors.param_error(
            "conflictStrategy", f"conflictStrategy must be one of {', '.join(STRATEGIES)}"
        )
    return value


def page_size(value: int | None, *, default: int, maximum: int) -> int:
    if value is None:
        return default
    if not 1 <= value <= maximum:
        raise errors.param_error("maxResults", f"maxResults must be between 1 and {maximum}")
    return value


def client_json(text: str | bytes) -> Any:
    """``text`` decoded as JSON, or None when it is not JSON or nests too deep to decode: what a
    client sends never raises past the edge."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def encode_token(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(values)).encode()).decode().rstrip("=")


def decode_token(token: str | None, arity: int, *, text: bool = False) -> list[Any] | None:
    """A ``nextToken`` this server issued (an opaque base64 of the last row's sort keys: 64-bit
    integers, or strings without NUL where ``text``)."""
    if not token:
        return None
    try:
        values = client_json(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        values = None
    if (
        not isinstance(values, list)
        or len(values) != arity
        or not all(
            isinstance(v, str) and "\x00" not in v
            if text
            else type(v) is int and -MAX_ID - 1 <= v <= MAX_ID
            for v in values
        )
    ):
        raise errors.param_error("nextToken", "nextToken is not one this server issued")
    return values


class TreeLocked:
    """A task kind's handler whose every step first takes the org's tree lock, as a request
    about to change the tree does (``space(..., write=True)``): steps change the org's tree
    (rows, subtree sizes, quotas) too, so neither deadlocks nor reads sizes the other is
    changing."""

    def __init__(self, handler: worker.Handler) -> None:
        self.handler = handler

    async def start(self, conn: Writer, task: queue.Claimed) -> tuple[int, worker.Step]:
        await subtree.lock_tree(conn, task.corp_id)
        return await self.handler.start(conn, task)

    async def step(self, conn: Writer, task: queue.Claimed, limit: int) -> worker.Step:
        await subtree.lock_tree(conn, task.corp_id)
        return await self.handler.step(conn, task, limit)


def tree_locked(handlers: Mapping[str, worker.Handler]) -> dict[str, worker.Handler]:
    """``handlers``, each taking the org's tree lock first (``TreeLocked``)."""
    return {kind: TreeLocked(handler) for kind, handler in handlers.items()}


async def space(
    conn: Connection, actor: models.Actor, space_id: str, *, write: bool = False
) -> RowMapping:
    """The caller's space. ``write``: the request is about to change the org's tree — take the
    org's tree lock first (store/subtree.py), so that what it checks holds until it commits."""
    number = parse_id(space_id, "spaceId")
    if write:
        assert isinstance(conn, Writer), "a change takes write()'s connection"
        await subtree.lock_tree(conn, actor.corp_id)
    row = await spaces.get(conn, number)
    if row is None or row.corp_id != actor.corp_id:
        raise errors.SPACE_NOT_EXIST.error(f"space {space_id} does not exist")
    return row


async def dentry(conn: Connection, space_id: int, dentry_id: str) -> RowMapping:
    """A live dentry: itself and every ancestor not deleted, or 404 ``dentryNotExist``."""
    row = await dentries.get(conn, space_id, parse_id(dentry_id, "dentryId"))
    if row is None or not await _reachable(conn, int(row.parent_id)):
        raise errors.DENTRY_NOT_EXIST.error(f"dentry {dentry_id} does not exist")
    return row


async def dentry_for(
    conn: Connection, actor: models.Actor, space: RowMapping, dentry_id: str, need: access.Role
) -> RowMapping:
    """The live dentry (404 ``dentryNotExist``), if the operator holds ``need`` on it (else 403
    ``permissionDenied``). One walk up its ancestors serves both, and the path ``view`` shows."""
    row = await dentries.get(conn, int(space.id), parse_id(dentry_id, "dentryId"))
    above = None if row is None else await _chain(conn, actor, int(row.parent_id))
    if row is None or above is None or above.path is None:
        raise errors.DENTRY_NOT_EXIST.error(f"dentry {dentry_id} does not exist")
    await access.require(conn, actor, space, int(row.id), need, chain=(int(row.id), *above.ids))
    return row


async def folder_for(
    conn: Connection, actor: models.Actor, space: RowMapping, folder_id: int, need: access.Role
) -> RowMapping | None:
    """The live folder (None for the root), if the operator holds ``need`` on it."""
    chain = await _chain(conn, actor, folder_id)
    row = None if folder_id == 0 else await dentries.get(conn, int(space.id), folder_id)
    if chain is None or chain.path is None or (folder_id and (row is None or row.type != "FOLDER")):
        raise errors.DENTRY_NOT_EXIST.error(f"folder {folder_id} does not exist")
    await access.require(conn, actor, space, folder_id, need, chain=chain.ids)
    return row


async def _chain(conn: Connection, actor: models.Actor, folder_id: int) -> dentries.Chain | None:
    """The folder's chain, walked once per request (``Actor.memo``); None if it has no row."""
    memo: dict[int, dentries.Chain] = actor.memo.setdefault("chains", {})
    if folder_id not in memo:
        memo.update(await dentries.folder_chains(conn, [folder_id]))
    return memo.get(folder_id)


async def _reachable(conn: Connection, folder_id: int) -> bool:
    """The folder and all its ancestors are live (a recycled folder hides its whole subtree)."""
    return folder_id == 0 or (await dentries.folder_paths(conn, [folder_id]))[folder_id] is not None


async def folder(conn: Connection, space_id: int, folder_id: int) -> RowMapping | None:
    """The live folder (None for the root), or 404 ``dentryNotExist``."""
    if folder_id == 0:
        return None
    row = await dentries.get(conn, space_id, folder_id)
    if row is None or row.type != "FOLDER" or not await _reachable(conn, int(row.parent_id)):
        raise errors.DENTRY_NOT_EXIST.error(f"folder {folder_id} does not exist")
    return row


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new entry goes: its final ``name``, and the live sibling that held it, if any.

    ``existing`` is set only for OVERWRITE and RETURN_DENTRY_IF_EXISTS; with AUTO_RENAME the
    name is already free."""

    name: str
    existing: RowMapping | None = None


async def place(
    conn: Connection,
    space_id: int,
    parent_id: int,
    name: str,
    how: str,
    *,
    is_file: bool,
    conflict: errors.ErrorCode[errors.BadRequest] = errors.DENTRY_ALREADY_EXIST,
) -> Placement:
    existing = await dentries.child(conn, space_id, parent_id, name)
    if existing is None:
        return Placement(name)
    if how == "AUTO_RENAME":
        prefix = names.rename_prefix(name, is_file=is_file)
        taken = await dentries.names_starting(conn, space_id, parent_id, prefix)
        return Placement(names.renamed(name, taken, is_file=is_file))
    if how == "RETURN_ERROR_IF_EXISTS":
        raise conflict.error(f"{name!r} already exists in the target folder")
    if how == "OVERWRITE" and (existing.type == "FILE") != is_file:
        raise conflict.error(f"{name!r} exists as a {existing.type.lower()}: cannot overwrite")
    return Placement(name, existing)


_QUOTA_USED_UP = "the space's quota is used up"


async def create(
    conn: Connection,
    actor: models.Actor,
    node_id: int,
    *,
    space_id: int,
    parent_id: int,
    name: str,
    now: int,
    size: int = 0,
    blob_id: int | None = None,
) -> None:
    """Write a new live node that ``actor`` makes at ``now``: a folder, or (given ``blob_id``) a
    file at version 1 with its first version row. Its ancestors grow by it."""
    is_file = blob_id is not None
    await dentries.insert(
        conn,
        id=node_id,
        space_id=space_id,
        parent_id=parent_id,
        name=name,
        type="FILE" if is_file else "FOLDER",
        size=size,
        blob_id=blob_id,
        version=1 if is_file else None,
        status="NORMAL",
        uuid=uuid.uuid4().hex,
        creator_id=actor.union_id,
        modifier_id=actor.union_id,
        created_at=now,
        modified_at=now,
    )
    if is_file:
        await dentries.insert_version(
            conn,
            dentry_id=node_id,
            version=1,
            space_id=space_id,
            name=name,
            size=size,
            blob_id=blob_id,
            modifier_id=actor.union_id,
            created_at=now,
        )


async def charge(conn: Connection, space_id: int, delta: int) -> None:
    if delta and not await spaces.charge(conn, space_id, delta):
        raise errors.SPACE_QUOTA_INSUFFICIENT.error(_QUOTA_USED_UP)


async def check_room(conn: Connection, space_id: int, size: int) -> None:
    """Refuse (``spaceQuotaInsufficient``) when ``size`` more bytes would not fit the space."""
    space = await spaces.get(conn, space_id)
    if space is not None and space.quota is not None and space.used_quota + size > space.quota:
        raise errors.SPACE_QUOTA_INSUFFICIENT.error(_QUOTA_USED_UP)


async def views(
    conn: Connection,
    actor: models.Actor,
    rows: Sequence[RowMapping],
    *,
    app_ids: Sequence[str] | None = None,
) -> list[models.Dentry]:
    """Rows as the API shows them: with paths and the app properties the caller may see
    (PUBLIC ones of every app and its own PRIVATE ones, limited to ``app_ids`` if given)."""
    parents = {int(r.parent_id) for r in rows}
    known: dict[int, dentries.Chain] = actor.memo.get("chains", {})
    paths = {f: known[f].path for f in parents if f in known}
    if len(paths) < len(parents):
        paths.update(await dentries.folder_paths(conn, parents - paths.keys()))
    rows = _under(rows, paths)
    props: dict[int, dict[str, list[models.AppProperty]]] = {}
    for p in await properties.of(conn, [int(r.id) for r in rows]):
        if p.visibility != "PUBLIC" and p.owner_id != actor.app_id:
            continue
        if app_ids is not None and p.owner_id not in app_ids:
            continue
        props.setdefault(int(p.dentry_id), {}).setdefault(p.owner_id, []).append(
            models.AppProperty(p.name, p.value, p.visibility)
        )
    return [
        models.Dentry(
            id=int(r.id),
            space_id=int(r.space_id),
            parent_id=int(r.parent_id),
            type=r.type,
            name=r.name,
            path=f"{paths[int(r.parent_id)]}/{r.name}",
            size=int(r.size) if r.type == "FILE" else None,
            version=int(r.version) if r.type == "FILE" else None,
            status=r.status,
            extension=names.extension(r.name) if r.type == "FILE" else None,
            uuid=r.uuid,
            creator_id=r.creator_id,
            modifier_id=r.modifier_id,
            created_at=int(r.created_at),
            modified_at=int(r.modified_at),
            app_properties=props.get(int(r.id), {}),
        )
        for r in rows
    ]


async def visible(conn: Connection, rows: Sequence[RowMapping]) -> list[RowMapping]:
    """The rows not under a recycled folder: those a listing may show."""
    return _under(rows, await dentries.folder_paths(conn, {int(r.parent_id) for r in rows}))


def _under(rows: Sequence[RowMapping], paths: dict[int, str | None]) -> list[RowMapping]:
    return [r for r in rows if paths.get(int(r.parent_id)) is not None]


async def view(conn: Connection, actor: models.Actor, row: RowMapping) -> models.Dentry:
    return (await views(conn, actor, [row]))[0]
