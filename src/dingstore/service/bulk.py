"""Bulk copy, move and delete of folders with children, run by the task engine.

The request does the O(1) part in its own transaction and writes the task row there:

* copy — creates the top-level copy of the folder; the task copies every descendant under it.
* move in one space — re-parents the folder: done; the task only counts what moved.
* move across spaces — moves the folder and both spaces' quotas at once (its kept size, and
  the bytes of the recycle items under it); the task carries every descendant (and their
  versions), those in the recycle bin included, into the target space.
* delete to the recycle bin — marks the folder and records the recycle item: done; the task
  counts what went. Restoring a folder from the bin is the same in reverse.
* permanent delete, and purging an item of the recycle bin — marks the folder deleted (it
  leaves every listing at once); the task purges the subtree deepest first, whatever lies in
  it (recycled entries and their items too), releasing blob references and quota.

A running task holds the subtrees it works on (``task_holds``): any other operation on a node
inside them, or on one of their ancestors, is refused with ``operationConcurrentControl`` naming
the task. Each step settles one range of the subtree snapshotted when the task started, in
set-based statements, inside the engine's fenced transaction.

Copies and moves act for their creator, whose rights each step checks again
(docs/permissions.md, "In tasks"): READER (copy) or EDITOR (move) on the source folder and EDITOR
on the target — one query per space, none for an org admin or the spaces' creator. A step that
finds them gone fails the nodes left with ``permissionDenied``. Inside a copy each file needs
DOWNLOADER: when the source folder does not give it, the step's files under none of the
creator's DOWNLOADER grants fail (one walk up the snapshot from their folders).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import access, models, tree, versions
from dingstore.store import dentries, identity, ids, merges, permissions, spaces, splits, subtree
from dingstore.store.base import Connection
from dingstore.tasks.queue import Claimed
from dingstore.tasks.worker import Handler, Step, SystemicFailure

log = logging.getLogger(__name__)

COPY, MOVE, DELETE, COUNT = "copy", "move", "delete", "count"
DENIED = "permissionDenied"


def _done(task: Claimed) -> int:
    """Snapshotted nodes the task has settled (its cursor)."""
    return int((task.cursor or {}).get("done", 0))


def _snapshotted(task: Claimed) -> int:
    """The task's snapshot size: ``totalCount`` covers it and the folder itself."""
    return int(task.total_count or 1) - 1


def _next(task: Claimed, limit: int, *, deepest_first: bool = False) -> subtree.Span | None:
    done, total = _done(task), _snapshotted(task)
    return subtree.next_span(task.id, done, total, limit, deepest_first=deepest_first)


async def _last(conn: Connection, task: Claimed, span: subtree.Span) -> bool:
    """Whether ``span`` (walked in order) ends the snapshot; if so the snapshot is dropped."""
    if span.last < _snapshotted(task):
        return False
    await subtree.forget(conn, task.id)
    return True


async def _stop(conn: Connection, task: Claimed, *, succeeded: int = 0) -> Step:
    """The creator may not go on: the task ends, every node not settled yet (but
    ``succeeded`` of them) failed."""
    await subtree.forget(conn, task.id)
    left = _snapshotted(task) - _done(task) - succeeded
    return Step(
        cursor={"done": _snapshotted(task)},
        succeeded=succeeded,
        failed=left,
        fail_message=DENIED if left else None,
        done=True,
    )


async def _creator(conn: Connection, task: Claimed) -> models.Actor:
    """The task's creator, as the operator of one step (their roles are looked up afresh)."""
    row = await identity.get_user(conn, task.creator_id)
    user = (
        models.User.from_row(row)
        if row is not None
        else models.User(task.creator_id, task.corp_id, "", "", False)
    )
    return models.Actor(models.Principal(task.app_id or "", task.corp_id, frozenset(), 0), user)


async def _roles(
    conn: Connection, actor: models.Actor, wanted: Sequence[tuple[int, int]]
) -> list[access.Role | None]:
    """The actor's role on each (space, node): one query per space."""
    by_space: dict[int, list[int]] = {}
    for space_id, node in wanted:
        by_space.setdefault(space_id, []).append(node)
    found: dict[tuple[int, int], access.Role | None] = {}
    for space_id, nodes in by_space.items():
        space = await spaces.get(conn, space_id)
        if space is None:
            raise SystemicFailure("spaceNotExist")
        for node, role in (await access.roles(conn, actor, space, nodes)).items():
            found[(space_id, node)] = role
    return [found[w] for w in wanted]


async def _undownloadable(
    conn: Connection, actor: models.Actor, span: subtree.Span, space_id: int
) -> list[int]:
    """The span's files the creator may not download: under none of their DOWNLOADER grants
    (the source folder gives them none)."""
    granted = await permissions.granted_nodes(
        conn, space_id, await access.members(conn, actor), now_ms(), min_rank=access.DOWNLOAD
    )
    return await subtree.fail_files_outside(conn, span, list(granted))


@dataclass
class Merge:
    """How one step's OVERWRITE merge went: nodes that merged into their counterparts, and
    nodes that failed, with their reasons."""

    merged: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)


async def _clashes(
    conn: Connection, span: subtree.Span, depth: int, task: Claimed, root_key: str
) -> tuple[list[RowMapping], list[RowMapping], Merge]:
    """The merging nodes at ``depth`` that meet an entry of their name: folders meeting folders
    merge (recorded here); a file meeting a folder or the reverse fails ``dentryAlreadyExist``.
    Returns the files meeting files, their counterparts, and what was decided."""
    p = task.payload
    found = await merges.clashes(
        conn, span, depth, space_id=int(p["target_space"]), root_id=int(p[root_key])
    )
    outcome = Merge()
    folders = []
    files = []
    for row in found:
        node = int(row.node_id)
        if row.type != row.match_type:
            outcome.failed[node] = "dentryAlreadyExist"
        elif row.type == "FOLDER":
            folders.append((node, int(row.match_id)))
        else:
            files.append(row)
    await subtree.mark_failed(conn, task.id, list(outcome.failed))
    await merges.mark_merged(conn, task.id, folders)
    outcome.merged.update(node for node, _ in folders)
    targets = await dentries.get_many(
        conn, int(p["target_space"]), [int(f.match_id) for f in files]
    )
    by_id = {int(t.id): t for t in targets}
    return files, [by_id[int(f.match_id)] for f in files], outcome


def _levels(rows: list[RowMapping]) -> list[int]:
    return sorted({int(r.depth) for r in rows})


class CountHandler:
    """The work was done in the request (same-space move, delete to the recycle bin, restore
    from it): the task fixes its size — the folder and every live descendant — and
    succeeds."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        total = await dentries.descendants(conn, int(task.payload["root"])) + 1
        return total, Step(cursor={}, succeeded=total, done=True)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        return Step(cursor=task.cursor or {}, done=True)


@dataclass
class CopyHandler:
    """Copies the descendants under the folder's copy (``copy_root``), parents before children.
    With ``merge`` (OVERWRITE onto a folder of the same name, which ``copy_root`` then is), a
    node meeting a folder of its name merges into it and one meeting a file becomes that file's
    new version."""

    version_retention: int

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        root, space = int(task.payload["root"]), int(task.payload["space"])
        expected = await dentries.descendants(conn, root)  # new ids for that many, in advance
        first = await ids.reserve_in(conn, expected) if expected else None
        n = await subtree.snapshot(conn, task.id, root, space, first_id=first)
        if n != expected:  # the kept size was off (it never should be): number them afresh
            log.warning("task %s: %s descendants found, %s kept", task.id, n, expected)
            await subtree.forget(conn, task.id)
            first = await ids.reserve_in(conn, n)
            await subtree.snapshot(conn, task.id, root, space, first_id=first)
        return n + 1, Step(cursor={"done": 0}, succeeded=1, done=n == 0)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        """A range at a time, in a few set-based statements, while every node succeeds; node
        by node (``_careful``) for merges, once some node failed (its descendants fail too),
        or when the range would not fit the target's quota."""
        p = task.payload
        target_space, copy_root = int(p["target_space"]), int(p["copy_root"])
        if await dentries.get(conn, target_space, copy_root) is None:
            raise SystemicFailure("dentryNotExist")  # the copy's folder went away
        span = _next(task, limit)
        if span is None:
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, done=True)
        actor = await _creator(conn, task)
        source_space = int(p["space"])
        source, target = await _roles(
            conn, actor, [(source_space, int(p["root"])), (target_space, copy_root)]
        )
        if not (access.allows(source, access.READ) and access.allows(target, access.WRITE)):
            return await _stop(conn, task)
        denied: list[int] = []
        if not access.allows(source, access.DOWNLOAD):
            denied = await _undownloadable(conn, actor, span, source_space)
        if p.get("merge") or (task.cursor or {}).get("failed"):
            return await self._careful(conn, task, span, denied)
        size = await subtree.span_bytes(conn, span)
        if size and not await spaces.charge(conn, target_space, size):
            return await self._careful(conn, task, span, denied)
        await subtree.copy_nodes(
            conn, span, space_id=target_space, root_copy_id=copy_root,
            operator=task.creator_id, now=now_ms(),
        )  # fmt: skip
        done = await _last(conn, task, span)
        return Step(
            cursor={"done": span.last},
            succeeded=span.size - len(denied),
            failed=len(denied),
            fail_message=DENIED if denied else None,
            done=done,
        )

    async def _careful(
        self, conn: Connection, task: Claimed, span: subtree.Span, denied: list[int]
    ) -> Step:
        """The range node by node; ``denied``: its files the creator may not download (marked
        failed already)."""
        p = task.payload
        target_space, copy_root = int(p["target_space"]), int(p["copy_root"])
        rows = await subtree.rows_of(conn, span)
        now = now_ms()
        merge = await self._merge(conn, task, span, rows, now) if p.get("merge") else Merge()
        # What failed (denied, merge clashes, earlier steps) takes its descendants along: one
        # statement. Only files are left to fail on the quota, and files have no descendants.
        failed = {*denied, *merge.failed, *await subtree.fail_under_failed(conn, span)}
        space = await spaces.get(conn, target_space)
        room = None if space is None or space.quota is None else space.quota - space.used_quota
        ok = 0
        over: list[int] = []
        charged = 0
        reasons = [*merge.failed.values(), *([DENIED] if denied else [])]
        for r in rows:
            node, size = int(r.node_id), int(r.size or 0)
            if node in merge.merged:
                ok += 1
            elif node in failed:
                continue
            elif room is not None and charged + size > room:
                over.append(node)
                reasons.append("spaceQuotaInsufficient")
            else:
                ok += 1
                charged += size
        await subtree.mark_failed(conn, task.id, over)
        lost = [*failed, *over]
        if ok > len(merge.merged):
            await subtree.copy_nodes(
                conn, span, space_id=target_space, root_copy_id=copy_root,
                operator=task.creator_id, now=now,
            )  # fmt: skip
            if charged:
                await spaces.charge(conn, target_space, charged)
        done = await _last(conn, task, span)
        # Later steps go node by node only when a folder failed (its descendants fail with it).
        folder_lost = bool(set(lost) - set(denied))
        cursor = {
            "done": span.last,
            "failed": folder_lost or bool((task.cursor or {}).get("failed")),
        }
        reason = reasons[0] if reasons else None
        return Step(cursor, succeeded=ok, failed=len(lost), fail_message=reason, done=done)

    async def _merge(
        self, conn: Connection, task: Claimed, span: subtree.Span, rows: list[RowMapping], now: int
    ) -> Merge:
        outcome = Merge()
        target_space = int(task.payload["target_space"])
        for depth in _levels(rows):
            files, targets, level = await _clashes(conn, span, depth, task, "copy_root")
            outcome.merged |= level.merged
            outcome.failed.update(level.failed)
            space = await spaces.get(conn, target_space)
            room = None if space is None or space.quota is None else space.quota - space.used_quota
            versioned = []
            for source, target in zip(files, targets, strict=True):
                node, size = int(source.node_id), int(source.size)
                if room is not None and size > room:
                    outcome.failed[node] = "spaceQuotaInsufficient"
                    continue
                await versions.add(
                    conn, task.creator_id, target, blob_id=int(source.blob_id), size=size,
                    now=now, retention=self.version_retention,
                )  # fmt: skip
                room = None if room is None else room - size
                versioned.append((node, int(target.id)))
            await subtree.mark_failed(conn, task.id, [n for n in outcome.failed])
            await merges.mark_merged(conn, task.id, versioned)
            outcome.merged.update(node for node, _ in versioned)
        return outcome


class MoveHandler:
    """Across spaces: the folder moved in the request; its descendants follow, a range a step,
    those in the recycle bin included (the request moved their bytes too). With ``merge``
    (OVERWRITE onto a folder of the same name, ``target_root``): the folder stays and its live
    content goes into that one, level by level — a node meeting a folder of its name merges
    into it, one meeting a file replaces it, the rest move with their subtrees — and at the end
    the merged folders left empty are removed."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        merge = bool(task.payload.get("merge"))
        n = await subtree.snapshot(
            conn, task.id, int(task.payload["root"]), int(task.payload["space"]), every=not merge
        )
        return n + 1, Step(cursor={"done": 0}, succeeded=1, done=n == 0 and not merge)

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        if task.payload.get("merge"):
            return await self._merge_step(conn, task, limit)
        span = _next(task, limit)
        if span is None:
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, done=True)
        if not await self._may_go_on(conn, task):
            return await self._split(conn, task)
        await subtree.move_nodes(conn, span.ids(), int(task.payload["target_space"]))
        done = await _last(conn, task, span)
        return Step(cursor={"done": span.last}, succeeded=span.size, done=done)

    @staticmethod
    async def _may_go_on(conn: Connection, task: Claimed) -> bool:
        """Whether the creator still holds EDITOR on the source folder and the target. Across
        spaces (no merge) the folder already is in the target: the source is the folder it
        left (``from_parent``), the target the folder it is in."""
        p = task.payload
        root, source, target = int(p["root"]), int(p["space"]), int(p["target_space"])
        if p.get("merge"):
            wanted = [(source, root), (target, int(p["target_root"]))]
        else:
            row = await dentries.get_any(conn, root)
            if row is None:
                raise SystemicFailure("dentryNotExist")
            wanted = [(target, int(row.parent_id))]
            if "from_parent" in p:
                wanted.append((source, int(p["from_parent"])))
        found = await _roles(conn, await _creator(conn, task), wanted)
        return all(access.allows(role, access.WRITE) for role in found)

    @staticmethod
    async def _split(conn: Connection, task: Claimed) -> Step:
        """Across spaces, the creator may not go on: the nodes not carried yet stay in the
        source space (store/splits.py) — under a new folder of the moved folder's name, where
        it was (or in the space's root, that folder being gone) — and fail."""
        p = task.payload
        root, source, target = int(p["root"]), int(p["space"]), int(p["target_space"])
        done, now = _done(task), now_ms()
        front = await splits.frontier(conn, task.id, done)
        carried = await splits.carry(conn, front.recycled, source=source, target=target)
        if carried < _snapshotted(task) - done:
            # Grants the request carried to the target along with the folder come back with
            # the nodes left (found from the grants, before those nodes leave the folder).
            granted = await permissions.nodes_under(conn, target, root)
            left = await splits.in_space(conn, granted, source)
            await permissions.move(conn, left, target, source)
            home_parent = int(p.get("from_parent", 0))
            try:
                await tree.folder(conn, source, home_parent)
            except errors.NotFound:
                home_parent = 0
            moved = await dentries.get_any(conn, root)
            name = str(p.get("from_name") or (moved.name if moved is not None else root))
            placed = await tree.place(conn, source, home_parent, name, "AUTO_RENAME", is_file=False)
            home = await ids.reserve_in(conn, 1 + len(front.remade))
            await splits.remake(
                conn, task.id, front, root_id=root, home=(home, home_parent, placed.name),
                space_id=source, operator=task.creator_id, now=now,
            )  # fmt: skip
            await splits.settle(conn, task.id, done, [*front.parents, root], home_id=home)
            await splits.give_back(conn, task.id, done, source=source, target=target)
        return await _stop(conn, task, succeeded=carried)

    async def _merge_step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        p = task.payload
        span = _next(task, limit)
        if span is None:
            await self._sweep(conn, task)
            await subtree.forget(conn, task.id)
            return Step(cursor=task.cursor or {}, done=True)
        rows = await subtree.rows_of(conn, span)
        if await self._may_go_on(conn, task):
            merge = await self._merge(conn, task, span, rows)
        else:  # what would merge fails, with its subtree; what moved already goes on moving
            merge = Merge(failed=dict.fromkeys(await merges.fail_merging(conn, span), DENIED))
        # The nodes under those that failed (now or in an earlier step) fail too: one statement.
        lost = [*merge.failed, *await subtree.fail_under_failed(conn, span)]
        source, target = int(p["space"]), int(p["target_space"])
        if target != source:  # the request charged nothing: the bytes move as the nodes go
            moving = span.ids(live_only=True)
            stored = await subtree.stored_bytes_of(conn, moving)
            await spaces.charge(conn, target, stored)
            await spaces.charge(conn, source, -stored)
            await subtree.move_nodes(conn, moving, target)
        return Step(
            cursor={"done": span.last},
            succeeded=len(rows) - len(lost),
            failed=len(lost),
            fail_message=next(iter(merge.failed.values()), None),
        )

    async def _merge(
        self, conn: Connection, task: Claimed, span: subtree.Span, rows: list[RowMapping]
    ) -> Merge:
        outcome = Merge()
        now = now_ms()
        for depth in _levels(rows):
            _, targets, level = await _clashes(conn, span, depth, task, "target_root")
            outcome.merged |= level.merged
            outcome.failed.update(level.failed)
            for target in targets:  # a file moved onto a file replaces it
                await versions.purge_file(conn, target, now)
            await merges.reparent_merging(
                conn, span, depth, space_id=int(task.payload["target_space"]),
                root_id=int(task.payload["target_root"]), now=now,
            )  # fmt: skip
        return outcome

    @staticmethod
    async def _sweep(conn: Connection, task: Claimed) -> None:
        """Remove the merged folders left empty, deepest first, then the moved folder."""
        space = int(task.payload["space"])
        folders = await merges.merged_folders(conn, task.id)
        for depth in sorted({depth for depth, _ in folders}, reverse=True):
            await merges.drop_empty_folders(
                conn, [n for d, n in folders if d == depth], space_id=space
            )
        await merges.drop_empty_folders(conn, [int(task.payload["root"])], space_id=space)


class DeleteHandler:
    """Permanent delete (of a live folder, or of a folder in the recycle bin): the subtree goes
    deepest first, recycled entries in it and their items included, then the folder itself.
    Nothing above the folder changes: its ancestors' sizes shrank when it was marked."""

    async def start(self, conn: Connection, task: Claimed) -> tuple[int, Step]:
        n = await subtree.snapshot(
            conn, task.id, int(task.payload["root"]), int(task.payload["space"]), every=True
        )
        return n + 1, Step(cursor={"done": 0})

    async def step(self, conn: Connection, task: Claimed, limit: int) -> Step:
        span = _next(task, limit, deepest_first=True)
        now, space = now_ms(), int(task.payload["space"])
        if span is not None:
            freed = await subtree.purge_nodes(conn, span.ids(), now, space_id=space)
            await self._credit(conn, freed)
        if span is None or span.first == 1:  # the descendants are gone: the folder goes last
            root = [int(task.payload["root"])]
            await self._credit(conn, await subtree.purge_nodes(conn, root, now, space_id=space))
            await subtree.forget(conn, task.id)
            settled = 0 if span is None else span.size
            return Step(cursor={"done": _done(task) + settled}, succeeded=settled + 1, done=True)
        return Step(cursor={"done": _done(task) + span.size}, succeeded=span.size)

    @staticmethod
    async def _credit(conn: Connection, freed: dict[int, int]) -> None:
        for space_id, size in freed.items():
            await spaces.charge(conn, space_id, -size)


def handlers(*, version_retention: int) -> dict[str, Handler]:
    return {
        COPY: CopyHandler(version_retention),
        MOVE: MoveHandler(),
        DELETE: DeleteHandler(),
        COUNT: CountHandler(),
    }
