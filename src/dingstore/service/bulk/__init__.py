"""The bulk operations: copy, move and delete of folders with children, and the purge of
recycle-bin items, finished by the task engine. One module per operation holds its request
side, its typed task payload and its step handler: ``copies``, ``moves``, ``deletes`` (delete
and purge), ``counts`` (the task of what the request did whole: a move within one space, a
delete to the recycle bin, a restore from it). ``common`` is what their request sides share,
``steps`` what their handlers share.

The request does the O(1) part in its own transaction and writes the task row there
(``tasks.enqueue``, which wakes the workers once it commits). A running task holds the subtrees
it works on (``task_holds``): any other operation on a node inside them, or on one of their
ancestors, is refused with ``operationConcurrentControl`` naming the task. Each step settles one
range of the subtree snapshotted when the task started, in set-based statements, inside the
engine's fenced transaction.

Copies and moves act for their creator, whose rights each step checks again
(docs/permissions.md, "In tasks"): one query per space, none for an org admin or the spaces'
creator. A step that finds them gone fails the nodes left with ``permissionDenied``.
"""

from __future__ import annotations

from dingstore.clock import Clock
from dingstore.engine.worker import Handler
from dingstore.service.bulk import copies, counts, deletes, moves


def handlers(*, version_retention: int, clock: Clock) -> dict[str, Handler]:
    """The step handler of each task kind, for the task engine."""
    return {
        copies.CopyPayload.kind: copies.CopyHandler(version_retention, clock),
        moves.MovePayload.kind: moves.MoveHandler(clock),
        deletes.DeletePayload.kind: deletes.DeleteHandler(clock),
        counts.CountPayload.kind: counts.CountHandler(),
    }
