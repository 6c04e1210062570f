"""App properties of dentries (spec §6 G): at most 3 per app per dentry, upserted by name,
PUBLIC (every app sees them) or PRIVATE (only the owning app). They belong to the calling app:
the key in a dentry's ``appProperties`` map is that app's appId (docs/files.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import access, models, tasks, tree
from dingstore.store import base, dentries, properties
from dingstore.store.base import Connection

MAX_PER_APP = 3
VISIBILITIES = ("PUBLIC", "PRIVATE")


@dataclass(frozen=True, slots=True)
class PropertyInput:
    name: str
    value: str
    visibility: str = "PRIVATE"


def _check(inputs: Sequence[PropertyInput]) -> None:
    if len(inputs) > MAX_PER_APP:
        raise errors.BadRequest(
            "dentryAppPropertiesNumberExceedsLimit", f"at most {MAX_PER_APP} app properties"
        )
    for p in inputs:
        if not p.name or len(p.name) > 256:
            raise errors.param_error("appProperties", "each property needs a name (≤ 256 chars)")
        if p.visibility not in VISIBILITIES:
            raise errors.param_error("appProperties", "visibility must be PUBLIC or PRIVATE")
    if len({p.name for p in inputs}) != len(inputs):
        raise errors.param_error("appProperties", "property names must be unique")


async def write_properties(
    conn: Connection, dentry_id: int, owner_id: str, inputs: Sequence[PropertyInput]
) -> None:
    """Upsert ``inputs`` for the app; more than 3 of its properties in all → refused."""
    _check(inputs)
    if not inputs:
        return
    present = await properties.names(conn, dentry_id, owner_id)
    if len(present | {p.name for p in inputs}) > MAX_PER_APP:
        raise errors.BadRequest(
            "dentryAppPropertiesNumberExceedsLimit",
            f"an app may keep at most {MAX_PER_APP} properties on a dentry",
        )
    for p in inputs:
        await properties.put(conn, dentry_id, owner_id, p.name, p.value, p.visibility)


class PropertyService:
    def __init__(self, db: base.BaseDatabase) -> None:
        self._db = db

    async def update(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        inputs: Sequence[PropertyInput],
    ) -> None:
        if not inputs:
            raise errors.param_error("appProperties", "appProperties must hold 1 to 3 items")
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, int(row.id))
            await write_properties(conn, int(row.id), actor.app_id, inputs)
            await dentries.update(conn, int(row.id), modified_at=now_ms())

    async def delete(
        self, actor: models.Actor, space_id: str, dentry_id: str, names: Sequence[str]
    ) -> None:
        if not names or len(names) > MAX_PER_APP:
            raise errors.param_error("propertyNames", "propertyNames must hold 1 to 3 names")
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, int(row.id))
            await properties.remove(conn, int(row.id), actor.app_id, names)
