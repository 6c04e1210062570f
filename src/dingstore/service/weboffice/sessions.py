"""GetWebOfficeUrl and RefreshWebOfficeToken: an editing session of one file for one user.

GetWebOfficeUrl (``READER`` on the file) answers the office server's editor URL for the file's
type (its ``edit`` action when the operator holds ``EDITOR``, else its ``view`` action) with
``WOPISrc`` pointing at dingstore's WOPI endpoint for the file, an access token of
``token_ttl`` seconds that the office server calls that endpoint with (it may write only if
the operator holds ``EDITOR``), and a refresh token of ``refresh_ttl`` seconds.
RefreshWebOfficeToken exchanges the pair for a new one, once: the refresh token is spent, and
the new access token carries the operator's rights as they are now.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import access, credentials, models, tree
from dingstore.service.weboffice import tokens
from dingstore.service.weboffice.discovery import DiscoveryCache, editor_url, origin
from dingstore.store import base, wopi

EDIT_ACTIONS = ("edit", "view")
VIEW_ACTIONS = ("view", "edit")  # an edit URL opened with a read-only token is read-only
WOPI_PATH = "/wopi/files/"
HOST_PAGE = "/wopi/host"  # the page that opens an editor: api/routes/wopi.py


@dataclass(frozen=True, slots=True)
class Session:
    url: str | None
    access_token: str
    refresh_token: str
    expires_at: int  # the access token's, epoch ms (WOPI's ``access_token_ttl``)


def wopi_src(host_url: str, dentry_id: int) -> str:
    """The WOPI endpoint of a file, as the office server calls it."""
    return f"{host_url}{WOPI_PATH}{dentry_id}"


class SessionService:
    def __init__(
        self,
        db: base.BaseDatabase,
        discovery: DiscoveryCache | None,
        signer: tokens.Signer,
        *,
        host_url: str,
        public_url: str,
        token_ttl: int,
        refresh_ttl: int,
        clock: Clock,
    ) -> None:
        self._db = db
        self._discovery = discovery
        self._signer = signer
        self._host_url = host_url.rstrip("/")
        self._public_url = public_url.rstrip("/")
        self._token_ms = token_ttl * 1000
        self._refresh_ms = refresh_ttl * 1000
        self._clock = clock

    def _configured(self) -> DiscoveryCache:
        if self._discovery is None:
            raise errors.DENTRY_EDIT_NOT_SUPPORT.error(
                "online editing is not configured on this server: set "
                "DINGSTORE_WOPI_DISCOVERY_URL to an office server's WOPI discovery"
            )
        return self._discovery

    @property
    def configured(self) -> bool:
        return self._discovery is not None

    async def open(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        *,
        view_only: bool = False,
        version: int | None = None,
    ) -> Session:
        """GetWebOfficeUrl: the editor URL of the file and a new token pair, which may write
        if the operator holds EDITOR (never when ``view_only``). The editor opens the current
        version: asked for another (``version``), 400 ``dentryEditNotSupport``."""
        cache = self._configured()
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.READ)
            if row.type != "FILE":
                raise errors.param_error("dentryId", "only a file can be opened in an editor")
            if version is not None and version != int(row.version):
                raise errors.DENTRY_EDIT_NOT_SUPPORT.error(
                    "the office server opens the current version of a file only"
                )
            role = await access.role(conn, actor, space, int(row.id))
        can_write = access.allows(role, access.WRITE) and not view_only
        discovery = await cache.get()
        urlsrc = discovery.urlsrc(row.name, EDIT_ACTIONS if can_write else VIEW_ACTIONS)
        if urlsrc is None:
            raise errors.DENTRY_EXTENSION_NOT_SUPPORT.error(
                f"the office server opens no file like {row.name!r}"
            )
        url = editor_url(urlsrc, wopi_src(self._host_url, int(row.id)))
        async with self._db.write() as conn:
            pair = await self._issue(conn, actor, int(space.id), int(row.id), can_write)
        return Session(url, *pair)

    async def editor_link(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        *,
        view_only: bool = False,
        version: int | None = None,
    ) -> str:
        """A link that opens the file's editor in a browser: dingstore's host page
        (``HOST_PAGE``), the editor URL in its query and a new access token in its fragment
        (never sent to a server). What GetDentryOpenInfo answers through ``opener.py``."""
        session = await self.open(actor, space_id, dentry_id, view_only=view_only, version=version)
        assert session.url is not None
        fragment = urlencode(
            {"access_token": session.access_token, "access_token_ttl": session.expires_at}
        )
        return f"{self._public_url}{HOST_PAGE}?{urlencode({'src': session.url})}#{fragment}"

    async def host_origin(self, src: str | None) -> str:
        """The origin the host page may post a token to and frame: ``src``'s, if it is one of
        the office server's actions; else 400 ``paramError.src`` (the page posts tokens to no
        other site)."""
        cache = self._configured()
        found = origin(src or "")
        if not found or found not in (await cache.get()).origins:
            raise errors.param_error("src", "src must be an editor URL of the office server")
        return found

    async def refresh(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        access_token: str | None,
        refresh_token: str | None,
    ) -> Session:
        """RefreshWebOfficeToken: a new pair for the same file and operator, in exchange for
        the pair GetWebOfficeUrl (or the last refresh) gave; the refresh token is spent."""
        self._configured()
        if not access_token:
            raise errors.param_error("webOfficeAccessToken", "webOfficeAccessToken is required")
        if not refresh_token:
            raise errors.param_error("webOfficeRefreshToken", "webOfficeRefreshToken is required")
        now = self._clock.now_ms()
        try:
            old = self._signer.verify(access_token, now, expired_ok=True)
        except errors.Unauthorized:
            raise errors.param_error(
                "webOfficeAccessToken", "not an access token this server issued"
            ) from None
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.READ)
            if (old.corp_id, old.union_id, old.space_id, old.dentry_id) != (
                actor.corp_id,
                actor.union_id,
                int(space.id),
                int(row.id),
            ):
                raise errors.param_error(
                    "webOfficeAccessToken", "the access token is for another file or operator"
                )
            spent = await wopi.take_refresh(
                conn, actor.corp_id, credentials.digest(refresh_token), now
            )
            if spent is None or spent.access_id != old.token_id:
                raise errors.param_error(
                    "webOfficeRefreshToken",
                    "the refresh token is unknown, used, expired or not of this access token",
                )
            role = await access.role(conn, actor, space, int(row.id))
            can_write = access.allows(role, access.WRITE)
            pair = await self._issue(conn, actor, int(space.id), int(row.id), can_write)
        return Session(None, *pair)

    async def _issue(
        self, conn: base.Connection, actor: models.Actor, space_id: int, dentry_id: int, write: bool
    ) -> tuple[str, str, int]:
        now = self._clock.now_ms()
        grant = tokens.Grant(
            corp_id=actor.corp_id,
            app_id=actor.app_id,
            union_id=actor.union_id,
            space_id=space_id,
            dentry_id=dentry_id,
            can_write=write,
            expires_at=now + self._token_ms,
            token_id=tokens.new_token_id(),
        )
        refresh = tokens.new_refresh_token()
        await wopi.insert_refresh(
            conn,
            token_hash=credentials.digest(refresh),
            corp_id=actor.corp_id,
            app_id=actor.app_id,
            union_id=actor.union_id,
            space_id=space_id,
            dentry_id=dentry_id,
            access_id=grant.token_id,
            created_at=now,
            expires_at=now + self._refresh_ms,
        )
        return self._signer.sign(grant), refresh, grant.expires_at

    async def purge_expired(self) -> int:
        """Remove expired locks and refresh tokens (housekeeping); how many."""
        async with self._db.write() as conn:
            return await wopi.purge_expired(conn, self._clock.now_ms())
