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
from typing import Any, TypeVar

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.engine import queue, worker
from dingstore.service import access, models, names
from dingstore.store import dentries, prepared, properties, spaces
from dingstore.store.base import Connection, Writer

MAX_ID = 2**63 - 1
# A dentry row: as read, or as just written (``create``).
_Row = TypeVar("_Row", RowMapping, prepared.Record)
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


# The tree lock. A change to a space's tree takes the lock of that space (its row, locked to the
# end of the transaction: ``store/spaces.py lock``) before it reads what it checks, and a change
# across two spaces (a copy or move) takes both, in the order of their ids, so that no two
# changes deadlock. Changes to different spaces, of one org or of several, never wait for each
# other. On SQLite the single writer already runs one change at a time.
#
# Why a space is enough: every invariant a change checks lies inside the spaces it names.
# * A node's ancestors are all in its space: the checks against moving a folder into itself or
#   merging it into an ancestor (bulk/common.py) read one space's chains, which no change to
#   another space can alter.
# * A task's holds (``tasks.check_free``) name the space of the subtree held; a hold is written
#   by a request holding that space's lock (a copy or move holds both of its spaces'), so the
#   holds of a space a request has locked stay as it read them until it commits, and a task's
#   steps lock the spaces of their payload (``TreeLocked``). A node's subtree and its ancestors
#   are in its space, so no hold of another space bears on it.
# * A space's quota (``used_quota``) and the subtree sizes of its nodes change only under its
#   lock; a move across spaces charges both of its spaces, which it holds.
# * The recycle bin is the org's, but each item is of one space: a restore or a purge locks the
#   spaces of the items it works on (service/recycle.py), and reads them again once it has.


def _task_spaces(payload: Mapping[str, Any]) -> list[int]:
    """The spaces a bulk task's steps change: its payload's ``space`` and ``target_space``."""
    return [int(payload[key]) for key in ("space", "target_space") if payload.get(key) is not None]


class TreeLocked:
    """A task kind's handler whose every step first takes the tree lock of the spaces it changes
    (``_task_spaces``), as a request about to change them does (``space(..., write=True)``):
    steps change those trees (rows, subtree sizes, quotas) too, so neither deadlocks nor reads
    sizes the other is changing."""

    def __init__(self, handler: worker.Handler) -> None:
        self.handler = handler

    async def start(self, conn: Writer, task: queue.Claimed) -> tuple[int, worker.Step]:
        await spaces.lock(conn, _task_spaces(task.payload))
        return await self.handler.start(conn, task)

    async def step(self, conn: Writer, task: queue.Claimed, limit: int) -> worker.Step:
        await spaces.lock(conn, _task_spaces(task.payload))
        return await self.handler.step(conn, task, limit)

    async def cancel(self, conn: Writer, task: queue.Claimed) -> worker.Step | None:
        """The handler's ``cancel`` (``worker.Cancelable``), under the same lock; None (go on)
        when the kind cannot be canceled."""
        cancel = getattr(self.handler, "cancel", None)
        if cancel is None:
            return None
        await spaces.lock(conn, _task_spaces(task.payload))
        return await cancel(conn, task)  # type: ignore[no-any-return]


def tree_locked(handlers: Mapping[str, worker.Handler]) -> dict[str, worker.Handler]:
    """``handlers``, each taking the tree lock of its task's spaces first (``TreeLocked``)."""
    return {kind: TreeLocked(handler) for kind, handler in handlers.items()}


async def lock_spaces(conn: Writer, space_ids: Sequence[str]) -> None:
    """Take the tree lock of each of the spaces (a copy or move: its source and its target) in
    one statement, before any of them is read: ``space(..., write=True)`` then finds each
    locked already. Ids that are not well formed are skipped: ``space`` reports them."""
    numbers = [int(s) for s in space_ids if s and s.isascii() and s.isdigit() and len(s) <= 19]
    await spaces.lock(conn, [n for n in numbers if 0 < n <= MAX_ID])


async def space(
    conn: Connection, actor: models.Actor, space_id: str, *, write: bool = False
) -> RowMapping:
    """The caller's space. ``write``: the request is about to change the space's tree — take
    its tree lock as it is read (see above), so that what it checks holds until it commits."""
    number = parse_id(space_id, "spaceId")
    if write:
        assert isinstance(conn, Writer), "a change takes write()'s connection"
        row = (await spaces.lock(conn, [number])).get(number)
    else:
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
    if_free: bool = False,
) -> prepared.Record | None:
    """Write a new live node that ``actor`` makes at ``now``: a folder, or (given ``blob_id``) a
    file at version 1 with its first version row. Its ancestors grow by it. Returns its row.

    The name is checked as the row is written: with ``if_free`` a name a live sibling holds
    writes nothing and answers None (the caller then applies its conflict strategy: ``place``);
    without, the caller placed the name already, and finding it taken is a conflict."""
    is_file = blob_id is not None
    row = await dentries.insert(
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
    if row is None:
        if if_free:
            return None
        raise errors.OPERATION_CONCURRENT_CONTROL.error(f"{name!r} was taken meanwhile; retry")
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
    return prepared.Record(row)


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
    rows: Sequence[_Row],
    *,
    app_ids: Sequence[str] | None = None,
    own: Sequence[Any] | None = None,
) -> list[models.Dentry]:
    """Rows as the API shows them: with paths and the app properties the caller may see
    (PUBLIC ones of every app and its own PRIVATE ones, limited to ``app_ids`` if given).
    ``own``: the rows are new, and their only properties are these of the caller's app (with
    ``name``, ``value`` and ``visibility``), just written: nothing to read."""
    parents = {int(r.parent_id) for r in rows}
    known: dict[int, dentries.Chain] = actor.memo.get("chains", {})
    paths = {f: known[f].path for f in parents if f in known}
    if len(paths) < len(parents):
        paths.update(await dentries.folder_paths(conn, parents - paths.keys()))
    rows = _under(rows, paths)
    props = await _properties(conn, actor, rows, app_ids) if own is None else {}
    if own:
        mine = [models.AppProperty(p.name, p.value, p.visibility) for p in own]
        mine.sort(key=lambda p: p.name)
        props = {int(r.id): {actor.app_id: mine} for r in rows}
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


async def _properties(
    conn: Connection,
    actor: models.Actor,
    rows: Sequence[_Row],
    app_ids: Sequence[str] | None,
) -> dict[int, dict[str, list[models.AppProperty]]]:
    """The app properties of the rows that the caller may see, by row and app."""
    props: dict[int, dict[str, list[models.AppProperty]]] = {}
    for p in await properties.of(conn, [int(r.id) for r in rows]):
        if p.visibility != "PUBLIC" and p.owner_id != actor.app_id:
            continue
        if app_ids is not None and p.owner_id not in app_ids:
            continue
        props.setdefault(int(p.dentry_id), {}).setdefault(p.owner_id, []).append(
            models.AppProperty(p.name, p.value, p.visibility)
        )
    return props


async def visible(conn: Connection, rows: Sequence[RowMapping]) -> list[RowMapping]:
    """The rows not under a recycled folder: those a listing may show."""
    return _under(rows, await dentries.folder_paths(conn, {int(r.parent_id) for r in rows}))


def _under(rows: Sequence[_Row], paths: dict[int, str | None]) -> list[_Row]:
    return [r for r in rows if paths.get(int(r.parent_id)) is not None]


async def view(
    conn: Connection,
    actor: models.Actor,
    row: _Row,
    *,
    own: Sequence[Any] | None = None,
) -> models.Dentry:
    """One row as the API shows it (``views``)."""
    return (await views(conn, actor, [row], own=own))[0]
