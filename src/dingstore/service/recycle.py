"""The org's recycle bin (spec §6 H): GetRecycleBin, ListRecycleItems, GetRecycleItem,
RestoreRecycleItem(s), DeleteRecycleItem(s), ClearRecycleBin, and the purge of items past their
retention (the housekeeper's).

Sending an entry to the bin (``deletes.send``) and restoring it are O(1): the row is marked
(unmarked) and its ancestors' kept sizes shrink (grow) by its weight; its bytes stay in its
space's quota all along. A purge (``deletes.purge``) releases them: a file, or a folder with
nothing at all under it, at once; any other folder through the task engine (a DELETE task
holding it), which purges whatever lies in it. The items nested under an item being purged
leave the bin with it, at once. Those modules are in service/bulk/.

The choices where the spec is silent are in docs/recycle-bin.md: one bin per org, its id derived
from the corpId; items newest first; an item restores into its original folder wherever that
folder now is in its space, or into the space's root when that folder is gone; with OVERWRITE,
the entry holding its name goes to the bin in its place.

Who may act (docs/permissions.md): the operator's role on an item's entry, which keeps its place
in the tree while in the bin — READER to see it, EDITOR to restore or purge it (and EDITOR on the
space's root to restore it there, its folder being gone). Listings and purges of many items ask
for their roles a space at a time.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, tasks, tree
from dingstore.service.bulk import counts, deletes
from dingstore.service.events import changes
from dingstore.store import base, dentries, identity, ids, spaces
from dingstore.store import recycle as recycle_rows
from dingstore.store.base import Connection

SCOPE = "ORG"
LIST_DEFAULT, LIST_MAX = 50, 50
RESTORE_MAX, PURGE_MAX = 30, 50
RETENTION_BATCH = 500  # expired items purged per org and transaction
SCAN_BATCH = 500  # items a listing reads at a time, past its first read, looking for visible ones
ROLES_BATCH = 1000  # entries whose roles one query asks for


def bin_id(corp_id: str) -> str:
    """The org's recycle bin: a decimal id derived from its corpId (no row of its own)."""
    digest = hashlib.sha256(f"recycle-bin:{corp_id}".encode()).digest()
    return str(int.from_bytes(digest[:8], "big") >> 1 or 1)


@dataclass(frozen=True, slots=True)
class Restored:
    """Where a restored item is now; for a folder with children, the task that counts them."""

    space_id: int
    dentry_id: int
    task_id: int | None = None


@dataclass(frozen=True, slots=True)
class RestoreItem:
    """One item of RestoreRecycleItems: restored (``result``), or failed with ``error_code``."""

    item_id: str
    result: Restored | None = None
    error_code: str | None = None


async def _original_folder(conn: Connection, row: RowMapping) -> int:
    """Where an item restores: its parent folder when that is a live folder of its space (it may
    have moved), else the space's root (the folder was purged, or is in the bin, or under a
    folder that is)."""
    parent = int(row.parent_id)
    try:
        await tree.folder(conn, int(row.space_id), parent)
    except errors.NotFound:
        return 0
    return parent


async def _permitted(
    conn: Connection, actor: models.Actor, items: Sequence[RowMapping], need: access.Role
) -> list[RowMapping]:
    """Those of the items whose entry the operator holds ``need`` on: their roles asked a
    space (and a thousand entries) at a time, none for the org's admins."""
    by_space: dict[int, list[RowMapping]] = {}
    for item in items:
        by_space.setdefault(int(item.space_id), []).append(item)
    allowed: set[int] = set()
    for space_id, group in by_space.items():
        space = await spaces.get(conn, space_id)
        if space is None:
            continue
        for start in range(0, len(group), ROLES_BATCH):
            batch = group[start : start + ROLES_BATCH]
            found = await access.roles(conn, actor, space, [int(i.dentry_id) for i in batch])
            allowed.update(int(i.id) for i in batch if access.allows(found[int(i.dentry_id)], need))
    return [i for i in items if int(i.id) in allowed]


async def _require(
    conn: Connection, actor: models.Actor, item: RowMapping, need: access.Role
) -> None:
    """403 ``permissionDenied`` unless the operator holds ``need`` on the item's entry."""
    if not await _permitted(conn, actor, [item], need):
        raise access.denied(need, int(item.dentry_id))


def _item_ids(texts: Sequence[str] | None, limit: int) -> list[tuple[str, int]]:
    """1 to ``limit`` decimal item ids (as given, and as numbers), else 400
    ``paramError.recycleItemIds``."""
    if not texts or len(texts) > limit:
        raise errors.param_error("recycleItemIds", f"recycleItemIds must hold 1 to {limit} ids")
    return [(t, tree.parse_id(t, "recycleItemIds")) for t in texts]


class RecycleService:
    """The org's recycle bin: its items, their restore and their purge."""

    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        *,
        retention_days: float,
        clock: Clock,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._retention_ms = int(retention_days * 86_400_000)
        self._clock = clock

    async def bin(
        self, actor: models.Actor, scope: str | None, scope_id: str | None
    ) -> models.RecycleBin:
        """GetRecycleBin: the org's bin (scope ``ORG``, scopeId its corpId)."""
        if scope != SCOPE:
            raise errors.param_error("recycleBinScope", "recycleBinScope must be ORG")
        if not scope_id:
            raise errors.param_error("scopeId", "scopeId is required: the corpId")
        if scope_id != actor.corp_id:
            raise errors.RECYCLE_BIN_NOT_EXIST.error(f"no recycle bin of {scope_id} here")
        return models.RecycleBin(bin_id(actor.corp_id), SCOPE, actor.corp_id)

    async def list(
        self,
        actor: models.Actor,
        recycle_bin_id: str,
        *,
        next_token: str | None,
        max_results: int | None,
    ) -> models.Page:
        """ListRecycleItems: the bin's items, newest first, paged by keyset."""
        _check_bin(actor, recycle_bin_id)
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        after = tree.decode_token(next_token, 2)
        seen: list[RowMapping] = []
        async with self._db.read() as conn:
            batch = limit + 1  # enough when the operator may read them all (an admin, say)
            while len(seen) <= limit:
                rows = await recycle_rows.page(conn, actor.corp_id, after=after, limit=batch)
                seen += await _permitted(conn, actor, rows, access.READ)
                if len(rows) < batch:
                    break
                after = [int(rows[-1].operator_time), int(rows[-1].id)]
                batch = SCAN_BATCH
        items = [models.RecycleItem.from_row(r) for r in seen[:limit]]
        token = None
        if len(seen) > limit:
            token = tree.encode_token([items[-1].operator_time, items[-1].id])
        return models.Page(items, token)

    async def get(
        self, actor: models.Actor, recycle_bin_id: str, item_id: str
    ) -> models.RecycleItem:
        """GetRecycleItem: one item the operator may read."""
        _check_bin(actor, recycle_bin_id)
        number = tree.parse_id(item_id, "recycleItemId")
        async with self._db.read() as conn:
            row = await recycle_rows.get(conn, actor.corp_id, number)
            if row is None:
                raise _no_item(item_id)
            await _require(conn, actor, row, access.READ)
        return models.RecycleItem.from_row(row)

    async def restore(
        self, actor: models.Actor, recycle_bin_id: str, item_id: str, conflict_strategy: str | None
    ) -> Restored:
        """RestoreRecycleItem: back where it was (see ``_original_folder``), at once; a folder
        with children answers with a task that counts them."""
        _check_bin(actor, recycle_bin_id)
        number = tree.parse_id(item_id, "recycleItemId")
        how = tree.strategy(conflict_strategy)
        return await self._restore(actor, number, how)

    async def restore_many(
        self,
        actor: models.Actor,
        recycle_bin_id: str,
        item_ids: Sequence[str] | None,
        conflict_strategy: str | None,
    ) -> Sequence[RestoreItem]:
        """RestoreRecycleItems: at most 30 items, each restored as RestoreRecycleItem would;
        an item's own failure is reported in its result."""
        _check_bin(actor, recycle_bin_id)
        how = tree.strategy(conflict_strategy)
        results = []
        for text, number in _item_ids(item_ids, RESTORE_MAX):
            try:
                restored = await self._restore(actor, number, how)
                results.append(RestoreItem(text, restored))
            except errors.DingstoreError as exc:
                if exc.status >= 500:
                    raise
                results.append(RestoreItem(text, error_code=exc.code))
        return results

    async def delete(self, actor: models.Actor, recycle_bin_id: str, item_id: str) -> None:
        """DeleteRecycleItem: purge it for good (a folder with content through a task)."""
        _check_bin(actor, recycle_bin_id)
        await self._purge(actor, [tree.parse_id(item_id, "recycleItemId")])

    async def delete_many(
        self, actor: models.Actor, recycle_bin_id: str, item_ids: Sequence[str] | None
    ) -> None:
        """DeleteRecycleItems: at most 50 items, all purged or (one missing, one the operator
        may not purge, one held by a task) none."""
        _check_bin(actor, recycle_bin_id)
        await self._purge(actor, [number for _, number in _item_ids(item_ids, PURGE_MAX)])

    async def clear(self, actor: models.Actor, recycle_bin_id: str) -> None:
        """ClearRecycleBin: purge every item of the bin the operator may purge (none, if a task
        holds one of them); the others stay."""
        _check_bin(actor, recycle_bin_id)
        await self._purge(actor, None)

    async def purge_expired(self) -> int:
        """Purge the items deleted longer than the retention ago (those a running task holds
        wait for a later pass); returns how many."""
        now = self._clock.now_ms()
        cutoff = now - self._retention_ms
        async with self._db.read() as conn:
            orgs = [str(o.corp_id) for o in await identity.list_orgs(conn)]
        purged = 0
        for corp_id in orgs:
            while True:
                async with self._db.write(long=True) as conn:
                    expired = functools.partial(
                        recycle_rows.of_org, conn, corp_id, before=cutoff, limit=RETENTION_BATCH
                    )
                    found = await _locked(conn, expired)
                    held = await tasks.held(conn, corp_id, [int(i.dentry_id) for i in found])
                    free = [i for i in found if int(i.dentry_id) not in held]
                    await deletes.purge(conn, corp_id, free, creator_id=None, app_id=None, now=now)
                purged += len(free)
                if len(found) < RETENTION_BATCH or not free:
                    break
        return purged

    # --- the work ---------------------------------------------------------------------------

    async def _restore(self, actor: models.Actor, number: int, how: str) -> Restored:
        displaced_id, task_id = await self._ids.next(), await self._ids.next()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            found = await _locked(
                conn, lambda: recycle_rows.get_many(conn, actor.corp_id, [number])
            )
            item = found[0] if found else None
            row = None if item is None else await dentries.get_any(conn, int(item.dentry_id))
            if item is None or row is None:
                raise _no_item(str(number))
            space_id, dentry_id, is_file = int(row.space_id), int(row.id), row.type == "FILE"
            await _require(conn, actor, item, access.WRITE)
            await tasks.check_free(conn, actor.corp_id, dentry_id)
            folder = await _original_folder(conn, row)
            space = await spaces.get(conn, space_id)
            if folder != int(row.parent_id):  # its folder is gone: it goes into the root
                await access.require(conn, actor, space, 0, access.WRITE)
            await tasks.check_free(conn, actor.corp_id, folder, adding=True)
            placed = await tree.place(conn, space_id, folder, row.name, how, is_file=is_file)
            if placed.existing is not None:
                if how == "RETURN_DENTRY_IF_EXISTS":  # the item stays in the bin
                    return Restored(space_id, int(placed.existing.id))
                # OVERWRITE: the entry holding the name goes to the bin in the item's place.
                await access.require(conn, actor, space, int(placed.existing.id), access.WRITE)
                await tasks.check_free(conn, actor.corp_id, int(placed.existing.id))
                await deletes.send(conn, actor, placed.existing, displaced_id, now)
                displaced = changes.of(changes.DELETE, changes.RECYCLE, placed.existing)
                await changes.emit_by(conn, actor, space_id, now, displaced)
            await recycle_rows.drop(conn, [number])
            await dentries.update(
                conn,
                dentry_id,
                status="NORMAL",
                deleted_at=None,
                parent_id=folder,
                name=placed.name,
            )
            count, size = dentries.weight(row)
            await dentries.grow_chain(conn, folder, count, size)
            restored = changes.of(changes.CREATE, changes.RESTORE, row, name=placed.name)
            await changes.emit_by(conn, actor, space_id, now, restored)
            nested = not is_file and await dentries.has_children(conn, space_id, dentry_id)
            if nested:
                await counts.record(conn, actor, task_id, space_id, dentry_id)
            return Restored(space_id, dentry_id, task_id if nested else None)

    async def _purge(self, actor: models.Actor, numbers: Sequence[int] | None) -> None:
        """Purge the items ``numbers`` (None: the whole bin), or fail and change nothing."""
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            if numbers is None:
                found = await _locked(conn, lambda: recycle_rows.of_org(conn, actor.corp_id))
                items = await _permitted(conn, actor, found, access.WRITE)
            else:
                items = await _locked(
                    conn, lambda: recycle_rows.get_many(conn, actor.corp_id, numbers)
                )
                missing = set(numbers) - {int(i.id) for i in items}
                if missing:
                    raise _no_item(str(min(missing)))
                allowed = {int(i.id) for i in await _permitted(conn, actor, items, access.WRITE)}
                refused = [i for i in items if int(i.id) not in allowed]
                if refused:
                    raise access.denied(access.WRITE, int(refused[0].dentry_id))
            await tasks.check_free_many(conn, actor.corp_id, [int(i.dentry_id) for i in items])
            await deletes.purge(
                conn, actor.corp_id, items, creator_id=actor.union_id, app_id=actor.app_id, now=now
            )


async def _locked(
    conn: base.Writer, find: Callable[[], Awaitable[list[RowMapping]]]
) -> list[RowMapping]:
    """The items ``find`` reads, read again once the tree lock of their spaces is taken (service/
    tree.py): a restore or purge changes the trees of its items' spaces, and only those. An
    item carried into another space between the reads (a move across spaces takes its recycled
    entries along) has that space locked too, and everything is read once more."""
    locked: set[int] = set()
    while True:
        found = await find()
        wanted = {int(i.space_id) for i in found} - locked
        if not wanted:
            return found
        await spaces.lock(conn, wanted)
        locked |= wanted


def _check_bin(actor: models.Actor, recycle_bin_id: str) -> None:
    tree.parse_id(recycle_bin_id, "recycleBinId")
    if recycle_bin_id != bin_id(actor.corp_id):
        raise errors.RECYCLE_BIN_NOT_EXIST.error(f"recycle bin {recycle_bin_id} does not exist")


def _no_item(item_id: str) -> errors.NotFound:
    return errors.RECYCLE_ITEM_NOT_EXIST.error(f"recycle item {item_id} does not exist")
