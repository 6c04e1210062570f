"""What the step handlers of the bulk operations share: the typed payload they read, their
cursor over the subtree snapshot, the creator's rights checked again each step, and the clashes
of an OVERWRITE merge."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.engine.queue import Claimed
from dingstore.engine.worker import Step, SystemicFailure
from dingstore.service import access, models
from dingstore.store import dentries, identity, merges, permissions, spaces, subtree
from dingstore.store.base import Connection

DENIED = errors.PERMISSION_DENIED.code


class Payload:
    """Base of the task payloads, frozen dataclasses that a request writes into its task row
    and a worker, maybe running newer code, reads back. ``to_json`` writes the fields and
    ``version``; ``from_json`` reads any version up to ``version`` — 0 being the untyped dicts
    written before payloads had one, under the same keys — ignoring keys it does not know, and
    fails the task on a newer version it cannot read. A change of meaning takes a new version
    and a branch in ``from_json``."""

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]  # subclasses are dataclasses
    kind: ClassVar[str]
    version: ClassVar[int] = 1

    def to_json(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"version": self.version, **values}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        if int(data.get("version", 0)) > cls.version:
            raise SystemicFailure(errors.SYSTEM_ERROR.code)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


# A task's first step fixes its size from what it reads at once (the kept sizes) and begins;
# the next takes the subtree's snapshot (``walked`` false until then), so that a big snapshot
# never delays the start. Cursors written before this have no ``walked``: snapshotted at start.
def fresh() -> dict[str, Any]:
    """The cursor of a task that began and took no snapshot yet."""
    return {"done": 0, "walked": False}


def walked(task: Claimed) -> bool:
    """Whether the task's subtree is snapshotted."""
    return bool((task.cursor or {}).get("walked", True))


def began(n: int) -> Step:
    """What a step that took the snapshot (``n`` nodes) records: nothing settled yet, and the
    task's size, the folder and those nodes (the kept size it began with misses what lies in
    the recycle bin)."""
    return Step(cursor={"done": 0}, total=n + 1)


def done(task: Claimed) -> int:
    """Snapshotted nodes the task has settled (its cursor)."""
    return int((task.cursor or {}).get("done", 0))


def snapshotted(task: Claimed) -> int:
    """The task's snapshot size: ``totalCount`` covers it and the folder itself."""
    return int(task.total_count or 1) - 1


def next_span(task: Claimed, limit: int, *, deepest_first: bool = False) -> subtree.Span | None:
    """The next range of at most ``limit`` snapshotted nodes, None when none is left."""
    return subtree.next_span(
        task.id, done(task), snapshotted(task), limit, deepest_first=deepest_first
    )


async def last(conn: Connection, task: Claimed, span: subtree.Span, *, keep: bool = False) -> bool:
    """Whether ``span`` (walked in order) ends the snapshot; if so the snapshot is dropped
    (``keep``: but what a retry needs, ``subtree.forget_settled``)."""
    if span.last < snapshotted(task):
        return False
    await forget(conn, task, span.last, keep=keep)
    return True


async def forget(conn: Connection, task: Claimed, done: int, *, keep: bool = False) -> None:
    """Drop the task's snapshot, ``done`` nodes of it settled (``keep``: but what a retry of the
    others needs)."""
    if keep:
        await subtree.forget_settled(conn, task.id, done)
    else:
        await subtree.forget(conn, task.id)


async def stop(conn: Connection, task: Claimed, *, succeeded: int = 0, keep: bool = False) -> Step:
    """The creator may not go on: the task ends, every node not settled yet (but
    ``succeeded`` of them) failed."""
    await forget(conn, task, done(task), keep=keep)
    left = snapshotted(task) - done(task) - succeeded
    return Step(
        cursor={"done": snapshotted(task)},
        succeeded=succeeded,
        failed=left,
        fail_message=DENIED if left else None,
        done=True,
    )


async def creator(conn: Connection, task: Claimed, clock: Clock) -> models.Actor:
    """The task's creator, as the operator of one step (their roles are looked up afresh)."""
    row = await identity.get_user(conn, task.creator_id)
    user = (
        models.User.from_row(row)
        if row is not None
        else models.User(task.creator_id, task.corp_id, "", "", False)
    )
    principal = models.Principal(task.app_id or "", task.corp_id, frozenset(), 0)
    return models.Actor(principal, user, clock)


async def roles(
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
            raise SystemicFailure(errors.SPACE_NOT_EXIST.code)
        for node, role in (await access.roles(conn, actor, space, nodes)).items():
            found[(space_id, node)] = role
    return [found[w] for w in wanted]


async def undownloadable(
    conn: Connection, actor: models.Actor, span: subtree.Span, space_id: int
) -> list[int]:
    """The span's files the creator may not download: under none of their DOWNLOADER grants
    (the source folder gives them none)."""
    granted = await permissions.granted_nodes(
        conn,
        space_id,
        await access.members(conn, actor),
        actor.clock.now_ms(),
        min_rank=access.DOWNLOAD,
    )
    return await subtree.fail_files_outside(conn, span, list(granted))


@dataclass
class MergeResult:
    """How one step's OVERWRITE merge went: nodes that merged into their counterparts, and
    nodes that failed, with their reasons."""

    merged: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)


async def clashes(
    conn: Connection, task: Claimed, span: subtree.Span, depth: int, *, space_id: int, into: int
) -> tuple[list[RowMapping], list[RowMapping], MergeResult]:
    """The merging nodes at ``depth`` that meet an entry of their name under folder ``into`` of
    space ``space_id``: folders meeting folders merge (recorded here); a file meeting a folder
    or the reverse fails ``dentryAlreadyExist``. Returns the files meeting files, their
    counterparts, and what was decided."""
    found = await merges.clashes(conn, span, depth, space_id=space_id, root_id=into)
    outcome = MergeResult()
    folders = []
    files = []
    for row in found:
        node = int(row.node_id)
        if row.type != row.match_type:
            outcome.failed[node] = errors.DENTRY_ALREADY_EXIST.code
        elif row.type == "FOLDER":
            folders.append((node, int(row.match_id)))
        else:
            files.append(row)
    await subtree.mark_failed(conn, task.id, list(outcome.failed))
    await merges.mark_merged(conn, task.id, folders)
    outcome.merged.update(node for node, _ in folders)
    targets = await dentries.get_many(conn, space_id, [int(f.match_id) for f in files])
    by_id = {int(t.id): t for t in targets}
    return files, [by_id[int(f.match_id)] for f in files], outcome


def levels(rows: list[RowMapping]) -> list[int]:
    """The depths of ``rows``, shallowest first."""
    return sorted({int(r.depth) for r in rows})
