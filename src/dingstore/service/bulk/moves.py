"""Move of a dentry (MoveDentry, MoveDentries). The request re-parents the entry at once:

* within one space that is all; a folder with children answers with a COUNT task (counts.py);
* across spaces it moves the folder and both spaces' quotas at once (its kept size, and the
  bytes of the recycle items under it); a MOVE task carries every descendant (and their
  versions), those in the recycle bin included, into the target space, a range a step;
* with OVERWRITE onto a folder of its name (a merge) the folder stays where it is; the MOVE
  task moves its live content into that one level by level — a node meeting a folder of its
  name merges into it, one meeting a file replaces it, the rest move with their subtrees — and
  at the end removes the merged folders left empty.

The grants on the entry and under it are dropped, or with ``preserve_permissions`` go with it.
Each step checks again that the creator holds EDITOR on the source folder and the target
(docs/permissions.md, "In tasks"); across spaces, when they no longer do, the nodes not carried
yet stay in the source space (store/splits.py) and fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Step, SystemicFailure
from dingstore.service import access, models, tasks, tree, versions
from dingstore.service.bulk import common, counts, steps
from dingstore.service.events import changes
from dingstore.store import dentries, events, ids, merges, permissions, spaces, splits, subtree
from dingstore.store import recycle as recycle_rows
from dingstore.store.base import Connection

BATCH_MAX = 30


@dataclass(frozen=True, slots=True)
class MovePayload(steps.Payload):
    """Folder ``root`` of ``space`` goes to ``target_space``. Across spaces (no ``merge``) it is
    there already, moved out of folder ``from_parent`` where it was named ``from_name``; with
    ``merge`` its content goes into folder ``target_root``. Version 0 wrote ``merge`` only when
    true, and no ``None``."""

    kind = "move"

    root: int
    space: int
    target_space: int
    from_parent: int | None = None
    from_name: str | None = None
    target_root: int | None = None
    merge: bool = False


# --- the request --------------------------------------------------------------------------------


async def move_one(
    ctx: common.Context,
    actor: models.Actor,
    space_id: str,
    dentry_id: str,
    target: common.Target,
    *,
    preserve: bool,
) -> common.Outcome:
    """MoveDentry (see the module's docstring)."""
    how = tree.strategy(target.conflict_strategy)
    target_parent = tree.parse_id(target.folder_id, "targetFolderId", root_ok=True)
    task_id = await ctx.ids.next()
    now = ctx.clock.now_ms()
    async with ctx.db.write() as conn:
        await tree.lock_spaces(conn, [space_id, target.space_id])  # in order: no deadlock
        space = await tree.space(conn, actor, space_id, write=True)
        row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
        into = await common.target_space(conn, actor, target.space_id)
        await tree.folder_for(conn, actor, into, target_parent, access.WRITE)
        await common.not_into_itself(conn, int(row.id), target_parent)
        await tasks.check_free(conn, actor.corp_id, int(row.id))
        await tasks.check_free(conn, actor.corp_id, target_parent, adding=True)
        if into.id == space.id and target_parent == int(row.parent_id):
            return common.Outcome(await tree.view(conn, actor, row))  # already there
        is_file = row.type == "FILE"
        nested = not is_file and await dentries.has_children(conn, space.id, int(row.id))
        placed = await tree.place(conn, into.id, target_parent, row.name, how, is_file=is_file)
        if placed.existing is not None:
            existing = placed.existing
            if nested and how == "OVERWRITE" and await common.mergeable(conn, row, existing):
                if into.id != space.id:  # the bytes move as the task goes; they must fit
                    await tree.check_room(conn, into.id, int(row.stored))
                await common.regrant(conn, row, space.id, into.id, preserve=preserve)
                payload = MovePayload(
                    int(row.id), space.id, into.id, target_root=int(existing.id), merge=True
                )
                return await common.merge(conn, actor, task_id, payload, row, existing)
            if how == "RETURN_DENTRY_IF_EXISTS" or not is_file:
                return common.Outcome(await tree.view(conn, actor, existing))
            # A file moved onto a file (OVERWRITE): the one it replaces goes for good.
            await versions.purge_file(conn, existing, now)
            await changes.emit_by(
                conn, actor, into.id, now, changes.of(changes.DELETE, changes.OVERWRITE, existing)
            )
        await common.regrant(conn, row, space.id, into.id, preserve=preserve)
        carried = await _reparent(conn, actor, row, into.id, target_parent, placed.name, now)
        for where, change in _moved(row, space.id, into.id, placed.name):
            await changes.emit_by(conn, actor, where, now, change)
        if into.id == space.id and nested:
            await counts.record(conn, actor, task_id, space.id, int(row.id))
        elif nested or carried:
            payload = MovePayload(
                int(row.id), space.id, into.id, from_parent=int(row.parent_id), from_name=row.name
            )
            holds = [(into.id, int(row.id))]
            await tasks.enqueue(conn, task_id, payload, common.creator(actor), holds=holds, now=now)
        moved = await tree.view(conn, actor, await tree.dentry(conn, into.id, dentry_id))
        return common.Outcome(moved, task_id if nested or carried else None)


def _moved(
    row: RowMapping, space_id: int, target_id: int, name: str
) -> list[tuple[int, events.Change]]:
    """The events of the entry ``row`` of ``space_id`` moved into ``target_id`` as ``name``, by
    space: within one space an ``update``; across spaces a ``delete`` where it was and a
    ``create`` where it is (its descendants follow it, with no event of their own)."""
    if space_id == target_id:
        return [(space_id, changes.of(changes.UPDATE, changes.MOVE, row, name=name))]
    return [
        (space_id, changes.of(changes.DELETE, changes.MOVE, row)),
        (target_id, changes.of(changes.CREATE, changes.MOVE, row, name=name)),
    ]


async def _reparent(
    conn: Connection,
    actor: models.Actor,
    row: RowMapping,
    target_id: int,
    parent_id: int,
    name: str,
    now: int,
) -> bool:
    """Move the entry ``row`` itself into folder ``parent_id`` of space ``target_id`` as
    ``name``, the sizes of both chains of ancestors with it; across spaces, the bytes of it and
    of the recycled entries under it, and a file's versions. Returns whether a folder moved
    across spaces has recycled entries under it (the task carries them)."""
    space_id, is_file = int(row.space_id), row.type == "FILE"
    across = target_id != space_id
    # Across spaces a folder takes its recycled entries along, and their bytes.
    carried = (
        across
        and not is_file
        and await dentries.has_children(conn, space_id, int(row.id), every=True)
    )
    if across:
        moving = int(row.stored)
        if carried:
            under = await recycle_rows.under(conn, actor.corp_id, space_id, [int(row.id)])
            moving += sum(int(item.stored) for item in under)
        await tree.charge(conn, target_id, moving)
        await tree.charge(conn, space_id, -moving)
    count, size = dentries.weight(row)
    await dentries.grow_chain(conn, int(row.parent_id), -count, -size)
    await dentries.grow_chain(conn, parent_id, count, size)
    await dentries.update(
        conn,
        int(row.id),
        space_id=target_id,
        parent_id=parent_id,
        name=name,
        modifier_id=actor.union_id,
        modified_at=now,
    )
    if is_file and across:
        await dentries.move_versions(conn, int(row.id), target_id)
    return carried


async def move_many(
    ctx: common.Context,
    actor: models.Actor,
    space_id: str,
    dentry_ids: Sequence[str] | None,
    target: common.Target,
    *,
    preserve: bool,
) -> list[common.BatchItem]:
    """MoveDentries: at most ``BATCH_MAX`` items, each moved as MoveDentry would."""
    await common.check_target(ctx.db, actor, space_id, target)
    return await common.run_batch(
        dentry_ids,
        BATCH_MAX,
        lambda d: move_one(ctx, actor, space_id, d, target, preserve=preserve),
    )


# --- the task ----------------------------------------------------------------------------------


@dataclass
class MoveHandler:
    """The MOVE task's steps (see the module's docstring)."""

    clock: Clock

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        root = MovePayload.from_json(task.payload).root
        return await dentries.descendants(conn, root) + 1, Step(steps.fresh(), succeeded=1)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        p = MovePayload.from_json(task.payload)
        if not steps.walked(task):  # across spaces, what lies in the recycle bin goes too
            n = await subtree.snapshot(conn, task.id, p.root, p.space, every=not p.merge)
            return steps.began(n)
        if p.merge:
            return await self._merge_step(conn, task, p, limit)
        span = steps.next_span(task, limit)
        if span is None:
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, done=True)
        if not await self._may_go_on(conn, task, p):
            return await self._split(conn, task, p)
        await subtree.move_nodes(conn, span.ids(), p.target_space)
        done = await steps.last(conn, task, span)
        return Step(cursor={"done": span.last}, succeeded=span.size, done=done)

    async def cancel(self, conn: Connection, task: Claimed) -> Step | None:
        """Stop at this boundary (not before the snapshot, the step after ``start``): a merge
        leaves what moved where it went and removes the source folders it emptied; a move
        across spaces leaves what it did not carry in the source space, as when its creator's
        rights are lost midway (``_split``)."""
        if task.status == "INIT" or not steps.walked(task):
            return None
        p = MovePayload.from_json(task.payload)
        if p.merge:
            await self._sweep(conn, task, p)
            await subtree.forget(conn, task.id)
            return Step(cursor={"done": steps.done(task)}, done=True)
        return await self._split(conn, task, p)

    async def _may_go_on(self, conn: Connection, task: Claimed, p: MovePayload) -> bool:
        """Whether the creator still holds EDITOR on the source folder and the target. Across
        spaces (no merge) the folder already is in the target: the source is the folder it
        left (``from_parent``), the target the folder it is in."""
        if p.merge:
            assert p.target_root is not None
            wanted = [(p.space, p.root), (p.target_space, p.target_root)]
        else:
            row = await dentries.get_any(conn, p.root)
            if row is None:
                raise SystemicFailure(errors.DENTRY_NOT_EXIST.code)
            wanted = [(p.target_space, int(row.parent_id))]
            if p.from_parent is not None:
                wanted.append((p.space, p.from_parent))
        found = await steps.roles(conn, await steps.creator(conn, task, self.clock), wanted)
        return all(access.allows(role, access.WRITE) for role in found)

    async def _split(self, conn: Connection, task: Claimed, p: MovePayload) -> Step:
        """Across spaces, the creator may not go on: the nodes not carried yet stay in the
        source space (store/splits.py) — under a new folder of the moved folder's name, where
        it was (or in the space's root, that folder being gone) — and fail."""
        root, source, target = p.root, p.space, p.target_space
        done, now = steps.done(task), self.clock.now_ms()
        front = await splits.frontier(conn, task.id, done)
        carried = await splits.carry(conn, front.recycled, source=source, target=target)
        if carried < steps.snapshotted(task) - done:
            # Grants the request carried to the target along with the folder come back with
            # the nodes left (found from the grants, before those nodes leave the folder).
            granted = await permissions.nodes_under(conn, target, root)
            left = await splits.in_space(conn, granted, source)
            await permissions.move(conn, left, target, source)
            home_parent = p.from_parent or 0
            try:
                await tree.folder(conn, source, home_parent)
            except errors.NotFound:
                home_parent = 0
            moved = await dentries.get_any(conn, root)
            name = str(p.from_name or (moved.name if moved is not None else root))
            placed = await tree.place(conn, source, home_parent, name, "AUTO_RENAME", is_file=False)
            home = await ids.reserve_in(conn, 1 + len(front.remade))
            await splits.remake(
                conn,
                task.id,
                front,
                root_id=root,
                home=(home, home_parent, placed.name),
                space_id=source,
                operator=task.creator_id,
                now=now,
            )
            await splits.settle(conn, task.id, done, [*front.parents, root], home_id=home)
            await splits.give_back(conn, task.id, done, source=source, target=target)
            home_row = events.Change(changes.CREATE, changes.SPLIT, home, "FOLDER", placed.name)
            await _emit(conn, task, source, now, [home_row])
        return await steps.stop(conn, task, succeeded=carried)

    async def _merge_step(
        self, conn: Connection, task: Claimed, p: MovePayload, limit: int
    ) -> Step:
        span = steps.next_span(task, limit)
        if span is None:
            await self._sweep(conn, task, p)
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, done=True)
        rows = await subtree.rows_of(conn, span)
        if await self._may_go_on(conn, task, p):
            merge = await self._merge(conn, task, p, span, rows)
        else:  # what would merge fails, with its subtree; what moved already goes on moving
            failing = await merges.fail_merging(conn, span)
            merge = steps.MergeResult(failed=dict.fromkeys(failing, steps.DENIED))
        # The nodes under those that failed (now or in an earlier step) fail too: one statement.
        lost = [*merge.failed, *await subtree.fail_under_failed(conn, span)]
        if p.target_space != p.space:  # the request charged nothing: the bytes move as they go
            moving = span.ids(live_only=True)
            stored = await subtree.stored_bytes_of(conn, moving)
            await spaces.charge(conn, p.target_space, stored)
            await spaces.charge(conn, p.space, -stored)
            await subtree.move_nodes(conn, moving, p.target_space)
        return Step(
            cursor={"done": span.last},
            succeeded=len(rows) - len(lost),
            failed=len(lost),
            fail_message=next(iter(merge.failed.values()), None),
        )

    async def _merge(
        self,
        conn: Connection,
        task: Claimed,
        p: MovePayload,
        span: subtree.Span,
        rows: list[RowMapping],
    ) -> steps.MergeResult:
        assert p.target_root is not None
        outcome = steps.MergeResult()
        now = self.clock.now_ms()
        for depth in steps.levels(rows):
            _, targets, level = await steps.clashes(
                conn, task, span, depth, space_id=p.target_space, into=p.target_root
            )
            outcome.merged |= level.merged
            outcome.failed.update(level.failed)
            for target in targets:  # a file moved onto a file replaces it
                await versions.purge_file(conn, target, now)
            replaced = [changes.of(changes.DELETE, changes.OVERWRITE, t) for t in targets]
            await _emit(conn, task, p.target_space, now, replaced)
            moved = await merges.reparent_merging(
                conn, span, depth, space_id=p.target_space, root_id=p.target_root, now=now
            )
            by_space: dict[int, list[events.Change]] = {}
            for row in moved:
                for space_id, change in _moved(row, p.space, p.target_space, row.name):
                    by_space.setdefault(space_id, []).append(change)
            for space_id, made in by_space.items():
                await _emit(conn, task, space_id, now, made)
        return outcome

    async def _sweep(self, conn: Connection, task: Claimed, p: MovePayload) -> None:
        """Remove the merged folders left empty, deepest first, then the moved folder."""
        folders = await merges.merged_folders(conn, task.id)
        gone = []
        for depth in sorted({depth for depth, _ in folders}, reverse=True):
            gone += await merges.drop_empty_folders(
                conn, [n for d, n in folders if d == depth], space_id=p.space
            )
        gone += await merges.drop_empty_folders(conn, [p.root], space_id=p.space)
        emptied = [changes.of(changes.DELETE, changes.MOVE, row) for row in gone]
        await _emit(conn, task, p.space, self.clock.now_ms(), emptied)


async def _emit(
    conn: Connection, task: Claimed, space_id: int, now: int, made: list[events.Change]
) -> None:
    """The events of changes a step of the task made in ``space_id``, as its creator's."""
    await changes.emit(
        conn,
        corp_id=task.corp_id,
        union_id=task.creator_id,
        space_id=space_id,
        now=now,
        changes=made,
    )
