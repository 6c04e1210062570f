"""Who may do what: roles, the member keys a user is matched on, and a node's effective role.

The rules (docs/permissions.md):

* Roles are ordered READER < DOWNLOADER < EDITOR < MANAGER < OWNER; each can do all the ones
  below it can. Reading needs READER, downloading DOWNLOADER, writing EDITOR, managing
  permissions MANAGER (and granting or revoking MANAGER or OWNER needs OWNER).
* A grant on a folder reaches everything under it; a grant on node ``0`` the whole space. A
  node's effective role is the highest the operator holds there by any of their member keys:
  their user, their org, their departments, tags and conversations.
* The org's admins, and whoever created the space, hold OWNER on all of it.

A role costs one query the first time a request asks for it (a walk up the node's ancestors,
joined with the grants on them) and nothing after: an ``Actor`` memoizes its member keys and the
roles it found (``Actor.memo``), and lives for one request or one task step.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from typing import Any

from dingstore import errors
from dingstore.clock import now_ms
from dingstore.service import models
from dingstore.store import permissions
from dingstore.store.base import Connection


class Role(enum.IntEnum):
    READER = 1
    DOWNLOADER = 2
    EDITOR = 3
    MANAGER = 4
    OWNER = 5


READ, DOWNLOAD, WRITE, MANAGE = Role.READER, Role.DOWNLOADER, Role.EDITOR, Role.MANAGER
ROLE_IDS = tuple(r.name for r in Role)
MEMBER_TYPES = ("ORG", "DEPT", "TAG", "CONVERSATION", "USER")
GROUP_KINDS = ("DEPT", "TAG", "CONVERSATION")


def member_key(member_type: str, member_id: str, corp_id: str | None) -> str:
    """The key a grant to this member is stored under, and a user's memberships are matched
    on. Departments and tags are named within their org; users, orgs and conversations are
    unique on their own."""
    if member_type in ("DEPT", "TAG"):
        return f"{member_type}:{corp_id}:{member_id}"
    return f"{member_type}:{member_id}"


async def members(conn: Connection, actor: models.Actor) -> tuple[str, ...]:
    """The operator's member keys: their user, their org, and each group they are in."""
    found = actor.memo.get("members")
    if found is None:
        groups = await permissions.groups_of(conn, actor.union_id)
        found = (
            member_key("USER", actor.union_id, None),
            member_key("ORG", actor.operator.corp_id, None),
            *(member_key(g.kind, g.group_id, g.corp_id) for g in groups),
        )
        actor.memo["members"] = found
    return found


def implicit(actor: models.Actor, space: Any) -> Role | None:
    """OWNER for the org's admins and the space's creator (and a USER space's owner)."""
    if actor.operator.is_admin and actor.operator.corp_id == space.corp_id:
        return Role.OWNER
    if actor.union_id in (space.creator_id, space.owner_id):
        return Role.OWNER
    return None


async def roles(
    conn: Connection, actor: models.Actor, space: Any, node_ids: Collection[int]
) -> dict[int, Role | None]:
    """The operator's effective role on each node of the space (``0``: the space itself)."""
    mine = implicit(actor, space)
    if mine is not None:
        return dict.fromkeys(node_ids, mine)
    memo: dict[tuple[int, int], Role | None] = actor.memo.setdefault("roles", {})
    space_id = int(space.id)
    missing = [n for n in node_ids if (space_id, n) not in memo]
    if missing:
        keys = await members(conn, actor)
        found = await permissions.ranks(conn, space_id, missing, keys, now_ms())
        for n in missing:
            memo[(space_id, n)] = Role(found[n]) if n in found else None
    return {n: memo[(space_id, n)] for n in node_ids}


async def role(
    conn: Connection,
    actor: models.Actor,
    space: Any,
    node_id: int,
    *,
    chain: Sequence[int] | None = None,
) -> Role | None:
    """The operator's effective role on one node. Given its ``chain`` (the node and its
    ancestors, as the caller found them), the grants are read without walking up again."""
    if chain is None or implicit(actor, space) is not None:
        return (await roles(conn, actor, space, [node_id]))[node_id]
    memo: dict[tuple[int, int], Role | None] = actor.memo.setdefault("roles", {})
    key = (int(space.id), node_id)
    if key not in memo:
        keys = await members(conn, actor)
        found = await permissions.rank_on(conn, int(space.id), [*chain, 0], keys, now_ms())
        memo[key] = None if found is None else Role(found)
    return memo[key]


def allows(held: Role | None, need: Role) -> bool:
    return held is not None and held >= need


async def require(
    conn: Connection,
    actor: models.Actor,
    space: Any,
    node_id: int,
    need: Role,
    *,
    chain: Sequence[int] | None = None,
) -> Role:
    """The operator's role on the node, if it is at least ``need``; else 403
    ``permissionDenied``, and nothing changes."""
    held = await role(conn, actor, space, node_id, chain=chain)
    if held is None or held < need:
        raise denied(need, node_id)
    return held


def denied(need: Role, node_id: int) -> errors.Forbidden:
    where = "the space" if node_id == 0 else f"dentry {node_id}"
    return errors.PERMISSION_DENIED.error(
        f"the operator needs the {need.name} role or higher on {where}"
    )


async def holds_any(
    conn: Connection, actor: models.Actor, space: Any, need: Role = Role.READER
) -> bool:
    """Whether the operator holds ``need`` or higher somewhere in the space."""
    if implicit(actor, space) is not None:
        return True
    granted = await permissions.granted_nodes(
        conn, int(space.id), await members(conn, actor), now_ms(), min_rank=int(need)
    )
    return bool(granted)
