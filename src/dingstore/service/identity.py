"""Orgs, users, apps and third-party suites: what the admin CLI manages and auth looks up."""

from __future__ import annotations

import secrets as _secrets
from collections.abc import Iterable
from dataclasses import dataclass

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, credentials, models, scopes
from dingstore.service.ttl_cache import TtlCache
from dingstore.store import base, identity, ids, permissions, schema


@dataclass(frozen=True, slots=True)
class AppCredentials:
    app: models.App
    app_secret: str


@dataclass(frozen=True, slots=True)
class Bootstrap:
    org: models.Org
    admin: models.User
    credentials: AppCredentials


class IdentityService:
    def __init__(
        self,
        db: base.BaseDatabase,
        id_allocator: ids.IdAllocator,
        *,
        cache_ttl: float = 30.0,
        cache_size: int = 10_000,
        clock: Clock,
    ) -> None:
        self._db = db
        self._ids = id_allocator
        self._clock = clock
        self._users: TtlCache[str, models.User] = TtlCache(
            cache_size, cache_ttl, timer=clock.monotonic
        )

    def forget_cached(self) -> None:
        """Drop the cached operators (the store under them was reset: test mode)."""
        self._users.clear()

    # --- orgs -------------------------------------------------------------------------------

    async def create_org(self, name: str, corp_id: str | None = None) -> models.Org:
        """A new organization, with a fresh corpId or the one given (a seed file's)."""
        org = models.Org(
            corp_id=corp_id or credentials.random_id("ding"),
            name=name,
            created_at=self._clock.now_ms(),
        )
        async with self._db.write() as conn:
            await identity.insert(
                conn, schema.orgs, corp_id=org.corp_id, name=name, created_at=org.created_at
            )
        return org

    async def list_orgs(self) -> list[models.Org]:
        """Every organization."""
        async with self._db.read() as conn:
            rows = await identity.list_orgs(conn)
        return [models.Org(r.corp_id, r.name, int(r.created_at)) for r in rows]

    async def _require_org(self, conn: base.Connection, corp_id: str) -> None:
        if await identity.get_org(conn, corp_id) is None:
            raise errors.ORG_NOT_EXIST.error(f"no organization with corpId {corp_id}")

    # --- users ------------------------------------------------------------------------------

    async def create_user(
        self, corp_id: str, name: str, *, admin: bool = False, union_id: str | None = None
    ) -> models.User:
        """A new user of the org (an org admin with ``admin``), with a fresh unionId or the one
        given (a seed file's)."""
        user_number = await self._ids.next()
        user = models.User(
            union_id=union_id or credentials.random_id("", 20),
            corp_id=corp_id,
            user_id=str(user_number),
            name=name,
            is_admin=admin,
        )
        async with self._db.write() as conn:
            await self._require_org(conn, corp_id)
            await identity.insert(
                conn,
                schema.users,
                union_id=user.union_id,
                corp_id=corp_id,
                user_id=user.user_id,
                name=name,
                is_admin=admin,
                created_at=self._clock.now_ms(),
            )
        return user

    async def list_users(self, corp_id: str | None = None) -> list[models.User]:
        """The users of ``corp_id``, or of every org."""
        async with self._db.read() as conn:
            return [models.User.from_row(r) for r in await identity.list_users(conn, corp_id)]

    async def names(self, corp_id: str, union_ids: Iterable[str]) -> dict[str, str]:
        """The names of those of ``union_ids`` who are users of ``corp_id`` (what the console
        shows beside an id; another org's users are not named)."""
        async with self._db.read() as conn:
            return await identity.user_names(conn, corp_id, set(union_ids))

    async def operator(self, corp_id: str, union_id: str) -> models.User:
        """The acting user named by ``unionId``, who must belong to the token's org.

        A unionId that is no user of that org is answered 403 ``permissionDenied``: such a user
        holds no right in the org (docs/auth.md).
        """
        user = self._users.get(union_id)
        if user is None:
            async with self._db.read() as conn:
                row = await identity.get_user(conn, union_id)
            if row is not None:
                user = models.User.from_row(row)
                self._users[union_id] = user
        if user is None or user.corp_id != corp_id:
            raise errors.PERMISSION_DENIED.error(
                f"unionId {union_id} is not a user of organization {corp_id}"
            )
        return user

    # --- departments, tags and conversations ---------------------------------------------------

    async def _group_user(
        self, conn: base.Connection, corp_id: str, kind: str, group_id: str, union_id: str
    ) -> None:
        if kind not in access.GROUP_KINDS:
            raise errors.PARAM_ERROR.error(f"kind must be one of {', '.join(access.GROUP_KINDS)}")
        if not group_id or len(group_id) > 128:
            raise errors.PARAM_ERROR.error("a group id is 1 to 128 characters")
        await self._require_org(conn, corp_id)
        row = await identity.get_user(conn, union_id)
        if row is None or row.corp_id != corp_id:
            raise errors.USER_NOT_EXIST.error(f"no user {union_id} in organization {corp_id}")

    async def add_to_group(self, corp_id: str, kind: str, group_id: str, union_id: str) -> None:
        """Put the user in a department, tag or conversation of their org: grants to it reach
        them (service/access.py)."""
        async with self._db.write() as conn:
            await self._group_user(conn, corp_id, kind, group_id, union_id)
            await permissions.add_member(conn, corp_id, kind, group_id, union_id)

    async def remove_from_group(
        self, corp_id: str, kind: str, group_id: str, union_id: str
    ) -> bool:
        """Take the user out of a department, tag or conversation; whether they were in it."""
        async with self._db.write() as conn:
            await self._group_user(conn, corp_id, kind, group_id, union_id)
            return await permissions.remove_member(conn, corp_id, kind, group_id, union_id)

    async def groups(self, corp_id: str, kind: str | None = None) -> list[models.GroupMember]:
        """The org's group memberships (of one ``kind`` of group, if given)."""
        async with self._db.read() as conn:
            await self._require_org(conn, corp_id)
            rows = await permissions.members_of(conn, corp_id, kind)
        return [models.GroupMember(r.corp_id, r.kind, r.group_id, r.union_id) for r in rows]

    # --- apps -------------------------------------------------------------------------------

    async def create_app(
        self,
        corp_id: str,
        name: str,
        app_scopes: tuple[str, ...] = scopes.ALL,
        *,
        app_key: str | None = None,
        app_secret: str | None = None,
    ) -> AppCredentials:
        """A new internal app of the org with ``app_scopes``; its appSecret is returned once,
        here, and only its digest is kept. ``app_key`` and ``app_secret`` fix them (test
        fixtures, seed files), else they are random."""
        secret = app_secret or credentials.new_secret()
        now = self._clock.now_ms()
        app = models.App(
            app_id=credentials.random_id("ding"),
            corp_id=corp_id,
            kind="INTERNAL",
            name=name,
            agent_id=await self._ids.next(),
            app_key=app_key or credentials.random_id("ding"),
            suite_key=None,
            scopes=app_scopes,
            disabled=False,
            created_at=now,
            modified_at=now,
        )
        async with self._db.write() as conn:
            await self._require_org(conn, corp_id)
            await identity.insert(
                conn,
                schema.apps,
                app_id=app.app_id,
                corp_id=corp_id,
                kind=app.kind,
                name=name,
                agent_id=app.agent_id,
                app_key=app.app_key,
                secret_hash=credentials.digest(secret),
                scopes=",".join(app_scopes),
                disabled=False,
                created_at=now,
                modified_at=now,
            )
        return AppCredentials(app, secret)

    async def list_apps(self, corp_id: str | None = None) -> list[models.App]:
        """The apps of ``corp_id``, or of every org."""
        async with self._db.read() as conn:
            return [models.App.from_row(r) for r in await identity.list_apps(conn, corp_id)]

    async def get_app(self, app_id: str) -> models.App:
        """The app, or 404 ``appNotExist``."""
        async with self._db.read() as conn:
            row = await identity.get_app(conn, app_id)
        if row is None:
            raise errors.APP_NOT_EXIST.error(f"no app {app_id}")
        return models.App.from_row(row)

    async def _find_app(self, conn: base.Connection, key_or_id: str) -> models.App:
        row = await identity.get_app_by_key(conn, key_or_id)
        if row is None:
            row = await identity.get_app(conn, key_or_id)
        if row is None:
            raise errors.APP_NOT_EXIST.error(f"no app with appKey or appId {key_or_id}")
        return models.App.from_row(row)

    async def disable_app(self, key_or_id: str, *, disabled: bool = True) -> models.App:
        """Disable (or enable) an app; its tokens stop working at once in new processes and
        within ``auth_cache_ttl`` in running ones."""
        async with self._db.write() as conn:
            app = await self._find_app(conn, key_or_id)
            await identity.update_app(
                conn, app.app_id, disabled=disabled, modified_at=self._clock.now_ms()
            )
            if disabled:
                await identity.delete_tokens(conn, app.app_id)
        return await self.get_app(app.app_id)

    async def set_scopes(self, key_or_id: str, app_scopes: tuple[str, ...]) -> models.App:
        """Give the app exactly ``app_scopes``; its tokens go (a new token carries the new
        scopes)."""
        unknown = [s for s in app_scopes if s not in scopes.ALL]
        if unknown:
            raise errors.PARAM_ERROR.error(f"unknown scopes: {', '.join(unknown)}")
        async with self._db.write() as conn:
            app = await self._find_app(conn, key_or_id)
            await identity.update_app(
                conn, app.app_id, scopes=",".join(app_scopes), modified_at=self._clock.now_ms()
            )
            await identity.delete_tokens(conn, app.app_id)
        return await self.get_app(app.app_id)

    async def rotate_secret(self, key_or_id: str) -> AppCredentials:
        """A new appSecret; the old one and every token issued under it stop working."""
        secret = credentials.new_secret()
        async with self._db.write() as conn:
            app = await self._find_app(conn, key_or_id)
            if app.kind != "INTERNAL":
                raise errors.PARAM_ERROR.error("only internal apps have an appSecret")
            await identity.update_app(
                conn,
                app.app_id,
                secret_hash=credentials.digest(secret),
                modified_at=self._clock.now_ms(),
            )
            await identity.delete_tokens(conn, app.app_id)
        return AppCredentials(await self.get_app(app.app_id), secret)

    # --- third-party suites -----------------------------------------------------------------

    async def create_suite(self, name: str) -> tuple[str, str]:
        """A new third-party suite: its suiteKey and suiteSecret (returned once, kept as a
        digest). Orgs install it with ``authorize_suite``."""
        suite_key, secret = credentials.random_id("suite"), credentials.new_secret()
        async with self._db.write() as conn:
            await identity.insert(
                conn,
                schema.suites,
                suite_key=suite_key,
                name=name,
                secret_hash=credentials.digest(secret),
                created_at=self._clock.now_ms(),
            )
        return suite_key, secret

    async def authorize_suite(
        self, suite_key: str, corp_id: str, app_scopes: tuple[str, ...] = scopes.ALL
    ) -> str:
        """The org installs the suite: an app of kind SUITE acts for it in that org. Returns the
        suite ticket (authorizing again issues a new ticket and replaces the scopes)."""
        ticket = _secrets.token_urlsafe(24)
        agent_id = await self._ids.next()
        now = self._clock.now_ms()
        async with self._db.write() as conn:
            suite = await identity.get_suite(conn, suite_key)
            if suite is None:
                raise errors.SUITE_NOT_EXIST.error(f"no suite {suite_key}")
            await self._require_org(conn, corp_id)
            existing = await identity.get_suite_app(conn, suite_key, corp_id)
            if existing is not None:
                await identity.update_app(
                    conn,
                    existing.app_id,
                    suite_ticket=credentials.digest(ticket),
                    scopes=",".join(app_scopes),
                    disabled=False,
                    modified_at=now,
                )
            else:
                await identity.insert(
                    conn,
                    schema.apps,
                    app_id=credentials.random_id("ding"),
                    corp_id=corp_id,
                    kind="SUITE",
                    name=suite.name,
                    agent_id=agent_id,
                    suite_key=suite_key,
                    suite_ticket=credentials.digest(ticket),
                    scopes=",".join(app_scopes),
                    disabled=False,
                    created_at=now,
                    modified_at=now,
                )
        return ticket

    # --- first start ------------------------------------------------------------------------

    async def bootstrap(self) -> Bootstrap | None:
        """On an empty store: a default org, its admin user and an internal app holding every
        storage scope. Returns what was made (its secret is never shown again), else None."""
        async with self._db.read() as conn:
            if await identity.count_orgs(conn):
                return None
        org = await self.create_org("Default Organization")
        admin = await self.create_user(org.corp_id, "admin", admin=True)
        credentials = await self.create_app(org.corp_id, "dingstore")
        return Bootstrap(org, admin, credentials)
