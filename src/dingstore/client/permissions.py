"""Permissions (spec §6 I): grants of a role to members on a file, a folder or a space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dingstore.client import flows, models
from dingstore.client.bind import listing, operation
from dingstore.client.dentries import dentry_path
from dingstore.client.spaces import Base

Members = models.Member | str | Sequence[models.Member | str]
"""Who: a ``Member``, a user's unionId, or a sequence of them (any number: sent 30 a call)."""
MEMBERS_PER_CALL = 30  # the API's limit on one call's members (spec §6 I)


def _batches(members: Members) -> list[list[dict[str, str]]]:
    """The members on the wire, in calls of at most ``MEMBERS_PER_CALL`` (one call when none)."""
    if isinstance(members, (models.Member, str)):
        members = [members]
    wire = [(models.Member.user(m) if isinstance(m, str) else m).wire() for m in members]
    return [wire[i : i + MEMBERS_PER_CALL] for i in range(0, len(wire), MEMBERS_PER_CALL)] or [[]]


class Permissions(Base):
    def _grants(
        self, method: str, tail: str, target: models.Target, role: models.Role, body: dict[str, Any]
    ) -> flows.Flow[None]:
        yield from self._session.call(
            method,
            dentry_path(models.node(target), f"/permissions{tail}"),
            body={"roleId": role, **body},
        )

    @operation
    def grant(
        self,
        target: models.Target,
        role: models.Role,
        members: Members,
        *,
        duration: int | None = None,
        replace: bool = False,
    ) -> flows.Flow[None]:
        """Give ``members`` the ``role`` on ``target`` (a ``Space`` or its root: the whole
        space) (AddPermission); ``replace``: set their role on it to ``role`` instead
        (UpdatePermission). ``duration`` in seconds, at most 3600, for APP spaces only (USER
        spaces' grants are permanent). More than 30 members go in several calls, in order: if
        one fails, the members of the calls before it keep what they were given."""
        option = {} if duration is None else {"option": {"duration": duration}}
        method = "PUT" if replace else "POST"
        for batch in _batches(members):
            yield from self._grants(method, "", target, role, {"members": batch, **option})

    @operation
    def revoke(
        self, target: models.Target, role: models.Role, members: Members
    ) -> flows.Flow[None]:
        """Take the ``role`` on ``target`` back from ``members`` (DeletePermission), 30 a call
        as ``grant`` does."""
        for batch in _batches(members):
            yield from self._grants("POST", "/remove", target, role, {"members": batch})

    @listing
    def permissions(
        self, target: models.Target, *, roles: Sequence[models.Role] | None = None
    ) -> flows.Pages[models.Permission]:
        """The grants on ``target`` (ListPermissions), only those of ``roles`` if given."""
        path = dentry_path(models.node(target), "/permissions/query")

        def page(token: str | None) -> flows.Flow[flows.Page[models.Permission]]:
            option: dict[str, Any] = {"maxResults": 500}
            if token is not None:
                option["nextToken"] = token
            if roles:
                option["filterRoleIds"] = list(roles)
            answer = yield from self._session.call("POST", path, body={"option": option})
            items = [models.Permission.from_wire(p) for p in answer.get("permissions") or []]
            return flows.Page(items, answer.get("nextToken") or None)

        return page
