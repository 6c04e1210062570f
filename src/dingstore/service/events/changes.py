"""What each change emits (docs/events.md, "Which operations emit what"), written by the
services in the transaction of the change itself, under the tree lock of the space it changes:
an event exists exactly when its change committed, and a dentry's events are numbered in the
order its changes committed.

The rule of thumb: one event per dentry a change *names* (its root), never one per descendant
that follows it — a same-space move, a delete or a restore of a folder of a million nodes costs
one row per subscribed app. A copy makes new nodes, so it emits one ``create`` per node made; a
copy task's step writes those of its range in one statement (``store/events.py`` ``emit_nodes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dingstore.service import models
from dingstore.store import events
from dingstore.store.base import Connection, Writer

CREATE, UPDATE, DELETE = events.CREATE, events.UPDATE, events.DELETE

# dingstoreAction: why the event was written (docs/events.md keeps the same list).
ADD = "add"  # AddFolder made the folder
UPLOAD = "upload"  # CommitFile made the file
VERSION = "version"  # CommitFile gave the file a new version
RENAME = "rename"  # RenameDentry
MOVE = "move"  # MoveDentry(ies), and what an OVERWRITE merge moved or emptied
COPY = "copy"  # CopyDentry(ies): a node made, or a file given the copied bytes as a version
RECYCLE = "recycle"  # to the recycle bin (DeleteDentry, or displaced by a restore's OVERWRITE)
DELETE_ACTION = "delete"  # DeleteDentry(ies) for good, not through the bin
RESTORE = "restore"  # RestoreRecycleItem(s)
PURGE = "purge"  # a recycle-bin item purged: DeleteRecycleItem(s), ClearRecycleBin, retention
REVERT = "revert"  # RevertDentryVersion
PROPERTIES = "properties"  # Update/DeleteDentryAppProperties
OVERWRITE = "overwrite"  # a file a moved file replaced (OVERWRITE): gone for good
SPLIT = "split"  # a move across spaces whose creator lost their rights midway: the folder
# that takes back, in the source space, what was not carried yet

ACTIONS = (
    ADD,
    UPLOAD,
    VERSION,
    RENAME,
    MOVE,
    COPY,
    RECYCLE,
    DELETE_ACTION,
    RESTORE,
    PURGE,
    REVERT,
    PROPERTIES,
    OVERWRITE,
    SPLIT,
)


def _heard(conn: Writer, space_id: int) -> bool:
    """Whether a change of the space may have anyone to tell. Every change holds its space's
    tree lock, whose statement found whether an app was subscribed to the space or its org
    (``Writer.subscribed``): when none was, there is nothing to write and no statement to send
    (a round trip less for each write on PostgreSQL). Not known (never, today): look."""
    return conn.subscribed.get(space_id, True)


def of(
    event_type: str,
    action: str,
    row: Any,
    *,
    name: str | None = None,
    dentry_id: int | None = None,
) -> events.Change:
    """The change of the dentry ``row`` (anything with ``id``, ``type`` and ``name``); of
    ``dentry_id`` instead when the change made a new dentry after it (a copy), named ``name``
    when the change gave it a name the row does not hold."""
    return events.Change(
        event_type,
        action,
        int(row.id) if dentry_id is None else dentry_id,
        row.type,
        row.name if name is None else name,
    )


async def emit(
    conn: Connection,
    *,
    corp_id: str,
    union_id: str,
    space_id: int,
    now: int,
    changes: Sequence[events.Change],
) -> None:
    """Write the events of ``changes`` (dentries of space ``space_id``) in ``conn``'s
    transaction, for every app subscribed to the space or the org; ``union_id`` made them."""
    assert isinstance(conn, Writer), "a change's events go into its own transaction"
    if changes and _heard(conn, space_id):
        await events.emit(
            conn,
            corp_id=corp_id,
            space_id=space_id,
            union_id=union_id,
            now=now,
            changes=changes,
        )


async def emit_by(
    conn: Connection,
    actor: models.Actor,
    space_id: int,
    now: int,
    *changes: events.Change,
) -> None:
    """``emit`` for the changes the request's operator made."""
    await emit(
        conn,
        corp_id=actor.corp_id,
        union_id=actor.union_id,
        space_id=space_id,
        now=now,
        changes=changes,
    )


async def emit_copied(
    conn: Connection,
    *,
    corp_id: str,
    union_id: str,
    space_id: int,
    now: int,
    task_id: int,
    first: int,
    last: int,
) -> None:
    """One ``create`` (``copy``) per node of the task's snapshot ``first``..``last`` that a copy
    step made in space ``space_id`` (neither failed nor merged): one statement."""
    assert isinstance(conn, Writer), "a step's events go into its own transaction"
    if not _heard(conn, space_id):
        return
    await events.emit_nodes(
        conn,
        corp_id=corp_id,
        space_id=space_id,
        union_id=union_id,
        now=now,
        task_id=task_id,
        seq_from=first,
        seq_to=last,
        event_type=CREATE,
        action=COPY,
    )
