"""Copy of a dentry (CopyDentry, CopyDentries): the request copies a file, or a folder's top,
at once; a folder with children answers with a COPY task whose steps copy every descendant
under the copy, parents before children. With OVERWRITE onto a folder of its name the folder
merges into that one instead: a node meeting a folder of its name merges into it, one meeting a
file becomes that file's new version.

The creator's rights are checked again each step (docs/permissions.md, "In tasks"): READER on
the source folder and EDITOR on the target; each file needs DOWNLOADER, and when the source
folder does not give it the step's files under none of the creator's DOWNLOADER grants fail.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Step, SystemicFailure
from dingstore.service import access, models, tasks, tree, versions
from dingstore.service.bulk import common, steps
from dingstore.service.events import changes
from dingstore.store import blobs, dentries, events, ids, merges, properties, spaces, subtree
from dingstore.store.base import Connection

log = logging.getLogger(__name__)

BATCH_MAX = 3


@dataclass(frozen=True, slots=True)
class CopyPayload(steps.Payload):
    """Copy the descendants of folder ``root`` of ``space`` under folder ``copy_root`` of
    ``target_space`` — its new copy, or with ``merge`` the folder of its name it merges into.
    Version 0 wrote ``merge`` only when true."""

    kind = "copy"

    root: int
    space: int
    target_space: int
    copy_root: int
    merge: bool = False
    # A retry (POST /dingstore/v1/tasks/{id}/retry): copy only what that task failed.
    retry_of: int | None = None


# --- the request --------------------------------------------------------------------------------


async def copy_one(
    ctx: common.Context,
    actor: models.Actor,
    space_id: str,
    dentry_id: str,
    target: common.Target,
) -> common.Outcome:
    """CopyDentry (see the module's docstring)."""
    how = tree.strategy(target.conflict_strategy)
    target_parent = tree.parse_id(target.folder_id, "targetFolderId", root_ok=True)
    new_id, task_id = await ctx.ids.next(), await ctx.ids.next()
    now = ctx.clock.now_ms()
    async with ctx.db.write() as conn:
        await tree.lock_spaces(conn, [space_id, target.space_id])  # in order: no deadlock
        space = await tree.space(conn, actor, space_id, write=True)
        row = await tree.dentry(conn, space.id, dentry_id)
        is_file = row.type == "FILE"
        await access.require(
            conn, actor, space, int(row.id), access.DOWNLOAD if is_file else access.READ
        )
        into = await common.target_space(conn, actor, target.space_id)
        await tree.folder_for(conn, actor, into, target_parent, access.WRITE)
        await common.not_into_itself(conn, int(row.id), target_parent)
        await tasks.check_free(conn, actor.corp_id, int(row.id))
        await tasks.check_free(conn, actor.corp_id, target_parent, adding=True)
        nested = not is_file and await dentries.has_children(conn, space.id, int(row.id))
        placed = await tree.place(conn, into.id, target_parent, row.name, how, is_file=is_file)
        if placed.existing is not None:
            existing = placed.existing
            if nested and how == "OVERWRITE" and await common.mergeable(conn, row, existing):
                payload = CopyPayload(
                    int(row.id), space.id, into.id, copy_root=int(existing.id), merge=True
                )
                return await common.merge(conn, actor, task_id, payload, row, existing)
            if how == "RETURN_DENTRY_IF_EXISTS" or not is_file:
                return common.Outcome(await tree.view(conn, actor, existing))
            await versions.add(  # a file copied onto a file: a new version of it
                conn,
                actor.union_id,
                existing,
                blob_id=int(row.blob_id),
                size=int(row.size),
                now=now,
                retention=ctx.version_retention,
            )
            await changes.emit_by(
                conn, actor, into.id, now, changes.of(changes.UPDATE, changes.COPY, existing)
            )
            fresh = await tree.dentry(conn, into.id, str(existing.id))
            return common.Outcome(await tree.view(conn, actor, fresh))
        await _copy_top(conn, actor, row, new_id, into.id, target_parent, placed.name, now)
        await changes.emit_by(
            conn,
            actor,
            into.id,
            now,
            changes.of(changes.CREATE, changes.COPY, row, name=placed.name, dentry_id=new_id),
        )
        if nested:
            payload = CopyPayload(int(row.id), space.id, into.id, copy_root=new_id)
            holds = [(space.id, int(row.id)), (into.id, new_id)]
            await tasks.enqueue(conn, task_id, payload, common.creator(actor), holds=holds, now=now)
        copied = await tree.view(conn, actor, await tree.dentry(conn, into.id, str(new_id)))
        return common.Outcome(copied, task_id if nested else None)


async def _copy_top(
    conn: Connection,
    actor: models.Actor,
    row: RowMapping,
    new_id: int,
    space_id: int,
    parent_id: int,
    name: str,
    now: int,
) -> None:
    """Copy the entry ``row`` itself (a file with its bytes' reference and quota, or a folder
    without its content) as ``new_id``, ``name`` in folder ``parent_id`` of ``space_id``."""
    is_file = row.type == "FILE"
    if is_file:
        await tree.charge(conn, space_id, int(row.size))
        await blobs.add_refs(conn, [int(row.blob_id)])
    await tree.create(
        conn,
        actor,
        new_id,
        space_id=space_id,
        parent_id=parent_id,
        name=name,
        now=now,
        size=row.size,
        blob_id=row.blob_id if is_file else None,
    )
    await properties.copy(conn, int(row.id), new_id)


async def copy_many(
    ctx: common.Context,
    actor: models.Actor,
    space_id: str,
    dentry_ids: Sequence[str] | None,
    target: common.Target,
) -> list[common.BatchItem]:
    """CopyDentries: at most ``BATCH_MAX`` items, each copied as CopyDentry would."""
    await common.check_target(ctx.db, actor, space_id, target)
    return await common.run_batch(
        dentry_ids, BATCH_MAX, lambda d: copy_one(ctx, actor, space_id, d, target)
    )


# --- the task ----------------------------------------------------------------------------------


@dataclass
class CopyHandler:
    """The COPY task's steps (see the module's docstring)."""

    version_retention: int
    clock: Clock

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        p = CopyPayload.from_json(task.payload)
        if p.retry_of is not None:  # the folder copied into, there already, and what failed
            return await subtree.failed_count(conn, p.retry_of) + 1, Step(
                steps.fresh(), succeeded=1
            )
        return await dentries.descendants(conn, p.root) + 1, Step(steps.fresh(), succeeded=1)

    async def cancel(self, conn: Connection, task: Claimed) -> Step | None:
        """Stop: what was copied stays; the snapshot of what was not is kept for a retry. Not
        before the snapshot is taken (the step after ``start``)."""
        if task.status == "INIT" or not steps.walked(task):
            return None
        await steps.forget(conn, task, steps.done(task), keep=True)
        return Step(cursor={"done": steps.done(task)}, done=True)

    async def _walk(self, conn: Connection, task: Claimed, p: CopyPayload) -> Step:
        """The snapshot, each node with its copy's new id."""
        expected = steps.snapshotted(task)  # the kept size: new ids for that many, in advance
        if p.retry_of is not None:
            start = await ids.reserve_in(conn, max(expected, 1))
            n = await subtree.snapshot_failed(conn, task.id, p.retry_of, p.space, first_id=start)
            return steps.began(n)
        first = await ids.reserve_in(conn, expected) if expected else None
        n = await subtree.snapshot(conn, task.id, p.root, p.space, first_id=first)
        if n != expected:  # the kept size was off (it never should be): number them afresh
            log.warning("task %s: %s descendants found, %s kept", task.id, n, expected)
            await subtree.forget(conn, task.id)
            first = await ids.reserve_in(conn, n)
            await subtree.snapshot(conn, task.id, p.root, p.space, first_id=first)
        return steps.began(n)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        """A range at a time, in a few set-based statements, while every node succeeds; node
        by node (``_careful``) for merges, once some node failed (its descendants fail too),
        or when the range would not fit the target's quota."""
        p = CopyPayload.from_json(task.payload)
        if await dentries.get(conn, p.target_space, p.copy_root) is None:
            raise SystemicFailure(errors.DENTRY_NOT_EXIST.code)  # the copy's folder went away
        if not steps.walked(task):
            return await self._walk(conn, task, p)
        span = steps.next_span(task, limit)
        if span is None:
            await steps.forget(conn, task, steps.done(task), keep=True)
            return Step(cursor=task.cursor or {}, done=True)
        actor = await steps.creator(conn, task, self.clock)
        source, target = await steps.roles(
            conn, actor, [(p.space, p.root), (p.target_space, p.copy_root)]
        )
        if not (access.allows(source, access.READ) and access.allows(target, access.WRITE)):
            return await steps.stop(conn, task, keep=True)
        denied: list[int] = []
        if not access.allows(source, access.DOWNLOAD):
            denied = await steps.undownloadable(conn, actor, span, p.space)
        if p.merge or (task.cursor or {}).get("failed"):
            return await self._careful(conn, task, p, span, denied)
        size = await subtree.span_bytes(conn, span)
        if size and not await spaces.charge(conn, p.target_space, size):
            return await self._careful(conn, task, p, span, denied)
        now = self.clock.now_ms()
        await subtree.copy_nodes(
            conn,
            span,
            space_id=p.target_space,
            root_copy_id=p.copy_root,
            operator=task.creator_id,
            now=now,
        )
        await _emit_copied(conn, task, p, span, now)
        done = await steps.last(conn, task, span, keep=True)
        return Step(
            cursor={"done": span.last},
            succeeded=span.size - len(denied),
            failed=len(denied),
            fail_message=steps.DENIED if denied else None,
            done=done,
        )

    async def _careful(
        self,
        conn: Connection,
        task: Claimed,
        p: CopyPayload,
        span: subtree.Span,
        denied: list[int],
    ) -> Step:
        """The range node by node; ``denied``: its files the creator may not download (marked
        failed already)."""
        rows = await subtree.rows_of(conn, span)
        now = self.clock.now_ms()
        merge = (
            await self._merge(conn, task, p, span, rows, now) if p.merge else steps.MergeResult()
        )
        # What failed (denied, merge clashes, earlier steps) takes its descendants along: one
        # statement. Only files are left to fail on the quota, and files have no descendants.
        failed = {*denied, *merge.failed, *await subtree.fail_under_failed(conn, span)}
        space = await spaces.get(conn, p.target_space)
        room = None if space is None or space.quota is None else space.quota - space.used_quota
        ok = 0
        over: list[int] = []
        charged = 0
        reasons = [*merge.failed.values(), *([steps.DENIED] if denied else [])]
        for r in rows:
            node, size = int(r.node_id), int(r.size or 0)
            if node in merge.merged:
                ok += 1
            elif node in failed:
                continue
            elif room is not None and charged + size > room:
                over.append(node)
                reasons.append(errors.SPACE_QUOTA_INSUFFICIENT.code)
            else:
                ok += 1
                charged += size
        await subtree.mark_failed(conn, task.id, over)
        lost = [*failed, *over]
        if ok > len(merge.merged):
            await subtree.copy_nodes(
                conn,
                span,
                space_id=p.target_space,
                root_copy_id=p.copy_root,
                operator=task.creator_id,
                now=now,
            )
            if charged:
                await spaces.charge(conn, p.target_space, charged)
            await _emit_copied(conn, task, p, span, now)
        done = await steps.last(conn, task, span, keep=True)
        # Later steps go node by node only when a folder failed (its descendants fail with it).
        folder_lost = bool(set(lost) - set(denied))
        cursor = {
            "done": span.last,
            "failed": folder_lost or bool((task.cursor or {}).get("failed")),
        }
        reason = reasons[0] if reasons else None
        return Step(cursor, succeeded=ok, failed=len(lost), fail_message=reason, done=done)

    async def _merge(
        self,
        conn: Connection,
        task: Claimed,
        p: CopyPayload,
        span: subtree.Span,
        rows: list[RowMapping],
        now: int,
    ) -> steps.MergeResult:
        outcome = steps.MergeResult()
        for depth in steps.levels(rows):
            files, targets, level = await steps.clashes(
                conn, task, span, depth, space_id=p.target_space, into=p.copy_root
            )
            outcome.merged |= level.merged
            outcome.failed.update(level.failed)
            space = await spaces.get(conn, p.target_space)
            room = None if space is None or space.quota is None else space.quota - space.used_quota
            versioned = []
            made: list[events.Change] = []  # each file that met a file: its new version
            for source, target in zip(files, targets, strict=True):
                node, size = int(source.node_id), int(source.size)
                if room is not None and size > room:
                    outcome.failed[node] = errors.SPACE_QUOTA_INSUFFICIENT.code
                    continue
                await versions.add(
                    conn,
                    task.creator_id,
                    target,
                    blob_id=int(source.blob_id),
                    size=size,
                    now=now,
                    retention=self.version_retention,
                )
                room = None if room is None else room - size
                versioned.append((node, int(target.id)))
                made.append(changes.of(changes.UPDATE, changes.COPY, target))
            await subtree.mark_failed(conn, task.id, [n for n in outcome.failed])
            await merges.mark_merged(conn, task.id, versioned)
            outcome.merged.update(node for node, _ in versioned)
            await changes.emit(
                conn,
                corp_id=task.corp_id,
                union_id=task.creator_id,
                space_id=p.target_space,
                now=now,
                changes=made,
            )
        return outcome


async def _emit_copied(
    conn: Connection, task: Claimed, p: CopyPayload, span: subtree.Span, now: int
) -> None:
    """The events of the nodes the step copied: one ``create`` each, in one statement."""
    await changes.emit_copied(
        conn,
        corp_id=task.corp_id,
        union_id=task.creator_id,
        space_id=p.target_space,
        now=now,
        task_id=task.id,
        first=span.first,
        last=span.last,
    )
