"""Folders and the tree: AddFolder, GetDentry(ies), ListDentries, ListAllDentries, RenameDentry;
CopyDentry, MoveDentry, DeleteDentry and their batches are bulk operations (service/bulk/),
reached through ``DentryService``."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, names, tasks, tree
from dingstore.service.bulk import common, copies, deletes, dryrun, moves, retries
from dingstore.service.events import changes
from dingstore.service.properties import PropertyInput, write_properties
from dingstore.store import base, dentries, ids, prepared
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
    """The dentries of a space: folders, the tree's listings, and (through service/bulk/) the
    copy, move and delete of entries."""

    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        *,
        version_retention: int,
        clock: Clock,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._clock = clock
        self._bulk = common.Context(db, id_allocator, version_retention, clock)

    async def add_folder(
        self,
        actor: models.Actor,
        space_id: str,
        parent_id: str,
        name: str | None,
        conflict_strategy: str | None,
        app_properties: Sequence[PropertyInput] = (),
    ) -> models.Dentry:
        """AddFolder: a folder named ``name`` in ``parent_id`` (the root: "0"), or with
        ``conflict_strategy`` what holds the name already; with the caller's app properties."""
        clean = names.valid(name)
        how = tree.strategy(conflict_strategy)
        parent = tree.parse_id(parent_id, "parentId", root_ok=True)
        new_id = await self._ids.next()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            await tree.folder_for(conn, actor, space, parent, access.WRITE)
            await tasks.check_free(conn, actor.corp_id, parent, adding=True)
            create = functools.partial(
                tree.create, conn, actor, new_id, space_id=space.id, parent_id=parent, now=now
            )
            made = await create(name=clean, if_free=True)
            if made is None:  # the name is taken: the conflict strategy says what to do
                placed = await tree.place(conn, space.id, parent, clean, how, is_file=False)
                if placed.existing is not None:  # RETURN_DENTRY_IF_EXISTS, or OVERWRITE
                    return await tree.view(conn, actor, placed.existing)
                made = await create(name=placed.name)
                assert made is not None, "place() found the name free, under the tree lock"
            await write_properties(conn, new_id, actor.app_id, app_properties, new=True)
            await changes.emit_by(
                conn, actor, space.id, now, changes.of(changes.CREATE, changes.ADD, made)
            )
            return await tree.view(conn, actor, made, own=app_properties)

    async def get(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        app_ids: Sequence[str] | None = None,
    ) -> models.Dentry:
        """GetDentry: one live entry the operator may read, with the app properties of
        ``app_ids``."""
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
        """GetDentries: 1 to 30 entries of the space, each found and readable or with its
        error code, in the order asked."""
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
        if key not in ORDERS_BY:
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
        """RenameDentry: a new name in the same folder; a name taken answers
        ``dentryAlreadyExist``."""
        if dentry_id == "0":
            raise errors.param_error("dentryId", "the root folder cannot be renamed")
        clean = names.valid(new_name, field="name")
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, actor.corp_id, int(row.id))
            node = prepared.Record(row)
            if clean != row.name:
                now = self._clock.now_ms()
                if not await dentries.rename(
                    conn, row, clean, modifier_id=actor.union_id, modified_at=now
                ):
                    raise errors.DENTRY_ALREADY_EXIST.error(f"{clean!r} already exists")
                node = prepared.Record(row, name=clean, modifier_id=actor.union_id, modified_at=now)
                await changes.emit_by(
                    conn, actor, space.id, now, changes.of(changes.UPDATE, changes.RENAME, node)
                )
        # The node's app properties are read once the space's lock is released (they are not
        # the rename's): other writers of the space wait one statement less.
        async with self._db.read() as conn:
            return await tree.view(conn, actor, node)

    async def copy(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> common.Outcome:
        """CopyDentry: a file or an empty folder at once; a folder with children gets its copy
        (or, with OVERWRITE onto a folder of its name, merges into that one) and a task
        (service/bulk/copies.py)."""
        target = common.Target(target_space_id, target_folder_id, conflict_strategy)
        return await copies.copy_one(self._bulk, actor, space_id, dentry_id, target)

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
    ) -> common.Outcome:
        """MoveDentry: re-parents the entry; across spaces, or with OVERWRITE onto a folder of
        its name (a merge), a folder's descendants follow in a task (service/bulk/moves.py).
        The grants on it and under it are dropped, or with ``preserve_permissions`` go with
        it."""
        target = common.Target(target_space_id, target_folder_id, conflict_strategy)
        return await moves.move_one(
            self._bulk, actor, space_id, dentry_id, target, preserve=preserve_permissions
        )

    async def delete(
        self, actor: models.Actor, space_id: str, dentry_id: str, *, to_recycle_bin: bool
    ) -> common.Outcome:
        """DeleteDentry: to the recycle bin, or for good; a folder with children answers with
        a task (service/bulk/deletes.py)."""
        return await deletes.delete_one(
            self._bulk, actor, space_id, dentry_id, to_recycle_bin=to_recycle_bin
        )

    async def copy_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        target_space_id: str,
        target_folder_id: str,
        conflict_strategy: str | None,
    ) -> Sequence[common.BatchItem]:
        """CopyDentries: at most 3 items, each copied as CopyDentry would."""
        target = common.Target(target_space_id, target_folder_id, conflict_strategy)
        return await copies.copy_many(self._bulk, actor, space_id, dentry_ids, target)

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
    ) -> Sequence[common.BatchItem]:
        """MoveDentries: at most 30 items, each moved as MoveDentry would."""
        target = common.Target(target_space_id, target_folder_id, conflict_strategy)
        return await moves.move_many(
            self._bulk, actor, space_id, dentry_ids, target, preserve=preserve_permissions
        )

    async def delete_many(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        *,
        to_recycle_bin: bool,
    ) -> Sequence[common.BatchItem]:
        """DeleteDentries: at most 50 items, each deleted as DeleteDentry would."""
        return await deletes.delete_many(
            self._bulk, actor, space_id, dentry_ids, to_recycle_bin=to_recycle_bin
        )

    async def dry_run(
        self,
        actor: models.Actor,
        operation: str,
        space_id: str,
        dentry_ids: Sequence[str] | None,
        *,
        target: common.Target | None = None,
        to_recycle_bin: bool = False,
    ) -> dryrun.Plan:
        """``dryRun=true`` on CopyDentries, MoveDentries, DeleteDentries: what they would do,
        nothing done (docs/tasks.md#dry-run)."""
        return await dryrun.plan(
            self._bulk,
            actor,
            operation,
            space_id,
            dentry_ids,
            target=target,
            to_recycle_bin=to_recycle_bin,
        )

    async def retry_task(self, actor: models.Actor, task_id: str) -> int:
        """``POST /dingstore/v1/tasks/{taskId}/retry``: a new task over what the task failed
        (docs/tasks.md#retry); returns its id."""
        return await retries.retry(self._bulk, actor, task_id)


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


ORDERS = ("ASC", "DESC")
ORDERS_BY = tuple(dentries.ORDER_COLUMNS)  # MODIFIED_TIME, CREATE_TIME, SIZE, NAME


def _descending(order: str | None, *, default: str) -> bool:
    value = order or default
    if value not in ORDERS:
        raise errors.param_error("order", "order must be ASC or DESC")
    return value == "DESC"
