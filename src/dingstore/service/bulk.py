"""Bulk copy, move and delete of folders with children, run by the task engine.

The request does the O(1) part in its own transaction and writes the task row there:

* copy — creates the top-level copy of the folder; the task copies every descendant under it.
* move in one space — re-parents the folder: done; the task only counts what moved.
* move across spaces — moves the folder and both spaces' quotas at once (one set-based sum);
  the task carries the descendants (and their versions) into the target space.
* delete to the recycle bin — marks the folder and records the recycle item: done; the task
  counts what went.
* permanent delete — marks the folder deleted (it leaves every listing at once); the task
  purges the subtree deepest first, releasing blob references and quota.

A running task holds the subtrees it works on (``task_holds``): any other operation on a node
inside them, or on one of their ancestors, is refused with ``operationConcurrentControl`` naming
the task. Each step settles one range of the subtree snapshotted when the task started, in
set-based statements, inside the engine's fenced transaction.
"""

from __future__ import annotations

from typing import Any

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import tasks
from dingstore.store import dentries, ids, spaces, subtree
from dingstore.store import tasks as task_rows
from dingstore.store.base import Connection
from dingstore.tasks.queue import Claimed
from dingstore.tasks.worker import Handler, Step, SystemicFailure

COPY, MOVE, DELETE, COUNT = "copy", "move", "delete", "count"


async def check_free(conn: Connection, node_id: int) -> None:
    """Refuse to touch a node inside, or above, a subtree a running task holds (the root, above
    everything, is never refused: nothing operates on the root itself). The caller holds the
    org's tree lock (``tree.space(..., write=True)``), so the holds it reads stay as they are
    until it commits."""
    if node_id == 0:
        return
    held = await task_rows.all_holds(conn)
    if not held:
        return
    chain = set(await dentries.ancestor_ids(conn, node_id))
    for hold in held:
        root = int(hold.dentry_id)
        if root in chain or node_id in await dentries.ancestor_ids(conn, root):
            raise errors.Conflict(
                message=f"task {hold.task_id} is working on this part of the tree; retry later"
            )


async def enqueue(
    conn: Connection,
    task_id: int,
    *,
    corp_id: str,
    creator_id: str,
    app_id: str,
    kind: str,
    payload: dict[str, Any],
    holds: list[tuple[int, int]] = (),  # type: ignore[assignment]
) -> None:
    """Write the task row (INIT) and its holds in the request's transaction."""
    await tasks.insert_task(
        conn,
        task_id,
        corp_id=corp_id,
        creator_id=creator_id,
        app_id=app_id,
        kind=kind,
        payload=payload,
    )
    for space_id, dentry_id in holds:
        await task_rows.hold(conn, task_id, space_id, dentry_id)


def _after(task: Claimed) -> list[int] | None:
    after = (task.cursor or {}).get("after")
    return [int(after[0]), int(after[1])] if after else None


class CountHandler:
    """The work was done in the request (same-space move, delete to the recycle bin): the task
    fixes its size — the folder and every descendant — and succeeds."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        total = await subtree.count(conn, int(task.payload["root"]), int(task.payload["space"])) + 1
        return total, Step(cursor={}, succeeded=total, done=True)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        return Step(cursor=task.cursor or {}, done=True)


class CopyHandler:
    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        n = await subtree.snapshot(
            conn, task.id, int(task.payload["root"]), int(task.payload["space"])
        )
        if n:
            await subtree.number(conn, task.id, await ids.reserve_in(conn, n))
        return n + 1, Step(cursor={"after": None}, succeeded=1, done=n == 0)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        p = task.payload
        target_space, copy_root = int(p["target_space"]), int(p["copy_root"])
        if await dentries.get(conn, target_space, copy_root) is None:
            raise SystemicFailure("dentryNotExist")  # the copy's folder went away
        rows = await subtree.next_range(conn, task.id, _after(task), limit, deepest_first=False)
        if not rows:
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, done=True)
        node_ids = [int(r.node_id) for r in rows]
        sizes = await subtree.file_sizes(conn, node_ids)
        failed = await subtree.failed_among(conn, task.id, list({int(r.parent_id) for r in rows}))
        space = await spaces.get(conn, target_space)
        room = None if space is None or space.quota is None else space.quota - space.used_quota
        ok: list[int] = []
        lost: list[int] = []
        charged = 0
        reason = None
        for r in rows:
            node, size = int(r.node_id), sizes.get(int(r.node_id), 0)
            if int(r.parent_id) in failed:
                lost.append(node)
            elif room is not None and charged + size > room:
                lost.append(node)
                reason = "spaceQuotaInsufficient"
            else:
                ok.append(node)
                charged += size
            if node in lost:
                failed.add(node)
        await subtree.mark_failed(conn, task.id, lost)
        if ok:
            span = subtree.Span(task.id, _after(task), (int(rows[-1].depth), int(rows[-1].node_id)))
            await subtree.copy_nodes(
                conn, span, space_id=target_space, root_copy_id=copy_root,
                operator=task.creator_id, now=now_ms(),
            )  # fmt: skip
            if charged:
                await spaces.charge(conn, target_space, charged)
        last = rows[-1]
        done = len(rows) < limit
        if done:
            await subtree.forget(conn, task.id)
        return Step(
            cursor={"after": [int(last.depth), int(last.node_id)]},
            succeeded=len(ok),
            failed=len(lost),
            fail_message=reason,
            done=done,
        )


class MoveHandler:
    """Across spaces: the folder moved in the request; its descendants follow, a range a step."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        n = await subtree.snapshot(
            conn, task.id, int(task.payload["root"]), int(task.payload["space"])
        )
        return n + 1, Step(cursor={"after": None}, succeeded=1, done=n == 0)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        rows = await subtree.next_range(conn, task.id, _after(task), limit, deepest_first=False)
        if rows:
            span = subtree.Span(task.id, _after(task), (int(rows[-1].depth), int(rows[-1].node_id)))
            await subtree.move_nodes(conn, span.ids(), int(task.payload["target_space"]))
        done = len(rows) < limit
        if done:
            await subtree.forget(conn, task.id)
        cursor = {"after": [int(rows[-1].depth), int(rows[-1].node_id)]} if rows else task.cursor
        return Step(cursor=cursor or {}, succeeded=len(rows), done=done)


class DeleteHandler:
    """Permanent delete: the subtree goes deepest first, then the folder itself."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        n = await subtree.snapshot(
            conn, task.id, int(task.payload["root"]), int(task.payload["space"])
        )
        return n + 1, Step(cursor={"after": None})

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        rows = await subtree.next_range(conn, task.id, _after(task), limit, deepest_first=True)
        now = now_ms()
        if not rows:
            await self._credit(
                conn, await subtree.purge_nodes(conn, [int(task.payload["root"])], now)
            )
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, succeeded=1, done=True)
        last = (int(rows[-1].depth), int(rows[-1].node_id))
        span = subtree.Span(task.id, _after(task), last, deepest_first=True)
        freed = await subtree.purge_nodes(conn, span.ids(), now)
        await self._credit(conn, freed)
        return Step(
            cursor={"after": [int(rows[-1].depth), int(rows[-1].node_id)]}, succeeded=len(rows)
        )

    @staticmethod
    async def _credit(conn: Connection, freed: dict[int, int]) -> None:
        for space_id, size in freed.items():
            await spaces.charge(conn, space_id, -size)


def handlers() -> dict[str, Handler]:
    return {
        COPY: CopyHandler(),
        MOVE: MoveHandler(),
        DELETE: DeleteHandler(),
        COUNT: CountHandler(),
    }
