"""Orgs, apps and spaces as storage sees them: capacity and usage, AddSpace, GetSpace and the
space list (``GET /dingstore/v1/spaces``, docs/files.md#the-space-list)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, names, tree
from dingstore.store import base, identity, ids, spaces
from dingstore.store.base import Connection

LIST_DEFAULT, LIST_MAX = 50, 100


@dataclass(frozen=True, slots=True)
class Usage:
    """One storage partition: bytes used, and the cap if one is set (spec §5.3)."""

    used: int
    max: int | None


@dataclass(frozen=True, slots=True)
class AppStorage:
    app: models.App
    usage: Usage


@dataclass(frozen=True, slots=True)
class NewSpace:
    name: str | None = None
    quota: int | None = None
    scene: str = "default"
    scene_id: str = "0"
    owner_type: str = "USER"
    can_search: bool = False
    can_rename: bool = False
    can_record_recent_file: bool = False


class SpaceService:
    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        *,
        org_quota: int | None,
        clock: Clock,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._org_quota = org_quota
        self._clock = clock

    async def org(self, actor: models.Actor, corp_id: str) -> Usage:
        """GetOrg: the org's capacity. Another org's → 403 ``permissionDenied``."""
        if corp_id != actor.corp_id:
            raise errors.PERMISSION_DENIED.error(f"no access to organization {corp_id}")
        async with self._db.read() as conn:
            return Usage(await spaces.usage(conn, corp_id), self._org_quota)

    async def current_app(self, actor: models.Actor) -> AppStorage:
        """GetCurrentApp: the calling app and the storage its spaces use in its org."""
        async with self._db.read() as conn:
            row = await identity.get_app(conn, actor.app_id)
            if row is None:
                raise errors.APP_NOT_EXIST.error("the calling app no longer exists")
            used = await spaces.usage(conn, actor.corp_id, actor.app_id)
        return AppStorage(models.App.from_row(row), Usage(used, None))

    async def add(self, actor: models.Actor, new: NewSpace) -> models.Space:
        """AddSpace, idempotent on (scene, sceneId) for the calling app in its org."""
        _check(new)
        space_id = await self._ids.next()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            existing = await spaces.by_scene(
                conn, actor.corp_id, actor.app_id, new.scene, new.scene_id
            )
            if existing is not None:
                return models.Space.from_row(existing)
            await spaces.insert(
                conn,
                id=space_id,
                corp_id=actor.corp_id,
                app_id=actor.app_id,
                name=new.name,
                owner_type=new.owner_type,
                owner_id=actor.union_id if new.owner_type == "USER" else actor.app_id,
                creator_id=actor.union_id,
                modifier_id=actor.union_id,
                quota=new.quota,
                used_quota=0,
                status="NORMAL",
                scene=new.scene,
                scene_id=new.scene_id,
                can_search=new.can_search,
                can_rename=new.can_rename,
                can_record_recent_file=new.can_record_recent_file,
                created_at=now,
                modified_at=now,
            )
            row = await spaces.get(conn, space_id)
        assert row is not None
        return models.Space.from_row(row)

    async def get(self, actor: models.Actor, space_id: str) -> models.Space:
        """GetSpace: for an operator holding a role anywhere in the space (403 else)."""
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            if not await access.holds_any(conn, actor, space, access.READ):
                raise access.denied(access.READ, 0)
            return models.Space.from_row(space)

    async def list(
        self, actor: models.Actor, *, next_token: str | None = None, max_results: int | None = None
    ) -> models.Page:
        """The space list: the spaces of the org the operator may read (GetSpace would answer
        them), newest first; a page of ``Space``."""
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        after = tree.decode_token(next_token, 1)
        async with self._db.read() as conn:
            rows = await visible(
                conn, actor, before=None if after is None else int(after[0]), limit=limit + 1
            )
        items = [models.Space.from_row(r) for r in rows[:limit]]
        token = tree.encode_token([int(rows[limit - 1].id)]) if len(rows) > limit else None
        return models.Page(items, token)


async def visible(
    conn: Connection, actor: models.Actor, *, before: int | None = None, limit: int
) -> Sequence[RowMapping]:
    """The spaces of the org the operator may read, newest first (those below ``before`` when
    given): every one for an org admin; else those they created or own or hold a live grant in,
    on any node (GetSpace's rule, ``access.holds_any``). The space list and the web console's
    list of spaces both read it."""
    admin = actor.operator.is_admin
    return await spaces.visible(
        conn,
        actor.corp_id,
        union_id=None if admin else actor.union_id,
        members=() if admin else await access.members(conn, actor),
        now=actor.clock.now_ms(),
        before=before,
        limit=limit,
    )


def _check(new: NewSpace) -> None:
    if new.name:
        names.label(new.name, "name", max_length=256)
    if not new.scene or len(new.scene) > 128:
        raise errors.param_error("scene", "scene must be 1 to 128 characters")
    if not new.scene_id or len(new.scene_id) > 128:
        raise errors.param_error("sceneId", "sceneId must be 1 to 128 characters")
    if new.owner_type not in ("USER", "APP"):
        raise errors.param_error("ownerType", "ownerType must be USER or APP")
    if new.quota is not None and new.quota < 0:
        raise errors.param_error("quota", "quota must be a number of bytes (omit it for no cap)")
