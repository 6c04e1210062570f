"""App properties of dentries (spec §6 G): at most 3 per app per dentry, upserted by name,
PUBLIC (every app sees them) or PRIVATE (only the owning app). They belong to the calling app:
the key in a dentry's ``appProperties`` map is that app's appId (docs/files.md).

A name is 1 to ``MAX_NAME`` characters under the name rule (service/names.py); a value at most
``MAX_VALUE`` characters, without control characters but tab and line breaks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, names, tasks, tree
from dingstore.service.events import changes
from dingstore.store import base, dentries, properties
from dingstore.store.base import Connection

MAX_PER_APP = 3
MAX_NAME = 256
MAX_VALUE = 4096
VISIBILITIES = ("PUBLIC", "PRIVATE")


@dataclass(frozen=True, slots=True)
class PropertyInput:
    name: str
    value: str
    visibility: str = "PRIVATE"


def _check(inputs: Sequence[PropertyInput]) -> None:
    if len(inputs) > MAX_PER_APP:
        raise errors.DENTRY_APP_PROPERTIES_NUMBER_EXCEEDS_LIMIT.error(
            f"at most {MAX_PER_APP} app properties"
        )
    for p in inputs:
        names.label(p.name, "appProperties", max_length=MAX_NAME)
        names.value(p.value, "appProperties", max_length=MAX_VALUE)
        if p.visibility not in VISIBILITIES:
            raise errors.param_error("appProperties", "visibility must be PUBLIC or PRIVATE")
    if len({p.name for p in inputs}) != len(inputs):
        raise errors.param_error("appProperties", "property names must be unique")


async def write_properties(
    conn: Connection,
    dentry_id: int,
    owner_id: str,
    inputs: Sequence[PropertyInput],
    *,
    new: bool = False,
) -> None:
    """Upsert ``inputs`` for the app; more than 3 of its properties in all → refused. ``new``:
    the dentry was made by this transaction, and has no properties yet to read."""
    _check(inputs)
    if not inputs:
        return
    present = set() if new else await properties.names(conn, dentry_id, owner_id)
    if len(present | {p.name for p in inputs}) > MAX_PER_APP:
        raise errors.DENTRY_APP_PROPERTIES_NUMBER_EXCEEDS_LIMIT.error(
            f"an app may keep at most {MAX_PER_APP} properties on a dentry",
        )
    for p in inputs:
        await properties.put(conn, dentry_id, owner_id, p.name, p.value, p.visibility)


class PropertyService:
    def __init__(self, db: base.BaseDatabase, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def update(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        inputs: Sequence[PropertyInput],
    ) -> None:
        """UpdateDentryAppProperties: set the calling app's properties on the dentry (1 to 3),
        replacing those of the same name."""
        if not inputs:
            raise errors.param_error("appProperties", "appProperties must hold 1 to 3 items")
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, actor.corp_id, int(row.id))
            await write_properties(conn, int(row.id), actor.app_id, inputs)
            now = self._clock.now_ms()
            await dentries.update(conn, int(row.id), modified_at=now)
            await changes.emit_by(
                conn, actor, space.id, now, changes.of(changes.UPDATE, changes.PROPERTIES, row)
            )

    async def delete(
        self, actor: models.Actor, space_id: str, dentry_id: str, wanted: Sequence[str]
    ) -> None:
        """DeleteDentryAppProperties: remove the calling app's properties of those names from the
        dentry."""
        if not wanted or len(wanted) > MAX_PER_APP:
            raise errors.param_error("propertyNames", "propertyNames must hold 1 to 3 names")
        for name in wanted:
            names.label(name, "propertyNames", max_length=MAX_NAME)
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id, write=True)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            await tasks.check_free(conn, actor.corp_id, int(row.id))
            if await properties.remove(conn, int(row.id), actor.app_id, wanted):
                await changes.emit_by(
                    conn,
                    actor,
                    space.id,
                    self._clock.now_ms(),
                    changes.of(changes.UPDATE, changes.PROPERTIES, row),
                )
