"""AddPermission, UpdatePermission, DeletePermission, ListPermissions and BatchQueryRoles
(spec §6 I). Who may call them and what a grant means: docs/permissions.md."""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import access, models, tree
from dingstore.service.access import Role
from dingstore.store import base, dentries, identity, permissions
from dingstore.store.base import Connection

MAX_MEMBERS = 30
MAX_DURATION = 3600  # seconds; an APP space's grants are temporary (spec §1.12)
LIST_DEFAULT, LIST_MAX = 50, 500
MAX_FILTER_ROLES = 30
MAX_QUERIED = 30


@dataclass(frozen=True, slots=True)
class MemberInput:
    type: str | None
    id: str | None
    corp_id: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """A checked member: how it is shown, and the key its grants are stored under."""

    type: str
    id: str
    corp_id: str | None

    @property
    def key(self) -> str:
        return access.member_key(self.type, self.id, self.corp_id)


@dataclass(frozen=True, slots=True)
class _Target:
    space: RowMapping
    node: int


class PermissionService:
    def __init__(self, db: base.BaseDatabase) -> None:
        self._db = db

    async def add(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        role_id: str | None,
        members: Sequence[MemberInput] | None,
        duration: int | None,
    ) -> None:
        """Grant ``role_id`` to each member on the node; a grant already there is renewed."""
        role = _role(role_id)
        async with self._db.write() as conn:
            target = await _target(conn, actor, space_id, dentry_id)
            checked = await _members(conn, actor, members)
            await _may_manage(conn, actor, target, role)
            expires = _expiry(target.space, duration)
            await _grant(conn, actor, target, role, checked, expires)

    async def update(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        role_id: str | None,
        members: Sequence[MemberInput] | None,
        duration: int | None,
    ) -> None:
        """Set each member's role on the node to ``role_id``: their other grants on it go (a
        member with none is granted it)."""
        role = _role(role_id)
        async with self._db.write() as conn:
            target = await _target(conn, actor, space_id, dentry_id)
            checked = await _members(conn, actor, members)
            replaced = await permissions.page(
                conn, int(target.space.id), target.node, now_ms(),
                roles=None, members=[m.key for m in checked], after=None, limit=len(checked) * 5,
            )  # fmt: skip
            await _may_manage(conn, actor, target, max([role, *(Role(r.rank) for r in replaced)]))
            expires = _expiry(target.space, duration)
            await permissions.revoke(
                conn, int(target.space.id), target.node, [m.key for m in checked],
                keep_role=role.name,
            )  # fmt: skip
            await _grant(conn, actor, target, role, checked, expires)

    async def delete(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        role_id: str | None,
        members: Sequence[MemberInput] | None,
    ) -> None:
        """Revoke the members' ``role_id`` grants on the node (none there: nothing to do)."""
        role = _role(role_id)
        async with self._db.write() as conn:
            target = await _target(conn, actor, space_id, dentry_id)
            checked = await _members(conn, actor, members)
            await _may_manage(conn, actor, target, role)
            await permissions.revoke(
                conn, int(target.space.id), target.node, [m.key for m in checked],
                role_id=role.name,
            )  # fmt: skip

    async def list(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        *,
        role_ids: Sequence[str] | None,
        next_token: str | None,
        max_results: int | None,
    ) -> models.Page:
        """The grants set on the node itself, by member; in an APP space an operator short of
        MANAGER sees only those naming them."""
        limit = tree.page_size(max_results, default=LIST_DEFAULT, maximum=LIST_MAX)
        roles = _filter_roles(role_ids)
        after = tree.decode_token(next_token, 2, text=True)
        async with self._db.read() as conn:
            target = await _target(conn, actor, space_id, dentry_id)
            held = await access.role(conn, actor, target.space, target.node)
            mine: Sequence[str] | None = None
            if target.space.owner_type == "APP":
                if not access.allows(held, access.MANAGE):
                    mine = await access.members(conn, actor)
            elif not access.allows(held, access.READ):
                raise access.denied(access.READ, target.node)
            now = now_ms()
            rows = await permissions.page(
                conn, int(target.space.id), target.node, now,
                roles=roles, members=mine, after=after, limit=limit + 1,
            )  # fmt: skip
        token = None
        if len(rows) > limit:
            rows = rows[:limit]
            token = tree.encode_token([rows[-1].member, rows[-1].role_id])
        return models.Page([_permission(r, now) for r in rows], token)

    async def roles(
        self, actor: models.Actor, space_id: str, dentry_id_list: str | None
    ) -> dict[str, builtins.list[str]]:
        """BatchQueryRoles: the operator's effective role on each dentry of the JSON array
        ``dentry_id_list`` (spec §1.3), as a one-element list; an empty one where they hold
        none, or where the dentry does not exist."""
        wanted = _queried(dentry_id_list)
        async with self._db.read() as conn:
            space = await _located(tree.space(conn, actor, space_id))
            numbers = {d: tree.parse_id(d, "dentryIdList", root_ok=True) for d in wanted}
            rows = await dentries.get_many(conn, int(space.id), set(numbers.values()) - {0})
            live = {int(r.id) for r in await tree.visible(conn, rows)}
            live |= {n for n in numbers.values() if n == 0}
            held = await access.roles(conn, actor, space, live)
        return {
            d: [held[n].name] if n in live and held[n] is not None else []  # type: ignore[union-attr]
            for d, n in numbers.items()
        }

    async def purge_expired(self) -> int:
        async with self._db.write() as conn:
            return await permissions.delete_expired(conn, now_ms())


# The permission pages answer a missing space or dentry with 400, not 404 (spec §6 I).
_AS_400 = {
    errors.SPACE_NOT_EXIST: errors.SPACE_NOT_EXIST_400,
    errors.DENTRY_NOT_EXIST: errors.DENTRY_NOT_EXIST_400,
}


async def _located(find: Any) -> Any:
    """The space or dentry ``find`` looks up, or 400 when it does not exist."""
    try:
        return await find
    except errors.NotFound as exc:
        if exc.error_code not in _AS_400:
            raise
        raise _AS_400[exc.error_code].error(exc.message) from None


async def _target(conn: Connection, actor: models.Actor, space_id: str, dentry_id: str) -> _Target:
    space = await _located(tree.space(conn, actor, space_id))
    node = tree.parse_id(dentry_id, "dentryId", root_ok=True)
    if node:
        await _located(tree.dentry(conn, int(space.id), dentry_id))
    return _Target(space, node)


def _role(role_id: str | None) -> Role:
    if role_id not in access.ROLE_IDS:
        raise errors.param_error("roleId", f"roleId must be one of {', '.join(access.ROLE_IDS)}")
    return Role[role_id]


def _filter_roles(role_ids: Sequence[str] | None) -> list[str] | None:
    if not role_ids:
        return None
    if len(role_ids) > MAX_FILTER_ROLES:
        raise errors.param_error("roleId", f"filterRoleIds takes at most {MAX_FILTER_ROLES}")
    return [_role(r).name for r in role_ids]


async def _members(
    conn: Connection, actor: models.Actor, given: Sequence[MemberInput] | None
) -> list[Member]:
    """The members, each of the operator's org: a ``USER`` one of its users, an ``ORG`` the org
    itself, a ``DEPT`` or ``TAG`` named with its corpId. Another org's user or corpId is refused
    exactly as an unknown one (``paramError.members``), so that no org learns which ids exist in
    another, and nothing is stored."""
    if not given:
        raise errors.param_error("members", "members must name at least one member")
    if len(given) > MAX_MEMBERS:
        raise errors.param_error("members", f"members takes at most {MAX_MEMBERS}")
    checked = []
    for m in given:
        if m.type not in access.MEMBER_TYPES:
            raise errors.param_error(
                "permissionMemberType",
                f"a member's type must be one of {', '.join(access.MEMBER_TYPES)}",
            )
        if not m.id or len(m.id) > 128:
            raise errors.param_error("members", "a member's id must be 1 to 128 characters")
        if m.type in ("DEPT", "TAG") and not m.corp_id:
            raise errors.param_error("members", f"a {m.type} member needs its corpId")
        checked.append(Member(m.type, m.id, m.corp_id or None))
    users = {m.id for m in checked if m.type == "USER"}
    outside = sorted(users - await identity.known_users(conn, actor.corp_id, users))
    orgs = {m.id for m in checked if m.type == "ORG"}
    orgs |= {m.corp_id for m in checked if m.type in ("DEPT", "TAG") and m.corp_id}
    outside += sorted(orgs - {actor.corp_id})
    if outside:
        raise errors.param_error(
            "members", f"no user or organization with id {outside[0]} in this organization"
        )
    return list({m.key: m for m in checked}.values())


async def _may_manage(conn: Connection, actor: models.Actor, target: _Target, role: Role) -> None:
    """Managing grants needs MANAGER on the node, and OWNER when ``role`` (the highest role
    granted, changed or revoked) is MANAGER or OWNER; an APP space's grants are managed by the
    app that owns it, whoever the operator (spec §1.12)."""
    if target.space.owner_type == "APP" and actor.app_id == target.space.app_id:
        return
    need = Role.OWNER if role >= Role.MANAGER else Role.MANAGER
    await access.require(conn, actor, target.space, target.node, need)


def _expiry(space: RowMapping, duration: int | None) -> int | None:
    """When an APP space's grant expires (``duration`` seconds, 1 to 3600, 3600 by default);
    a USER space's never do, whatever ``duration`` says (spec §6 I.35)."""
    if space.owner_type != "APP":
        return None
    if duration is None or duration == -1:
        duration = MAX_DURATION
    if not 1 <= duration <= MAX_DURATION:
        raise errors.param_error(
            "duration", f"duration must be 1 to {MAX_DURATION} seconds in an APP space"
        )
    return now_ms() + duration * 1000


async def _grant(
    conn: Connection,
    actor: models.Actor,
    target: _Target,
    role: Role,
    members: Sequence[Member],
    expires: int | None,
) -> None:
    now = now_ms()
    await permissions.upsert(
        conn,
        [
            dict(
                space_id=int(target.space.id),
                dentry_id=target.node,
                member=m.key,
                role_id=role.name,
                rank=int(role),
                member_type=m.type,
                member_id=m.id,
                member_corp_id=m.corp_id,
                expires_at=expires,
                operator_id=actor.union_id,
                created_at=now,
                modified_at=now,
            )
            for m in members
        ],
    )


def _queried(dentry_id_list: str | None) -> list[str]:
    ids = tree.client_json(dentry_id_list) if dentry_id_list else None
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_QUERIED
        or not all(isinstance(i, str) for i in ids)
    ):
        raise errors.param_error(
            "dentryIdList",
            f"dentryIdList must be a JSON array of 1 to {MAX_QUERIED} dentry ids",
        )
    return list(dict.fromkeys(ids))


def _permission(row: RowMapping, now: int) -> models.Permission:
    expires = row.expires_at
    return models.Permission(
        space_id=int(row.space_id),
        dentry_id=int(row.dentry_id),
        member_type=row.member_type,
        member_id=row.member_id,
        member_corp_id=row.member_corp_id,
        role_id=row.role_id,
        duration=-1 if expires is None else max(1, math.ceil((int(expires) - now) / 1000)),
        operator_id=row.operator_id,
        created_at=int(row.created_at),
        modified_at=int(row.modified_at),
    )
