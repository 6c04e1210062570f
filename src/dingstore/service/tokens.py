"""Access tokens (spec §3): issuing them to apps and suites, and checking them on each request.

A token is never stored: the database keeps its SHA-256. The token itself is derived from the
server's secret key and the token row's id (HMAC), so an internal app that asks again while its
token is valid gets *the same* token back — as DingTalk does — without the token being kept
anywhere. Suite tokens are new on every call (spec §3.2).

Checked tokens are cached in memory (bounded, expiring after ``auth_cache_ttl``) so a request
pays no database round trip for auth; disabling an app or rotating its secret reaches a running
server within that time.
"""

from __future__ import annotations

from sqlalchemy.engine import RowMapping

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import credentials, models
from dingstore.service.ttl_cache import TtlCache
from dingstore.store import base, identity, ids, schema


async def check_app(conn: base.Connection, app_key: str, app_secret: str) -> RowMapping:
    """The enabled internal app with this appKey and appSecret, or 400
    ``invalidClientIdOrSecret`` (the access-token call's check; Stream mode's too)."""
    app = await identity.get_app_by_key(conn, app_key)
    if app is None or app.disabled or not credentials.matches(app_secret, app.secret_hash):
        raise errors.INVALID_CLIENT_ID_OR_SECRET.error("invalid appKey or appSecret")
    return app


async def check_suite(conn: base.Connection, suite_key: str, suite_secret: str) -> RowMapping:
    """The suite with this suiteKey and suiteSecret, or 400 ``invalidSuiteKey``."""
    suite = await identity.get_suite(conn, suite_key)
    if suite is None or not credentials.matches(suite_secret, suite.secret_hash):
        raise errors.INVALID_SUITE_KEY.error("invalid suiteKey or suiteSecret")
    return suite


class TokenService:
    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        *,
        secret_key: str,
        ttl: int = 7200,
        cache_ttl: float = 30.0,
        cache_size: int = 10_000,
        clock: Clock,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._key = secret_key
        self.ttl = ttl
        self._clock = clock
        self._cache: TtlCache[str, models.Principal] = TtlCache(
            cache_size, cache_ttl, timer=clock.monotonic
        )

    def forget_cached(self) -> None:
        """Drop the cached tokens (the store under them was reset: test mode)."""
        self._cache.clear()

    def _token(self, token_id: int) -> str:
        return credentials.derive(self._key, f"access-token:{token_id}")

    async def issue_for_app(self, app_key: str, app_secret: str) -> models.AccessToken:
        """``POST /v1.0/oauth2/accessToken``: the valid token again (its validity extended), or a
        new one."""
        token_id = await self._ids.next()
        now = self._clock.now_ms()
        expires_at = now + self.ttl * 1000
        async with self._db.write() as conn:
            app = await check_app(conn, app_key, app_secret)
            current = await identity.reusable_token(conn, app.app_id, now)
            if current is not None:
                await identity.extend_token(conn, current.id, expires_at)
                return models.AccessToken(self._token(current.id), self.ttl)
            return await self._new_token(conn, token_id, app.app_id, reusable=True, now=now)

    async def issue_for_suite(
        self, suite_key: str, suite_secret: str, auth_corp_id: str, suite_ticket: str
    ) -> models.AccessToken:
        """``POST /v1.0/oauth2/corpAccessToken``: a new token for the suite in one org."""
        token_id = await self._ids.next()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            await check_suite(conn, suite_key, suite_secret)
            app = await identity.get_suite_app(conn, suite_key, auth_corp_id)
            if app is None or app.disabled:
                raise errors.INVALID_AUTH_INFO.error(
                    f"organization {auth_corp_id} has not authorized the suite"
                )
            if not credentials.matches(suite_ticket, app.suite_ticket):
                raise errors.INVALID_SUITE_TICKET.error("invalid suiteTicket")
            return await self._new_token(conn, token_id, app.app_id, reusable=False, now=now)

    async def _new_token(
        self, conn: base.Connection, token_id: int, app_id: str, *, reusable: bool, now: int
    ) -> models.AccessToken:
        token = self._token(token_id)
        await identity.insert(
            conn,
            schema.tokens,
            id=token_id,
            app_id=app_id,
            token_hash=credentials.digest(token),
            reusable=reusable,
            expires_at=now + self.ttl * 1000,
            created_at=now,
        )
        return models.AccessToken(token, self.ttl)

    async def authenticate(self, token: str | None) -> models.Principal:
        """The principal behind a token; 400 ``InvalidAuthentication`` when it is missing,
        unknown, expired or its app is disabled."""
        if not token:
            raise errors.INVALID_AUTHENTICATION.error(
                "the x-acs-dingtalk-access-token header is missing"
            )
        # A PHP SDK once sent the token JSON-quoted; accept one pair of quotes (spec §1.2).
        if len(token) > 1 and token[0] == token[-1] == '"':
            token = token[1:-1]
        digest = credentials.digest(token)
        now = self._clock.now_ms()
        principal = self._cache.get(digest)
        if principal is not None and principal.expires_at > now:
            return principal
        async with self._db.read() as conn:
            row = await identity.token_with_app(conn, digest)
        if row is None or row.disabled or row.expires_at <= now:
            self._cache.pop(digest)
            raise errors.INVALID_AUTHENTICATION.error()
        principal = models.Principal(
            app_id=row.app_id,
            corp_id=row.corp_id,
            scopes=frozenset(s for s in row.scopes.split(",") if s),
            expires_at=int(row.expires_at),
        )
        self._cache[digest] = principal
        return principal

    async def purge_expired(self) -> int:
        """Remove the access tokens that have expired; how many."""
        async with self._db.write() as conn:
            return await identity.purge_expired_tokens(conn, self._clock.now_ms())
