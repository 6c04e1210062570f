"""Folders and the tree: AddFolder, GetDentry(ies), ListDentries, ListAllDentries, RenameDentry,
and the synchronous single-item copy, move and delete of a file or an empty folder."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import (
    access,
    bulk,
    models,
    names,
    recycle,
    tasks,
    transfers,
    tree,
    versions,
)
from dingstore.service.properties import PropertyInput, write_properties
from dingstore.store import base, blobs, dentries, ids, permissions, properties
from dingstore.store import recycle as recycle_rows
from dingstore.store.base import Connection

LIST_DEFAULT, LIST_MAX = 50, 50
SCAN = 200  # ListAllDentries: rows read at a time when the operator may read only part of it


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item of GetDentries."""

    dentry_id: str
    dentry: models.Dentry | None = None
    error_code: str | None = None


class DentryService:
    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        *,
        version_retention: int,
        wake: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._retention = version_retention
        self._wake = wake  # tells the task engine a task was just enqueued

    async def add_folder(
        self,
        actor: models.Actor,
        space_id: str,
        parent_id: str,
        name: str | None,
        conflict_strategy: str | None,
        app_properties: Sequence[PropertyInput] = (),
    ) -> models.Dentry:
        clean = names.valid(name)
        how = tree.strategy(conflict_strategy)
        parent = tree.parse_id(parent_id, "parentId", root_ok=True)
        new_id = await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            await tree.folder_for(conn, actor, space, parent, access.WRITE)
            await tasks.check_free(conn, parent, adding=True)
            placed = await tree.place(conn, space.id, parent, clean, how, is_file=False)
            if placed.existing is not None:  # RETURN_DENTRY_IF_EXISTS, or OVERWRITE of a folder
                return await tree.view(conn, actor, placed.existing)
            await dentries.insert(
                conn,
                id=new_id,
                space_id=space.id,
                parent_id=parent,
                name=placed.name,
                type="FOLDER",
                size=0,
                status="NORMAL",
                uuid=uuid.uuid4().hex,
                creator_id=actor.union_id,
                modifier_id=actor.union_id,
                created_at=now,
                modified_at=now,
            )
            await write_properties(conn, new_id, actor.app_id, app_properties)
            return await tree.view(conn, actor, await tree.dentry(conn, space.id, str(new_id)))

    async def get(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        app_ids: Sequence[str] | None = None,
    ) -> models.Dentry:
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.READ)
            return (await tree.views(conn, actor, [row], app_ids=app_ids))[0]

    async def get_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str],
        app_ids: Sequence[str] | None = None,
    ) -> list[ItemResult]:
        if not dentry_ids or len(dentry_ids) > 30:
            raise errors.param_error("dentryIds", "dentryIds must hold 1 to 30 ids")
        wanted = [tree.parse_id(i, "dentryIds") for i in dentry_ids]
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            rows = await dentries.get_many(conn, space.id, wanted)
            found = {v.id: v for v in await tree.views(conn, actor, rows, app_ids=app_ids)}
            held = await access.roles(conn, actor, space, list(found))
        return [
            ItemResult(text, error_code=errors.DENTRY_NOT_EXIST.code)
            if number not in found
            else ItemResult(text, found[number])
            if access.allows(held[number], access.READ)
            else ItemResult(text, error_code=errors.PERMISSION_DENIED.code)
            for text, number in zip(dentry_ids, wanted, strict=True)
        ]

    async def list(
        self,
        actor: models.Actor,
        space_id: str,
        parent_id: str | None,
        *,
        next_token: str | None,
        max_results: int | None,
        order_by: str | None,
        order: str | None,
    ) -> models.Page:
        """ListDentries: one folder level, by ``orderBy`` (default MODIFIED_TIME) and ``order``
        (default DESC), paged by keyset so that the last page costs what the first does."""
        if parent_id is None:
            raise errors.param_error("parentId", "parentId is required")
        parent = tree.parse_id(parent_id, "parentId", root_ok=True)
        key = order_by or "MODIFIED_TIME"
        if key not in dentries.ORDER_COLUMNS:
            raise errors.param_error(
                "orderBy", "orderBy must be MODIFIED_TIME, CREATE_TIME, NAME or SIZE"
            )
        desc = _descending(order, default="DESC")
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        after = tree.decode_token(next_token, 1 if key == "NAME" else 2, text=key == "NAME")
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            await tree.folder_for(conn, actor, space, parent, access.READ)
            rows = await dentries.page_children(
                conn, space.id, parent, order_by=key, desc=desc, after=after, limit=limit + 1
            )
            items = await tree.views(conn, actor, rows[:limit])
        token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            column = dentries.ORDER_COLUMNS[key].name
            token = tree.encode_token([last[column]] if key == "NAME" else [last[column], last.id])
        return models.Page(items, token)

    async def list_all(
        self,
        actor: models.Actor,
        space_id: str,
        *,
        next_token: str | None,
        max_results: int | None,
        order: str | None,
    ) -> models.Page:
        """ListAllDentries: every live file and folder of the space the operator may read, by
        modified time."""
        desc = _descending(order, default="ASC")
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        after = tree.decode_token(next_token, 2)
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            rows = await _readable(conn, actor, space, desc=desc, after=after, limit=limit + 1)
            items = await tree.views(conn, actor, rows[:limit])
        token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            token = tree.encode_token([last.modified_at, last.id])
        return models.Page(items, token)

    async def rename(
        self, actor: models.Actor, space_id: str, dentry_id: str, new_name: str | None
    ) -> models.Dentry:
        if dentry_id == "0":
            raise errors.param_error("dentryId", "the root folder cannot be renamed")
        clean = names.valid(new_name, field="name")
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, int(row.id))
            if clean != row.name:
                if await dentries.child(conn, space.id, int(row.parent_id), clean) is not None:
                    raise errors.DENTRY_ALREADY_EXIST.error(f"{clean!r} already exists")
                await dentries.update(
                    conn, int(row.id), name=clean, modifier_id=actor.union_id, modified_at=now_ms()
                )
            return await tree.view(conn, actor, await tree.dentry(conn, space.id, dentry_id))

    async def copy(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> transfers.Moved:
        """CopyDentry: a file or an empty folder at once; a folder with children gets its copy
        (or, with OVERWRITE onto a folder of its name, merges into that one) and a task."""
        target = (target_space_id, target_folder_id, conflict_strategy)
        return self._woken(await self._copy(actor, space_id, dentry_id, *target))

    async def move(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
        *,
        preserve_permissions: bool = False,
    ) -> transfers.Moved:
        """MoveDentry: re-parents the entry; across spaces, or with OVERWRITE onto a folder of
        its name (a merge), a folder's descendants follow in a task. The grants on it and
        under it are dropped, or with ``preserve_permissions`` go with it."""
        target = (target_space_id, target_folder_id, conflict_strategy)
        return self._woken(
            await self._move(actor, space_id, dentry_id, *target, preserve=preserve_permissions)
        )

    def _woken(self, result: transfers.Moved) -> transfers.Moved:
        """Tell the task engine when the request (now committed) enqueued a task."""
        if result.task_id is not None:
            self._wake()
        return result

    async def _copy(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> transfers.Moved:
        how = tree.strategy(conflict_strategy)
        target_parent = tree.parse_id(target_folder_id, "targetFolderId", root_ok=True)
        new_id, task_id = await self._ids.next(), await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry(conn, space.id, dentry_id)
            is_file = row.type == "FILE"
            await access.require(
                conn, actor, space, int(row.id), access.DOWNLOAD if is_file else access.READ
            )
            target = await transfers.target_space(conn, actor, target_space_id)
            await tree.folder_for(conn, actor, target, target_parent, access.WRITE)
            await transfers.not_into_itself(conn, int(row.id), target_parent)
            await tasks.check_free(conn, int(row.id))
            await tasks.check_free(conn, target_parent, adding=True)
            nested = not is_file and await dentries.has_children(conn, space.id, int(row.id))
            placed = await tree.place(
                conn, target.id, target_parent, row.name, how, is_file=is_file
            )
            if placed.existing is not None:
                existing = placed.existing
                if nested and how == "OVERWRITE" and await transfers.mergeable(conn, row, existing):
                    merge = transfers.Merge(actor, task_id, row, space.id, target.id, existing)
                    return await merge.enqueue(conn, bulk.COPY, "copy_root")
                if how == "RETURN_DENTRY_IF_EXISTS" or not is_file:
                    return transfers.Moved(await tree.view(conn, actor, existing))
                await versions.add(  # a file copied onto a file: a new version of it
                    conn,
                    actor.union_id,
                    placed.existing,
                    blob_id=int(row.blob_id),
                    size=int(row.size),
                    now=now,
                    retention=self._retention,
                )
                fresh = await tree.dentry(conn, target.id, str(placed.existing.id))
                return transfers.Moved(await tree.view(conn, actor, fresh))
            if is_file:
                await tree.charge(conn, target.id, int(row.size))
                await blobs.add_refs(conn, [int(row.blob_id)])
            await dentries.insert(
                conn,
                id=new_id,
                space_id=target.id,
                parent_id=target_parent,
                name=placed.name,
                type=row.type,
                size=row.size,
                blob_id=row.blob_id,
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
                    dentry_id=new_id,
                    version=1,
                    space_id=target.id,
                    name=placed.name,
                    size=row.size,
                    blob_id=row.blob_id,
                    modifier_id=actor.union_id,
                    created_at=now,
                )
            await properties.copy(conn, int(row.id), new_id)
            if nested:
                await tasks.enqueue(
                    conn, task_id, corp_id=actor.corp_id, creator_id=actor.union_id,
                    app_id=actor.app_id, kind=bulk.COPY,
                    payload={
                        "root": int(row.id), "space": space.id, "target_space": target.id,
                        "copy_root": new_id,
                    },
                    holds=[(space.id, int(row.id)), (target.id, new_id)],
                )  # fmt: skip
            copied = await tree.view(conn, actor, await tree.dentry(conn, target.id, str(new_id)))
            return transfers.Moved(copied, task_id if nested else None)

    async def _move(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
        *,
        preserve: bool,
    ) -> transfers.Moved:
        how = tree.strategy(conflict_strategy)
        target_parent = tree.parse_id(target_folder_id, "targetFolderId", root_ok=True)
        task_id = await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            target = await transfers.target_space(conn, actor, target_space_id)
            await tree.folder_for(conn, actor, target, target_parent, access.WRITE)
            await transfers.not_into_itself(conn, int(row.id), target_parent)
            await tasks.check_free(conn, int(row.id))
            await tasks.check_free(conn, target_parent, adding=True)
            if target.id == space.id and target_parent == int(row.parent_id):
                return transfers.Moved(await tree.view(conn, actor, row))  # already there
            is_file = row.type == "FILE"
            nested = not is_file and await dentries.has_children(conn, space.id, int(row.id))
            placed = await tree.place(
                conn, target.id, target_parent, row.name, how, is_file=is_file
            )
            if placed.existing is not None:
                existing = placed.existing
                if nested and how == "OVERWRITE" and await transfers.mergeable(conn, row, existing):
                    if target.id != space.id:  # the bytes move as the task goes; they must fit
                        await tree.check_room(conn, target.id, int(row.stored))
                    await transfers.regrant(conn, row, space.id, target.id, preserve=preserve)
                    merge = transfers.Merge(actor, task_id, row, space.id, target.id, existing)
                    return await merge.enqueue(conn, bulk.MOVE, "target_root")
                if how == "RETURN_DENTRY_IF_EXISTS" or not is_file:
                    return transfers.Moved(await tree.view(conn, actor, existing))
                # A file moved onto a file (OVERWRITE): the one it replaces goes for good.
                await versions.purge_file(conn, placed.existing, now)
            await transfers.regrant(conn, row, space.id, target.id, preserve=preserve)
            across = target.id != space.id
            # Across spaces a folder takes its recycled entries along, and their bytes.
            carried = (
                across
                and not is_file
                and await dentries.has_children(conn, space.id, int(row.id), every=True)
            )
            if across:
                moving = int(row.stored)
                if carried:
                    under = await recycle_rows.under(conn, actor.corp_id, space.id, [int(row.id)])
                    moving += sum(int(item.stored) for item in under)
                await tree.charge(conn, target.id, moving)
                await tree.charge(conn, space.id, -moving)
            count, size = dentries.weight(row)
            await dentries.grow_chain(conn, int(row.parent_id), -count, -size)
            await dentries.grow_chain(conn, target_parent, count, size)
            await dentries.update(
                conn,
                int(row.id),
                space_id=target.id,
                parent_id=target_parent,
                name=placed.name,
                modifier_id=actor.union_id,
                modified_at=now,
            )
            if is_file and across:
                await dentries.move_versions(conn, int(row.id), target.id)
            if nested or carried:
                await tasks.enqueue(
                    conn, task_id, corp_id=actor.corp_id, creator_id=actor.union_id,
                    app_id=actor.app_id, kind=bulk.MOVE if across else bulk.COUNT,
                    payload={
                        "root": int(row.id), "space": space.id, "target_space": target.id,
                        "from_parent": int(row.parent_id), "from_name": row.name,
                    },
                    holds=[(target.id, int(row.id))] if across else [],
                )  # fmt: skip
            moved = await tree.view(conn, actor, await tree.dentry(conn, target.id, dentry_id))
            return transfers.Moved(moved, task_id if nested or carried else None)

    async def copy_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> Sequence[transfers.BatchItem]:
        """CopyDentries: at most 3 items, each copied as CopyDentry would."""
        target = (target_space_id, target_folder_id, conflict_strategy)
        return await self._transfer_many(self.copy, 3, actor, space_id, dentry_ids, *target)

    async def move_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
        *,
        preserve_permissions: bool = False,
    ) -> Sequence[transfers.BatchItem]:
        """MoveDentries: at most 30 items, each moved as MoveDentry would."""
        target = (target_space_id, target_folder_id, conflict_strategy)
        return await self._transfer_many(
            self.move, 30, actor, space_id, dentry_ids, *target,
            preserve_permissions=preserve_permissions,
        )  # fmt: skip

    async def _transfer_many(
        self,
        one: Callable[..., Awaitable[transfers.Moved]],
        limit: int,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
        **options: bool,
    ) -> Sequence[transfers.BatchItem]:
        target = (target_space_id, target_folder_id, conflict_strategy)
        await self._check_batch(actor, space_id, *target)
        return await transfers.run_batch(
            dentry_ids, limit, lambda d: one(actor, space_id, d, *target, **options)
        )

    async def delete_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        *,
        to_recycle_bin: bool,
    ) -> Sequence[transfers.BatchItem]:
        """DeleteDentries: at most 50 items, each deleted as DeleteDentry would."""
        async with self._db.read() as conn:
            await tree.space(conn, actor, space_id)
        return await transfers.run_batch(
            dentry_ids,
            50,
            lambda d: self.delete(actor, space_id, d, to_recycle_bin=to_recycle_bin),
        )

    async def _check_batch(
        self,
        actor: models.Actor,
        space_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> None:
        """What fails a whole batch: a bad strategy or target, a missing space or folder."""
        tree.strategy(conflict_strategy)
        folder = tree.parse_id(target_folder_id, "targetFolderId", root_ok=True)
        async with self._db.read() as conn:
            await tree.space(conn, actor, space_id)
            target = await transfers.target_space(conn, actor, target_space_id)
            await tree.folder(conn, target.id, folder)

    async def delete(
        self, actor: models.Actor, space_id: str, dentry_id: str, *, to_recycle_bin: bool
    ) -> transfers.Moved:
        if dentry_id == "0":
            raise errors.param_error("dentryId", "the root folder cannot be deleted")
        item_id, task_id = await self._ids.next(), await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, int(row.id))
            # To the bin: a folder with live children answers with a task that counts them. For
            # good: one with anything under it, its recycled entries too, is purged by a task.
            nested = row.type == "FOLDER" and await dentries.has_children(
                conn, space.id, int(row.id), every=not to_recycle_bin
            )
            if nested:
                kind = bulk.COUNT if to_recycle_bin else bulk.DELETE
                await tasks.enqueue(
                    conn, task_id, corp_id=actor.corp_id, creator_id=actor.union_id,
                    app_id=actor.app_id, kind=kind,
                    payload={"root": int(row.id), "space": space.id},
                    holds=[] if to_recycle_bin else [(space.id, int(row.id))],
                )  # fmt: skip
            if to_recycle_bin:
                await recycle.send(conn, actor, row, item_id, now)
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
        if nested:
            self._wake()
        return transfers.Moved(None, task_id if nested else None)


async def _readable(
    conn: Connection,
    actor: models.Actor,
    space: RowMapping,
    *,
    desc: bool,
    after: list[int] | None,
    limit: int,
) -> list[RowMapping]:
    """Up to ``limit`` live dentries of the space, in ListAllDentries' order from ``after``,
    that the operator may read: pages stay full but for the last, however sparse what they may
    read (rows are read on until ``limit`` are kept or the space is exhausted). An operator with
    no role in the space gets 403; one who reads its root reads it all, with no check a row."""
    everything = access.allows(await access.role(conn, actor, space, 0), access.READ)
    if not everything and not await access.holds_any(conn, actor, space, access.READ):
        raise access.denied(access.READ, 0)
    chunk = limit if everything else max(limit, SCAN)
    kept: list[RowMapping] = []
    while len(kept) < limit:
        rows = await dentries.page_space(conn, int(space.id), desc=desc, after=after, limit=chunk)
        found = await tree.visible(conn, rows)
        if not everything:
            held = await access.roles(conn, actor, space, [int(r.id) for r in found])
            found = [r for r in found if access.allows(held[int(r.id)], access.READ)]
        kept.extend(found)
        if len(rows) < chunk:
            break
        after = [int(rows[-1].modified_at), int(rows[-1].id)]
    return kept[:limit]


def _descending(order: str | None, *, default: str) -> bool:
    value = order or default
    if value not in ("ASC", "DESC"):
        raise errors.param_error("order", "order must be ASC or DESC")
    return value == "DESC"
