"""Delete of a dentry (DeleteDentry, DeleteDentries) and purge of recycle-bin items.

* To the recycle bin: the entry is marked and a recycle item records where it was, at once
  (``send``); a folder with live children answers with a COUNT task (counts.py).
* For good, and the purge of recycle-bin items (``purge``): a file, or a folder with nothing at
  all under it, goes at once, releasing its blobs and quota. Any other folder is marked deleted
  (it leaves every listing at once) and a DELETE task holding it purges the subtree deepest
  first, whatever lies in it (recycled entries and their items too), then the folder itself.
  Nothing above the folder changes in the task: its ancestors' sizes shrank when it was marked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Step
from dingstore.service import access, models, tasks, tree, versions
from dingstore.service.bulk import common, counts, steps
from dingstore.service.events import changes
from dingstore.store import dentries, events, ids, permissions, properties, spaces, subtree
from dingstore.store import recycle as recycle_rows
from dingstore.store.base import Connection, Writer

BATCH_MAX = 50


@dataclass(frozen=True, slots=True)
class DeletePayload(steps.Payload):
    """Purge folder ``root`` of ``space`` and everything under it."""

    kind = "delete"

    root: int
    space: int


# --- the requests -------------------------------------------------------------------------------


async def delete_one(
    ctx: common.Context,
    actor: models.Actor,
    space_id: str,
    dentry_id: str,
    *,
    to_recycle_bin: bool,
) -> common.Outcome:
    """DeleteDentry (see the module's docstring)."""
    if dentry_id == "0":
        raise errors.param_error("dentryId", "the root folder cannot be deleted")
    item_id, task_id = await ctx.ids.next(), await ctx.ids.next()
    now = ctx.clock.now_ms()
    async with ctx.db.write() as conn:
        space = await tree.space(conn, actor, space_id, write=True)
        row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
        await tasks.check_free(conn, actor.corp_id, int(row.id))
        # To the bin: a folder with live children answers with a task that counts them. For
        # good: one with anything under it, its recycled entries too, is purged by a task.
        nested = row.type == "FOLDER" and await dentries.has_children(
            conn, space.id, int(row.id), every=not to_recycle_bin
        )
        if nested and to_recycle_bin:
            await counts.record(conn, actor, task_id, space.id, int(row.id))
        elif nested:
            payload = DeletePayload(int(row.id), space.id)
            holds = [(space.id, int(row.id))]
            await tasks.enqueue(conn, task_id, payload, common.creator(actor), holds=holds, now=now)
        if to_recycle_bin:
            await send(conn, actor, row, item_id, now)
        elif row.type == "FILE":
            await versions.purge_file(conn, row, now)
        else:  # a folder goes for good, and the grants on it and under it at once
            await permissions.drop(
                conn, space.id, await permissions.nodes_under(conn, space.id, int(row.id))
            )
            count, size = dentries.weight(row)
            await dentries.grow_chain(conn, int(row.parent_id), -count, -size)
            if nested:  # it leaves every listing now, its nested items the bin; the task
                # purges the rest
                under = await recycle_rows.under(conn, actor.corp_id, space.id, [int(row.id)])
                await recycle_rows.drop(conn, [int(item.id) for item in under])
                await dentries.update(conn, int(row.id), status="DELETED", deleted_at=now)
            else:
                await properties.drop_all(conn, int(row.id))
                await dentries.delete(conn, int(row.id))
        action = changes.RECYCLE if to_recycle_bin else changes.DELETE_ACTION
        await changes.emit_by(conn, actor, space.id, now, changes.of(changes.DELETE, action, row))
    return common.Outcome(None, task_id if nested else None)


async def delete_many(
    ctx: common.Context,
    actor: models.Actor,
    space_id: str,
    dentry_ids: Sequence[str] | None,
    *,
    to_recycle_bin: bool,
) -> list[common.BatchItem]:
    """DeleteDentries: at most ``BATCH_MAX`` items, each deleted as DeleteDentry would."""
    async with ctx.db.read() as conn:
        await tree.space(conn, actor, space_id)
    return await common.run_batch(
        dentry_ids,
        BATCH_MAX,
        lambda d: delete_one(ctx, actor, space_id, d, to_recycle_bin=to_recycle_bin),
    )


async def send(
    conn: Connection, actor: models.Actor, row: RowMapping, item_id: int, now: int
) -> None:
    """Send a live entry to the org's recycle bin (the caller checked that no task holds it):
    it and everything under it leave every listing, its ancestors lose its weight, and item
    ``item_id`` records where it was."""
    count, size = dentries.weight(row)
    await dentries.grow_chain(conn, int(row.parent_id), -count, -size)
    await recycle_rows.insert(
        conn,
        id=item_id,
        corp_id=actor.corp_id,
        space_id=int(row.space_id),
        dentry_id=int(row.id),
        type=row.type,
        original_parent_id=int(row.parent_id),
        original_name=row.name,
        original_path=(await tree.view(conn, actor, row)).path,
        size=size,
        operator_id=actor.union_id,
        operator_time=now,
    )
    await dentries.update(conn, int(row.id), status="DELETED", deleted_at=now)


async def purge(
    conn: Writer,
    corp_id: str,
    items: Sequence[RowMapping],
    *,
    creator_id: str | None,
    app_id: str | None,
    now: int,
) -> list[int]:
    """Purge the org's recycle-bin ``items`` for good (the caller holds the tree lock of their
    spaces and checked that no task holds them). They leave the bin at once, and so do the items
    nested under them; a file or a folder with nothing under it goes at once, releasing its blobs
    and quota; any other folder gets a DELETE task (created by ``creator_id``, or by the item's
    deleter), whose ids are returned. Nothing above an item changes: its weight left its
    ancestors when it was recycled."""
    by_space: dict[int, list[RowMapping]] = {}
    for item in items:
        by_space.setdefault(int(item.space_id), []).append(item)
    inner: set[int] = set()  # items nested under others: their outer item's purge takes them
    for space_id, group in by_space.items():
        nested = await recycle_rows.under(
            conn, corp_id, space_id, [int(i.dentry_id) for i in group]
        )
        inner.update(int(n.id) for n in nested)
    tops = [i for i in items if int(i.id) not in inner]
    await recycle_rows.drop(conn, inner.union(int(i.id) for i in tops))
    # An event for each item purged, none for those nested in them (they go with it). The
    # operator: who purges, or for the retention's purge the item's deleter (as its task's).
    purged: dict[tuple[int, str], list[events.Change]] = {}
    for item in tops:
        key = (int(item.space_id), creator_id or str(item.operator_id))
        purged.setdefault(key, []).append(
            events.Change(
                changes.DELETE, changes.PURGE, int(item.dentry_id), item.type, item.original_name
            )
        )
    for (space_id, union_id), made in purged.items():
        await changes.emit(
            conn, corp_id=corp_id, union_id=union_id, space_id=space_id, now=now, changes=made
        )
    folders = [int(i.dentry_id) for i in tops if i.type == "FOLDER"]
    full = await recycle_rows.with_children(conn, folders)
    tasked = [i for i in tops if int(i.dentry_id) in full]
    at_once: dict[int, list[int]] = {}
    for item in tops:
        if int(item.dentry_id) not in full:
            at_once.setdefault(int(item.space_id), []).append(int(item.dentry_id))
    for space_id, nodes in at_once.items():
        freed = await subtree.purge_nodes(conn, nodes, now, space_id=space_id)
        for charged, size in freed.items():
            await spaces.charge(conn, charged, -size)
    first = await ids.reserve_in(conn, len(tasked)) if tasked else 0
    for n, item in enumerate(tasked):
        root, space_id = int(item.dentry_id), int(item.space_id)
        creator = tasks.Creator(corp_id, creator_id or item.operator_id, app_id)
        payload = DeletePayload(root, space_id)
        await tasks.enqueue(conn, first + n, payload, creator, holds=[(space_id, root)], now=now)
    return [first + n for n in range(len(tasked))]


# --- the task ----------------------------------------------------------------------------------


@dataclass
class DeleteHandler:
    """The DELETE task's steps: deepest first, the folder last."""

    clock: Clock

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        root = DeletePayload.from_json(task.payload).root
        return await dentries.descendants(conn, root) + 1, Step(steps.fresh())

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        p = DeletePayload.from_json(task.payload)
        if not steps.walked(task):  # every node under the folder, those in the bin included
            return steps.began(await subtree.snapshot(conn, task.id, p.root, p.space, every=True))
        span = steps.next_span(task, limit, deepest_first=True)
        now = self.clock.now_ms()
        if span is not None:
            freed = await subtree.purge_nodes(conn, span.ids(), now, space_id=p.space)
            await self._credit(conn, freed)
        if span is None or span.first == 1:  # the descendants are gone: the folder goes last
            await self._credit(
                conn, await subtree.purge_nodes(conn, [p.root], now, space_id=p.space)
            )
            await subtree.forget(conn, task.id)
            settled = 0 if span is None else span.size
            return Step(
                cursor={"done": steps.done(task) + settled}, succeeded=settled + 1, done=True
            )
        return Step(cursor={"done": steps.done(task) + span.size}, succeeded=span.size)

    @staticmethod
    async def _credit(conn: Connection, freed: dict[int, int]) -> None:
        for space_id, size in freed.items():
            await spaces.charge(conn, space_id, -size)
