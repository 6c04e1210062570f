"""Retry of a task's failed part (``POST /dingstore/v1/tasks/{taskId}/retry``, docs/tasks.md
"Retry"): a new task over only the nodes the task failed.

* A copy (not a merge) keeps, when it ends, the snapshot rows of the nodes it failed or did not
  reach (``subtree.forget_settled``); its retry is a COPY task (``retry_of``) whose snapshot is
  those of them still live in the source space, copied under the copies of their parents (or
  the folder copied into), as the first task would have.
* An OVERWRITE merge that moved (a move onto a folder of its name) leaves in the source folder
  exactly what it did not move: its retry is the same merge again, which finds only that.

Anything else is refused with ``taskNotRetryable``: a task that did not fail, was retried
already, a copy that merged (its failures are clashes a retry would meet again), a move across
spaces (what it did not carry is back in the source space, in a folder of its own: move that
one), a delete (nothing of it fails node by node)."""

from __future__ import annotations

from typing import Any

from dingstore import errors
from dingstore.service import access, models, tasks, tree
from dingstore.service.bulk import common
from dingstore.service.bulk.copies import CopyPayload
from dingstore.service.bulk.moves import MovePayload
from dingstore.store import dentries, subtree, task_rows
from dingstore.store.base import Writer


def _refused(message: str) -> errors.BadRequest:
    return errors.TASK_NOT_RETRYABLE.error(message)


async def retry(ctx: common.Context, actor: models.Actor, task_id: str) -> int:
    """Enqueue the retry of the actor's task ``task_id`` (its creator's, or any of the org's
    for an admin); returns the new task's id. The new task acts for the caller, whose rights
    are checked as a copy or move of the same folders would check them."""
    number = tree.parse_id(task_id, "taskId")
    new_id = await ctx.ids.next()
    async with ctx.db.write() as conn:
        row = tasks.visible(await task_rows.get_full(conn, number), actor, task_id)
        if row.status != "FAIL":
            raise _refused(f"task {task_id} did not fail ({row.status}): nothing to retry")
        other = await task_rows.retried_by(conn, number)
        if other is not None:
            raise _refused(f"task {task_id} was retried already, by task {other}")
        payload: Any
        if row.kind == "copy":
            payload = CopyPayload.from_json(row.payload)
            if payload.merge:
                raise _refused("a copy that merged into a folder of its name cannot be retried")
            if not await subtree.failed_count(conn, number):
                raise _refused(f"task {task_id} left no node to retry")
            target_root, need = payload.copy_root, (access.READ, access.WRITE)
            payload = CopyPayload(
                payload.root,
                payload.space,
                payload.target_space,
                payload.copy_root,
                retry_of=number,
            )
        elif row.kind == "move":
            payload = MovePayload.from_json(row.payload)
            if not payload.merge or payload.target_root is None:
                raise _refused(
                    "a move across spaces cannot be retried: what it did not carry is back in "
                    "the source space, in a folder of its own; move that folder"
                )
            target_root, need = payload.target_root, (access.WRITE, access.WRITE)
        else:
            raise _refused(f"a {row.kind} task cannot be retried")
        await _check(
            conn, actor, payload.space, payload.root, payload.target_space, target_root, need
        )
        holds = [(payload.space, payload.root), (payload.target_space, target_root)]
        await tasks.enqueue(
            conn,
            new_id,
            payload,
            common.creator(actor),
            holds=holds,
            now=ctx.clock.now_ms(),
            retry_of=number,
        )
    return new_id


async def _check(
    conn: Writer,
    actor: models.Actor,
    space_id: int,
    root: int,
    target_space_id: int,
    target_root: int,
    need: tuple[access.Role, access.Role],
) -> None:
    """Both folders still there, free, and the actor's roles on them what the operation
    needs."""
    await tree.lock_spaces(conn, sorted({str(space_id), str(target_space_id)}))
    space = await tree.space(conn, actor, str(space_id), write=True)
    target = await tree.space(conn, actor, str(target_space_id), write=True)
    source_row = await tree.dentry(conn, space.id, str(root))
    if await dentries.get(conn, target.id, target_root) is None:
        raise errors.DENTRY_NOT_EXIST.error(f"the folder {target_root} the task went into is gone")
    await access.require(conn, actor, space, int(source_row.id), need[0])
    await access.require(conn, actor, target, target_root, need[1])
    await tasks.check_free(conn, actor.corp_id, root)
    await tasks.check_free(conn, actor.corp_id, target_root)
