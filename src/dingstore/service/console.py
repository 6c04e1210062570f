"""The web console's sign-in and what only the console asks for (docs/console.md).

dingstore's users have no passwords. ``dingstore admin console-link`` (or the first start's
banner) makes a one-time link for a user; opening it signs the browser in with a session. Both
are random tokens kept as their SHA-256. A link lives ``LINK_TTL`` and is used up by its first
sign-in; a session lives ``SESSION_TTL`` or until its user signs out.

A signed-in user acts through ``actor``: an ``Actor`` of the console (app id ``console``, every
storage scope) for that user, which the same services the API calls check exactly as they check
an API call's operator. The console has no right of its own.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, models, scopes
from dingstore.service.identity import IdentityService
from dingstore.service.spaces import visible as visible_spaces
from dingstore.service.tasks import INTERNAL_KINDS
from dingstore.store import base, permissions, task_rows
from dingstore.store import console as rows

CONSOLE_APP = "console"
LINK, SESSION = "LINK", "SESSION"
LINK_TTL_MS = 10 * 60 * 1000
SESSION_TTL_MS = 12 * 3600 * 1000
MAX_SPACES = 500
MAX_SHARED = 200  # the nodes a "shared with you in this space" page lists


class LinkRefused(Exception):
    """A sign-in link that is unknown, used already, or expired (all look alike)."""


@dataclass(frozen=True, slots=True)
class Session:
    token: str
    user: models.User
    expires_at: int


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ConsoleService:
    def __init__(
        self, db: base.BaseDatabase, identity: IdentityService, *, secret_key: str, clock: Clock
    ) -> None:
        self._db = db
        self._identity = identity
        self._secret = secret_key.encode()
        self._clock = clock

    async def link(self, union_id: str, corp_id: str | None = None) -> str:
        """A one-time sign-in token for the user (of ``corp_id``, when given)."""
        users = [u for u in await self._identity.list_users(corp_id) if u.union_id == union_id]
        if not users:
            where = f" in organization {corp_id}" if corp_id else ""
            raise errors.USER_NOT_EXIST.error(f"no user {union_id}{where}")
        token = secrets.token_urlsafe(32)
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await rows.insert(
                conn,
                token_hash=_hash(token),
                corp_id=users[0].corp_id,
                union_id=union_id,
                kind=LINK,
                now=now,
                expires_at=now + LINK_TTL_MS,
            )
        return token

    async def sign_in(self, link_token: str) -> Session:
        """Use up the link and open a session for its user; ``LinkRefused`` if it cannot be."""
        now = self._clock.now_ms()
        digest = _hash(link_token)
        async with self._db.read() as conn:
            row = await rows.get(conn, digest, LINK, now)
        if row is None:
            raise LinkRefused()
        user = await self._identity.operator(row.corp_id, row.union_id)
        token = secrets.token_urlsafe(32)
        async with self._db.write() as conn:
            if not await rows.take(conn, row.corp_id, digest, LINK):
                raise LinkRefused()  # another sign-in used it first
            await rows.insert(
                conn,
                token_hash=_hash(token),
                corp_id=user.corp_id,
                union_id=user.union_id,
                kind=SESSION,
                now=now,
                expires_at=now + SESSION_TTL_MS,
            )
        return Session(token, user, now + SESSION_TTL_MS)

    async def session(self, token: str | None) -> Session | None:
        """The live session of the cookie's token, or None."""
        if not token:
            return None
        async with self._db.read() as conn:
            row = await rows.get(conn, _hash(token), SESSION, self._clock.now_ms())
        if row is None:
            return None
        try:
            user = await self._identity.operator(row.corp_id, row.union_id)
        except errors.DingstoreError:
            return None  # the user is gone
        return Session(token, user, int(row.expires_at))

    async def sign_out(self, session: Session) -> None:
        async with self._db.write() as conn:
            await rows.take(conn, session.user.corp_id, _hash(session.token), SESSION)

    def csrf_token(self, session: Session) -> str:
        """The token a change must carry (form field or header): bound to the session."""
        return hmac.new(self._secret, b"csrf:" + session.token.encode(), "sha256").hexdigest()

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(self.csrf_token(session), given or "")

    def actor(self, session: Session) -> models.Actor:
        principal = models.Principal(
            CONSOLE_APP, session.user.corp_id, frozenset(scopes.ALL), session.expires_at
        )
        return models.Actor(principal, session.user, self._clock)

    async def spaces(self, actor: models.Actor) -> list[models.Space]:
        """The spaces the user can see: every space of the org for its admins; else those they
        created or own or hold a grant in (up to ``MAX_SPACES``, newest first)."""
        async with self._db.read() as conn:
            found = await visible_spaces(conn, actor, limit=MAX_SPACES)
        return [models.Space.from_row(r) for r in found]

    async def shared_in(self, actor: models.Actor, space_id: int) -> list[int]:
        """The nodes of the space granted to the user (to them, their org or a group of
        theirs), by id, the first ``MAX_SHARED``: what a user who may not open the space's root
        can open in it."""
        async with self._db.read() as conn:
            members = await access.members(conn, actor)
            now = actor.clock.now_ms()
            return await permissions.shared_nodes(
                conn, actor.corp_id, space_id, members, now, MAX_SHARED
            )

    async def recent_tasks(self, actor: models.Actor, limit: int = 20) -> list[models.Task]:
        """The user's latest copy, move, delete and restore tasks, newest first."""
        async with self._db.read() as conn:
            found = await task_rows.listed(
                conn, actor.corp_id, creator_id=actor.union_id, hidden=INTERNAL_KINDS, limit=limit
            )
        return [models.Task.from_row(r) for r in found]

    async def purge_expired(self) -> int:
        async with self._db.write() as conn:
            return await rows.purge_expired(conn, self._clock.now_ms())
