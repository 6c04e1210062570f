"""What CopyDentry, MoveDentry and their batches share: the target and its checks, a merge of
a folder into its namesake, the grants a move drops or carries, and running a batch item by
item."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.service import models, tasks, tree
from dingstore.store import dentries, permissions
from dingstore.store.base import Connection


@dataclass(frozen=True, slots=True)
class Moved:
    """CopyDentry / MoveDentry / DeleteDentry: the resulting dentry and, for a folder with
    children, the task that finishes the work (service/bulk.py)."""

    dentry: models.Dentry | None
    task_id: int | None = None


@dataclass(frozen=True, slots=True)
class Merge:
    """Folder ``row`` of ``space_id`` meets folder ``into`` of its name in ``target_id``
    (OVERWRITE): a task merges them."""

    actor: models.Actor
    task_id: int
    row: RowMapping
    space_id: int
    target_id: int
    into: RowMapping

    async def enqueue(self, conn: Connection, kind: str, into_key: str) -> Moved:
        """Hold both folders and enqueue the ``kind`` task; the answer names ``into``."""
        source, into = int(self.row.id), int(self.into.id)
        await tasks.check_free(conn, into)
        await tasks.enqueue(
            conn, self.task_id, corp_id=self.actor.corp_id, creator_id=self.actor.union_id,
            app_id=self.actor.app_id, kind=kind,
            payload={
                "root": source, "space": self.space_id, "target_space": self.target_id,
                into_key: into, "merge": True,
            },
            holds=[(self.space_id, source), (self.target_id, into)],
        )  # fmt: skip
        return Moved(await tree.view(conn, self.actor, self.into), self.task_id)


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
    if target_parent == dentry_id or (
        target_parent and dentry_id in await dentries.ancestor_ids(conn, target_parent)
    ):
        raise errors.param_error(
            "targetFolderId", "a folder cannot go into itself or one of its descendants"
        )


async def target_space(conn: Connection, actor: models.Actor, target_space_id: str) -> RowMapping:
    try:
        return await tree.space(conn, actor, target_space_id)
    except errors.BadRequest as exc:
        raise errors.param_error("targetSpaceId", exc.message) from None


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One item of CopyDentries / MoveDentries / DeleteDentries."""

    dentry_id: str
    result: Moved | None = None
    error_code: str | None = None


async def run_batch(
    dentry_ids: Sequence[str] | None,
    limit: int,
    each: Callable[[str], Awaitable[Moved]],
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
