"""What the request sides of the bulk operations share: what they answer, the target of a copy
or move and its checks, a merge of a folder into its namesake, the grants a move drops or
carries, and running a batch item by item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import models, tasks, tree
from dingstore.store import base, dentries, ids, permissions
from dingstore.store.base import Connection, Writer


@dataclass(frozen=True, slots=True)
class Context:
    """What the request side of a bulk operation works with."""

    db: base.BaseDatabase
    ids: ids.IdAllocator
    version_retention: int
    clock: Clock


@dataclass(frozen=True, slots=True)
class Target:
    """Where a copy or move goes, as the request names it."""

    space_id: str
    folder_id: str
    conflict_strategy: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What CopyDentry, MoveDentry and DeleteDentry answer: the resulting dentry (none for a
    delete) and, for a folder with children, the task that finishes the work."""

    dentry: models.Dentry | None
    task_id: int | None = None


def creator(actor: models.Actor) -> tasks.Creator:
    """The operator of the request, as the creator of its task."""
    return tasks.Creator(actor.corp_id, actor.union_id, actor.app_id)


async def merge(
    conn: Writer,
    actor: models.Actor,
    task_id: int,
    payload: tasks.Payload,
    row: RowMapping,
    into: RowMapping,
) -> Outcome:
    """Folder ``row`` meets folder ``into`` of its name (OVERWRITE): hold both and enqueue the
    task of ``payload``, which merges them; the answer names ``into``."""
    await tasks.check_free(conn, actor.corp_id, int(into.id))
    holds = [(int(row.space_id), int(row.id)), (int(into.space_id), int(into.id))]
    await tasks.enqueue(
        conn, task_id, payload, creator(actor), holds=holds, now=actor.clock.now_ms()
    )
    return Outcome(await tree.view(conn, actor, into), task_id)


async def mergeable(conn: Connection, row: RowMapping, existing: RowMapping) -> bool:
    """May the folder ``row`` merge into the same-name folder ``existing`` (OVERWRITE)? Not into
    one of its own ancestors; into itself is nothing to do (False)."""
    if int(existing.id) == int(row.id):
        return False
    if int(existing.id) in await dentries.ancestor_ids(conn, int(row.id)):
        raise errors.DENTRY_ALREADY_EXIST.error(
            f"{row.name!r} in the target folder is an ancestor of the folder: cannot merge into it",
        )
    return True


async def regrant(
    conn: Connection, row: RowMapping, space_id: int, target_id: int, *, preserve: bool
) -> None:
    """The grants on a node being moved and under it: dropped, or (``preserve``) carried along
    when it changes spaces. Found by walking up from the space's grants, never down the
    subtree, so that a move in one space stays O(1) whatever it holds."""
    if preserve and space_id == target_id:
        return
    granted = await permissions.nodes_under(conn, space_id, int(row.id))
    if preserve:
        await permissions.move(conn, granted, space_id, target_id)
    else:
        await permissions.drop(conn, space_id, granted)


async def not_into_itself(conn: Connection, dentry_id: int, target_parent: int) -> None:
    """400 ``paramError.targetFolderId`` when ``target_parent`` is the entry or under it."""
    if target_parent == dentry_id or (
        target_parent and dentry_id in await dentries.ancestor_ids(conn, target_parent)
    ):
        raise errors.param_error(
            "targetFolderId", "a folder cannot go into itself or one of its descendants"
        )


async def target_space(conn: Connection, actor: models.Actor, target_space_id: str) -> RowMapping:
    """The target space, its faults reported against ``targetSpaceId``."""
    try:
        return await tree.space(conn, actor, target_space_id)
    except errors.BadRequest as exc:
        raise errors.param_error("targetSpaceId", exc.message) from None


async def check_target(
    db: base.BaseDatabase, actor: models.Actor, space_id: str, target: Target
) -> None:
    """What fails a whole batch of copies or moves: a bad strategy or target, a missing space
    or folder."""
    tree.strategy(target.conflict_strategy)
    folder = tree.parse_id(target.folder_id, "targetFolderId", root_ok=True)
    async with db.read() as conn:
        await tree.space(conn, actor, space_id)
        await tree.folder(conn, (await target_space(conn, actor, target.space_id)).id, folder)


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One item of CopyDentries / MoveDentries / DeleteDentries."""

    dentry_id: str
    result: Outcome | None = None
    error_code: str | None = None


async def run_batch(
    dentry_ids: Sequence[str] | None,
    limit: int,
    each: Callable[[str], Awaitable[Outcome]],
) -> list[BatchItem]:
    """Validate the whole list first (1 to ``limit`` well-formed ids, else 400
    ``paramError.dentryIds`` and nothing happens), then run ``each`` per item in order; an item's
    own failure (4xx) is reported in its result, not raised."""
    if not dentry_ids or len(dentry_ids) > limit:
        raise errors.param_error("dentryIds", f"dentryIds must hold 1 to {limit} ids")
    for text in dentry_ids:
        tree.parse_id(text, "dentryIds")
    items = []
    for text in dentry_ids:
        try:
            items.append(BatchItem(text, await each(text)))
        except errors.DingstoreError as exc:
            if exc.status >= 500:
                raise
            items.append(BatchItem(text, error_code=exc.code))
    return items
