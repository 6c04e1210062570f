"""Folders and the tree: AddFolder, GetDentry(ies), ListDentries, ListAllDentries, RenameDentry,
and the synchronous single-item copy, move and delete of a file or an empty folder."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import bulk, models, names, recycle, tasks, tree, versions
from dingstore.service.properties import PropertyInput, write_properties
from dingstore.store import base, blobs, dentries, ids, properties
from dingstore.store import recycle as recycle_rows
from dingstore.store.base import Connection

LIST_DEFAULT, LIST_MAX = 50, 50


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item of GetDentries."""

    dentry_id: str
    dentry: models.Dentry | None = None
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class Moved:
    """CopyDentry / MoveDentry / DeleteDentry: the resulting dentry and, for a folder with
    children, the task that finishes the work (service/bulk.py)."""

    dentry: models.Dentry | None
    task_id: int | None = None


@dataclass(frozen=True, slots=True)
class _Merge:
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


async def _mergeable(conn: Connection, row: RowMapping, existing: RowMapping) -> bool:
    """May the folder ``row`` merge into the same-name folder ``existing`` (OVERWRITE)? Not into
    one of its own ancestors; into itself is nothing to do (False)."""
    if int(existing.id) == int(row.id):
        return False
    if int(existing.id) in await dentries.ancestor_ids(conn, int(row.id)):
        raise errors.BadRequest(
            "dentryAlreadyExist",
            f"{row.name!r} in the target folder is an ancestor of the folder: cannot merge into it",
        )
    return True


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
            await tree.folder(conn, space.id, parent)
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
            row = await tree.dentry(conn, space.id, dentry_id)
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
        return [
            ItemResult(text, found[number])
            if number in found
            else ItemResult(text, error_code="dentryNotExist")
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
            await tree.folder(conn, space.id, parent)
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
        """ListAllDentries: every live file and folder of the space, by modified time."""
        desc = _descending(order, default="ASC")
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        after = tree.decode_token(next_token, 2)
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            rows = await dentries.page_space(
                conn, space.id, desc=desc, after=after, limit=limit + 1
            )
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
        clean = names.valid(new_name, code="paramError.name")
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry(conn, space.id, dentry_id)
            await tasks.check_free(conn, int(row.id))
            if clean != row.name:
                if await dentries.child(conn, space.id, int(row.parent_id), clean) is not None:
                    raise errors.BadRequest("dentryAlreadyExist", f"{clean!r} already exists")
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
    ) -> Moved:
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
    ) -> Moved:
        """MoveDentry: re-parents the entry; across spaces, or with OVERWRITE onto a folder of
        its name (a merge), a folder's descendants follow in a task."""
        target = (target_space_id, target_folder_id, conflict_strategy)
        return self._woken(await self._move(actor, space_id, dentry_id, *target))

    def _woken(self, result: Moved) -> Moved:
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
    ) -> Moved:
        how = tree.strategy(conflict_strategy)
        target_parent = tree.parse_id(target_folder_id, "targetFolderId", root_ok=True)
        new_id, task_id = await self._ids.next(), await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry(conn, space.id, dentry_id)
            target = await _target_space(conn, actor, target_space_id)
            await tree.folder(conn, target.id, target_parent)
            await _not_into_itself(conn, int(row.id), target_parent)
            await tasks.check_free(conn, int(row.id))
            await tasks.check_free(conn, target_parent, adding=True)
            is_file = row.type == "FILE"
            nested = not is_file and await dentries.has_children(conn, space.id, int(row.id))
            placed = await tree.place(
                conn, target.id, target_parent, row.name, how, is_file=is_file
            )
            if placed.existing is not None:
                existing = placed.existing
                if nested and how == "OVERWRITE" and await _mergeable(conn, row, existing):
                    merge = _Merge(actor, task_id, row, space.id, target.id, existing)
                    return await merge.enqueue(conn, bulk.COPY, "copy_root")
                if how == "RETURN_DENTRY_IF_EXISTS" or not is_file:
                    return Moved(await tree.view(conn, actor, existing))
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
                return Moved(await tree.view(conn, actor, fresh))
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
            return Moved(copied, task_id if nested else None)

    async def _move(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> Moved:
        how = tree.strategy(conflict_strategy)
        target_parent = tree.parse_id(target_folder_id, "targetFolderId", root_ok=True)
        task_id = await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry(conn, space.id, dentry_id)
            target = await _target_space(conn, actor, target_space_id)
            await tree.folder(conn, target.id, target_parent)
            await _not_into_itself(conn, int(row.id), target_parent)
            await tasks.check_free(conn, int(row.id))
            await tasks.check_free(conn, target_parent, adding=True)
            if target.id == space.id and target_parent == int(row.parent_id):
                return Moved(await tree.view(conn, actor, row))  # already there
            is_file = row.type == "FILE"
            nested = not is_file and await dentries.has_children(conn, space.id, int(row.id))
            placed = await tree.place(
                conn, target.id, target_parent, row.name, how, is_file=is_file
            )
            if placed.existing is not None:
                existing = placed.existing
                if nested and how == "OVERWRITE" and await _mergeable(conn, row, existing):
                    if target.id != space.id:  # the bytes move as the task goes; they must fit
                        await tree.check_room(conn, target.id, int(row.stored))
                    merge = _Merge(actor, task_id, row, space.id, target.id, existing)
                    return await merge.enqueue(conn, bulk.MOVE, "target_root")
                if how == "RETURN_DENTRY_IF_EXISTS" or not is_file:
                    return Moved(await tree.view(conn, actor, existing))
                # A file moved onto a file (OVERWRITE): the one it replaces goes for good.
                await versions.purge_file(conn, placed.existing, now)
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
                    payload={"root": int(row.id), "space": space.id, "target_space": target.id},
                    holds=[(target.id, int(row.id))] if across else [],
                )  # fmt: skip
            moved = await tree.view(conn, actor, await tree.dentry(conn, target.id, dentry_id))
            return Moved(moved, task_id if nested or carried else None)

    async def copy_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> Sequence[BatchItem]:
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
    ) -> Sequence[BatchItem]:
        """MoveDentries: at most 30 items, each moved as MoveDentry would."""
        target = (target_space_id, target_folder_id, conflict_strategy)
        return await self._transfer_many(self.move, 30, actor, space_id, dentry_ids, *target)

    async def _transfer_many(
        self,
        one: Callable[..., Awaitable[Moved]],
        limit: int,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> Sequence[BatchItem]:
        target = (target_space_id, target_folder_id, conflict_strategy)
        await self._check_batch(actor, space_id, *target)
        return await run_batch(dentry_ids, limit, lambda d: one(actor, space_id, d, *target))

    async def delete_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        *,
        to_recycle_bin: bool,
    ) -> Sequence[BatchItem]:
        """DeleteDentries: at most 50 items, each deleted as DeleteDentry would."""
        async with self._db.read() as conn:
            await tree.space(conn, actor, space_id)
        return await run_batch(
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
            target = await _target_space(conn, actor, target_space_id)
            await tree.folder(conn, target.id, folder)

    async def delete(
        self, actor: models.Actor, space_id: str, dentry_id: str, *, to_recycle_bin: bool
    ) -> Moved:
        if dentry_id == "0":
            raise errors.param_error("dentryId", "the root folder cannot be deleted")
        item_id, task_id = await self._ids.next(), await self._ids.next()
        now = now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry(conn, space.id, dentry_id)
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
            else:
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
        return Moved(None, task_id if nested else None)


async def _not_into_itself(conn: Connection, dentry_id: int, target_parent: int) -> None:
    if target_parent == dentry_id or (
        target_parent and dentry_id in await dentries.ancestor_ids(conn, target_parent)
    ):
        raise errors.param_error(
            "targetFolderId", "a folder cannot go into itself or one of its descendants"
        )


def _descending(order: str | None, *, default: str) -> bool:
    value = order or default
    if value not in ("ASC", "DESC"):
        raise errors.param_error("order", "order must be ASC or DESC")
    return value == "DESC"


async def _target_space(conn: Connection, actor: models.Actor, target_space_id: str) -> RowMapping:
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
