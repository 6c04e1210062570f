"""SubscribeEvent and UnsubscribeEvent (spec §6 J, operations 40 and 41): which orgs and spaces
an app hears the changes of. docs/events.md#subscriptions tells the rules.

A subscription belongs to the calling app in its org, whoever the operator (``unionId``) is; the
operator only has to be allowed to see what the app will hear of: an org admin for the org, a
holder of a role anywhere in the space for a space. Both operations are idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, tree
from dingstore.store import base, events, spaces
from dingstore.store.base import Connection

ORG, SPACE = "ORG", "SPACE"
SCOPES = (ORG, SPACE)
_ATTEMPTS = 3  # a subscribe that lost a race to an identical one finds it the next time


@dataclass(frozen=True, slots=True)
class Scope:
    """A checked subscription scope: ``ORG`` with the corpId, or ``SPACE`` with a space id."""

    scope: str
    scope_id: str


class SubscriptionService:
    def __init__(self, db: base.BaseDatabase, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def subscribe(self, actor: models.Actor, scope: str | None, scope_id: str | None) -> None:
        """SubscribeEvent: the calling app hears the changes of the org or the space from now
        on. Subscribing again changes nothing. Errors: ``paramError.scope`` (not ORG or SPACE),
        ``paramError.scopeId`` (not the caller's corpId; not a space of the caller's org, which
        includes another org's; malformed), ``permissionDenied`` (see ``_target``)."""
        for attempt in range(_ATTEMPTS):
            try:
                async with self._db.write() as conn:
                    target = await _target(conn, actor, scope, scope_id)
                    await events.subscribe(
                        conn,
                        actor.corp_id,
                        actor.app_id,
                        target.scope,
                        target.scope_id,
                        self._clock.now_ms(),
                    )
                return
            except errors.Conflict:  # an identical subscribe committed first: look again
                if attempt == _ATTEMPTS - 1:
                    raise

    async def unsubscribe(
        self, actor: models.Actor, scope: str | None, scope_id: str | None
    ) -> None:
        """UnsubscribeEvent: the calling app hears no more changes through this subscription
        (it still hears those another of its subscriptions covers; events already written stay
        and are delivered). Unsubscribing what is not subscribed succeeds and changes nothing.
        The same checks and errors as ``subscribe``."""
        async with self._db.write() as conn:
            target = await _target(conn, actor, scope, scope_id)
            await events.unsubscribe(
                conn, actor.corp_id, actor.app_id, target.scope, target.scope_id
            )


async def _target(
    conn: Connection, actor: models.Actor, scope: str | None, scope_id: str | None
) -> Scope:
    """The scope, if the caller may name it: ``ORG`` with its own corpId, for an org admin;
    ``SPACE`` with a space of its org, for an operator who holds a role somewhere in it
    (403 ``permissionDenied`` otherwise). A space of another org is answered exactly as one
    that does not exist."""
    if scope not in SCOPES:
        raise errors.param_error("scope", f"scope must be ORG or SPACE, got {scope!r}")
    if not scope_id:
        raise errors.param_error("scopeId", "scopeId is required")
    if scope == ORG:
        if scope_id != actor.corp_id:
            raise errors.param_error("scopeId", "scopeId of scope ORG must be your corpId")
        if not actor.operator.is_admin:
            raise errors.PERMISSION_DENIED.error(
                "only an admin of the org may subscribe to or unsubscribe from its events"
            )
        return Scope(ORG, scope_id)
    number = tree.parse_id(scope_id, "scopeId")
    row = await spaces.get(conn, number)
    if row is None or row.corp_id != actor.corp_id:
        raise errors.param_error("scopeId", f"space {scope_id} does not exist")
    if not await access.holds_any(conn, actor, row, access.READ):
        raise access.denied(access.READ, 0)
    return Scope(SPACE, str(number))
