"""Dry runs of the batch operations (``dryRun=true`` on batchCopy, batchMove, batchRemove;
docs/tasks.md#dry-run): what the request would do, item by item — the nodes it would settle,
their bytes, the name clash in the target folder and what the conflict strategy would make of
it, the error an item would fail with — and whether the bytes fit the target's quota. One read
transaction: nothing changes, no task is created, no id is taken."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.service import access, models, names, tasks, tree
from dingstore.service.bulk import common, copies, deletes, moves
from dingstore.store import dentries, recycle, spaces, subtree
from dingstore.store.base import Connection


@dataclass
class PlannedItem:
    dentry_id: str
    type: str | None = None
    name: str | None = None
    nodes: int = 0
    bytes: int = 0
    # What a clash in the target folder would come to: none, autoRename (``target_name``),
    # newVersion (a file copied onto a file), replace (a file moved onto one), merge (a folder
    # onto a folder: a task), returnExisting (nothing done); failing items carry ``error_code``.
    conflict: str | None = None
    target_name: str | None = None
    error_code: str | None = None


@dataclass
class Plan:
    operation: str
    items: list[PlannedItem] = field(default_factory=list)
    nodes: int = 0
    bytes: int = 0
    quota_space_id: int | None = None
    quota_needed: int = 0
    quota_available: int | None = None  # None: the space has no quota

    @property
    def fits(self) -> bool:
        return self.quota_available is None or self.quota_needed <= self.quota_available


async def plan(
    ctx: common.Context,
    actor: models.Actor,
    operation: str,
    space_id: str,
    dentry_ids: Sequence[str] | None,
    *,
    target: common.Target | None = None,
    to_recycle_bin: bool = False,
) -> Plan:
    """The dry run of CopyDentries (``copy``), MoveDentries (``move``) or DeleteDentries
    (``delete``): the same checks of the whole batch (a bad id list, target or strategy fails
    it), then each item as the operation would find it."""
    limit = {"copy": copies.BATCH_MAX, "move": moves.BATCH_MAX, "delete": deletes.BATCH_MAX}
    if not dentry_ids or len(dentry_ids) > limit[operation]:
        raise errors.param_error("dentryIds", f"dentryIds must hold 1 to {limit[operation]} ids")
    for text in dentry_ids:
        tree.parse_id(text, "dentryIds")
    if target is not None:
        await common.check_target(ctx.db, actor, space_id, target)
    result = Plan(operation)
    async with ctx.db.read() as conn:
        space = await tree.space(conn, actor, space_id)
        into = None
        parent = 0
        if target is not None:
            into = await common.target_space(conn, actor, target.space_id)
            parent = tree.parse_id(target.folder_id, "targetFolderId", root_ok=True)
        for text in dentry_ids:
            item = PlannedItem(text)
            try:
                await _item(conn, actor, operation, space, into, parent, target, item)
            except errors.DingstoreError as exc:
                if exc.status >= 500:
                    raise
                item.error_code = exc.code
                item.nodes = item.bytes = 0
            result.items.append(item)
        ok = [i for i in result.items if i.error_code is None]
        result.nodes = sum(i.nodes for i in ok)
        result.bytes = sum(i.bytes for i in ok)
        charged = (
            into if into is not None and (operation == "copy" or into.id != space.id) else None
        )
        if charged is not None:
            result.quota_space_id = int(charged.id)
            result.quota_needed = result.bytes
            fresh = await spaces.get(conn, int(charged.id))
            if fresh is not None and fresh.quota is not None:
                result.quota_available = max(0, int(fresh.quota) - int(fresh.used_quota))
    return result


async def _item(
    conn: Connection,
    actor: models.Actor,
    operation: str,
    space: RowMapping,
    into: RowMapping | None,
    parent: int,
    target: common.Target | None,
    item: PlannedItem,
) -> None:
    need = access.WRITE if operation != "copy" else access.READ
    row = await tree.dentry_for(conn, actor, space, item.dentry_id, need)
    is_file = row.type == "FILE"
    if operation == "copy" and is_file:
        await access.require(conn, actor, space, int(row.id), access.DOWNLOAD)
    item.type, item.name = row.type, row.name
    await tasks.check_free(conn, actor.corp_id, int(row.id))
    item.nodes = 1 + (0 if is_file else await dentries.descendants(conn, int(row.id)))
    if operation == "delete":
        item.bytes = int(row.stored)  # what the space frees once the folder is purged
        return
    assert into is not None and target is not None
    await tree.folder_for(conn, actor, into, parent, access.WRITE)
    await common.not_into_itself(conn, int(row.id), parent)
    await tasks.check_free(conn, actor.corp_id, parent, adding=True)
    if operation == "copy":
        item.bytes = (
            int(row.size or 0)
            if is_file
            else await subtree.live_file_bytes(conn, int(row.id), space.id)
        )
    elif into.id != space.id:  # a move across spaces carries every stored version along
        item.bytes = int(row.stored)
        if not is_file:
            under = await recycle.under(conn, actor.corp_id, space.id, [int(row.id)])
            item.bytes += sum(int(u.stored) for u in under)
    how = tree.strategy(target.conflict_strategy)
    existing = await dentries.child(conn, into.id, parent, row.name)
    if existing is None or (operation == "move" and int(existing.id) == int(row.id)):
        item.conflict = "none"
        return
    if how == "AUTO_RENAME":
        prefix = names.rename_prefix(row.name, is_file=is_file)
        taken = await dentries.names_starting(conn, into.id, parent, prefix)
        item.conflict, item.target_name = (
            "autoRename",
            names.renamed(row.name, taken, is_file=is_file),
        )
    elif how == "RETURN_ERROR_IF_EXISTS":
        raise errors.DENTRY_ALREADY_EXIST.error(f"{row.name!r} already exists in the target folder")
    elif how == "RETURN_DENTRY_IF_EXISTS":
        item.conflict, item.nodes, item.bytes = "returnExisting", 0, 0
    elif (existing.type == "FILE") != is_file:
        raise errors.DENTRY_ALREADY_EXIST.error(
            f"{row.name!r} exists as a {existing.type.lower()}: cannot overwrite"
        )
    elif is_file:
        item.conflict = "newVersion" if operation == "copy" else "replace"
    else:
        item.conflict = "merge"
