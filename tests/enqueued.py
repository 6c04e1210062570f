"""Task rows written by tests through the real path (``service.tasks.enqueue``, in a write
transaction, waking the workers once it commits), with what no request writes: a payload of any
kind, and progress set by hand."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa

from dingstore.service import tasks
from dingstore.service.container import Services
from dingstore.store import schema


@dataclass(frozen=True)
class Stored:
    """A payload exactly as given, for a task of ``kind``."""

    kind: ClassVar[str] = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


def payload(kind: str, data: dict[str, Any] | None = None) -> tasks.Payload:
    """A payload of ``kind`` (one no handler runs, say) stored as ``data``: the JSON a request
    of an earlier version wrote, for instance."""
    of_kind = type(f"Stored_{kind}", (Stored,), {"kind": kind})
    return of_kind(dict(data or {}))  # type: ignore[no-any-return]


async def enqueue(
    services: Services,
    corp_id: str,
    creator_id: str,
    of: tasks.Payload,
    *,
    holds: list[tuple[int, int]] | None = None,
    **progress: Any,
) -> int:
    """Enqueue a task of ``of`` as a request would (``holds``: the subtrees it holds), then set
    its ``progress`` (row values: status, counts, times...) in the same transaction."""
    task_id = await services.ids.next()
    async with services.db.write() as conn:
        creator = tasks.Creator(corp_id, creator_id, None)
        await tasks.enqueue(conn, task_id, of, creator, holds=holds or [])
        if progress:
            t = schema.tasks
            await conn.execute(sa.update(t).where(t.c.id == task_id).values(**progress))
    return task_id
