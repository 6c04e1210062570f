"""Open info (spec §6 K 42, 44): GetDentryOpenInfo's links, RegisterOpenInfo's registrations,
and the checks behind dingstore's own preview page (``api/routes/previews.py``).

GetDentryOpenInfo answers, in this order (docs/previews.md):

1. the URL the **calling app** registered for the file and open type (RegisterOpenInfo);
2. else the latest URL **another app** registered for them;
3. else the first ``OpenProvider`` that opens the file (``add_provider``: a WOPI office server
   for Office documents is one — ``GetWebOfficeUrl`` is built on the same hook);
4. else, for ``PREVIEW``, a link to **dingstore's preview page** when it can show the type;
   ``EDIT`` answers ``dentryEditNotSupport``.

A preview link opens once per browser session: the first request of its page binds the link to
that browser (a random cookie whose hash ``preview_sessions`` keeps), and only that cookie opens
the page or its content afterwards. Unopened, it dies ``LINK_TTL`` seconds after issue;
opened, ``SESSION_TTL`` seconds after the first visit. Every visit checks again that the file
lives and that the operator the link was issued to may still read it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from dingstore import errors
from dingstore.blobs import signing
from dingstore.blobs.keys import blob_key
from dingstore.clock import Clock
from dingstore.service import access, models, names, preview_kinds, preview_links, tree
from dingstore.service.identity import IdentityService
from dingstore.service.preview_kinds import FileKind
from dingstore.service.preview_links import Link, LinkRefused
from dingstore.store import base, dentries, open_infos

PREVIEW, EDIT = "PREVIEW", "EDIT"
OPEN_TYPES = (PREVIEW, EDIT)
LINK_TTL = 300  # seconds an unopened link lives (spec: "expires if unused for 5 minutes")
SESSION_TTL = 4 * 3600  # seconds a link lives in the browser session that opened it
MAX_URL = 2048
MAX_PROVIDER = 64


@dataclass(frozen=True, slots=True)
class OpenInfo:
    url: str
    has_water_mark: bool = False


@dataclass(frozen=True, slots=True)
class OpenRequest:
    """What an ``OpenProvider`` is asked to open: the operator (already checked: READER on the
    file for PREVIEW, EDITOR for EDIT), the file and the options of GetDentryOpenInfo."""

    actor: models.Actor
    space_id: int
    dentry_id: int
    name: str
    extension: str
    version: int
    open_type: str
    water_mark: bool


class OpenProvider(Protocol):
    """Something that opens files outside dingstore's own page, e.g. a WOPI office server."""

    async def open_url(self, request: OpenRequest) -> OpenInfo | None:
        """The URL that opens the file for the request, or None when this provider cannot."""


@dataclass(frozen=True, slots=True)
class Visit:
    """An opened link: what the page shows, and the cookie to set when this visit bound it."""

    link: Link
    operator: models.User
    name: str
    size: int
    version: int
    kind: FileKind
    key: str
    water_mark: bool
    new_session: str | None


def _hash(session: str) -> str:
    return hashlib.sha256(session.encode()).hexdigest()


def _open_type(value: str | None) -> str:
    chosen = PREVIEW if value is None else value
    if chosen not in OPEN_TYPES:
        raise errors.param_error("openType", "type must be PREVIEW or EDIT")
    return chosen


def _url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. an unclosed [IPv6] host
        parts = urlsplit("")
    if (
        len(value) > MAX_URL
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in value)
    ):
        raise errors.param_error("url", f"url must be an http(s) URL of at most {MAX_URL} chars")
    return value


class PreviewService:
    def __init__(
        self,
        db: base.BaseDatabase,
        identity: IdentityService,
        *,
        secret_key: str,
        public_url: str,
        clock: Clock,
    ) -> None:
        self._db = db
        self._identity = identity
        self._signer = signing.Signer(secret_key, clock=clock)
        self._public_url = public_url.rstrip("/")
        self._clock = clock
        self._providers: list[OpenProvider] = []

    def add_provider(self, provider: OpenProvider) -> None:
        """Let ``provider`` open files, after the apps' registrations and before dingstore's
        own page, in the order providers were added."""
        self._providers.append(provider)

    # --- GetDentryOpenInfo ----------------------------------------------------------------

    async def open_info(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        *,
        version: int | None = None,
        open_type: str | None = None,
        water_mark: bool = False,
        check_login: bool = False,
    ) -> OpenInfo:
        """GetDentryOpenInfo: a URL that opens the file (or ``version`` of it) to preview or to
        edit. READER on the file may preview it, EDITOR edit it."""
        kind = _open_type(open_type)
        if version is not None and version < 1:
            raise errors.param_error("version", "version must be 1 or more")
        need = access.WRITE if kind == EDIT else access.READ
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, need)
            if row.type != "FILE":
                code = (
                    errors.DENTRY_EDIT_NOT_SUPPORT
                    if kind == EDIT
                    else errors.DENTRY_PREVIEW_NOT_SUPPORT
                )
                raise code.error("a folder cannot be opened")
            number, name = int(row.version), str(row.name)
            if version is not None and version != number:
                old = await dentries.version(conn, int(row.id), version)
                if old is None:
                    raise errors.param_error(
                        "version", f"file {dentry_id} has no version {version}"
                    )
                number, name = version, str(old.name)
            registered = await open_infos.registered(
                conn, actor.corp_id, int(row.id), kind, actor.app_id
            )
        if registered is not None:
            return OpenInfo(str(registered.url))
        ext = preview_kinds.extension(name)
        request = OpenRequest(
            actor, int(space.id), int(row.id), name, ext, number, kind, water_mark
        )
        for provider in self._providers:
            found = await provider.open_url(request)
            if found is not None:
                return found
        if kind == EDIT:
            raise errors.DENTRY_EDIT_NOT_SUPPORT.error(
                "no editor is configured for this file (RegisterOpenInfo, or a WOPI server)"
            )
        return self._preview_link(actor, request, check_login)

    def _preview_link(
        self, actor: models.Actor, request: OpenRequest, check_login: bool
    ) -> OpenInfo:
        file_kind = preview_kinds.kind_of(request.name)
        if file_kind is None:
            if request.extension in preview_kinds.UNRENDERABLE:
                raise errors.DENTRY_PREVIEW_NOT_SUPPORT.error(
                    f"dingstore's preview page cannot show .{request.extension} files"
                )
            raise errors.DENTRY_EXTENSION_NOT_SUPPORT.error(
                f"files named {request.name!r} cannot be previewed"
            )
        if not file_kind.public and not check_login:
            raise errors.DENTRY_EXTENSION_NOT_SUPPORT.error(
                f".{request.extension} files are previewed only with checkLogin: true"
            )
        marked = request.water_mark and request.extension in preview_kinds.WATER_MARK_EXTENSIONS
        link = Link.new(
            corp_id=actor.corp_id,
            app_id=actor.app_id,
            union_id=actor.union_id,
            space_id=request.space_id,
            dentry_id=request.dentry_id,
            version=request.version,
            water_mark=marked,
            check_login=check_login,
        )
        token = preview_links.sign(self._signer, link, LINK_TTL)
        return OpenInfo(f"{self._public_url}/_preview/{token}/", marked)

    # --- RegisterOpenInfo -----------------------------------------------------------------

    async def register(
        self,
        actor: models.Actor,
        space_id: str,
        dentry_id: str,
        provider: str,
        infos: Sequence[tuple[str, str]],
    ) -> None:
        """RegisterOpenInfo: the calling app's URL to open the file with, for each open type
        given (replacing what the app registered before). Needs EDITOR on the file."""
        label = names.label(provider, "provider", max_length=MAX_PROVIDER)
        if not infos:
            raise errors.param_error("openInfos", "openInfos must name at least one URL")
        checked: dict[str, str] = {}
        for open_type, url in infos:
            kind = _open_type(open_type)
            if kind in checked:
                raise errors.param_error("openInfos", f"openType {kind} is given twice")
            checked[kind] = _url(url)
        async with self._db.write() as conn:
            space = await tree.space(conn, actor, space_id)
            row = await tree.dentry_for(conn, actor, space, dentry_id, access.WRITE)
            if row.type != "FILE":
                raise errors.param_error("dentryId", f"dentry {dentry_id} is a folder")
            for kind, url in checked.items():
                await open_infos.register(
                    conn,
                    corp_id=actor.corp_id,
                    space_id=int(space.id),
                    dentry_id=int(row.id),
                    app_id=actor.app_id,
                    open_type=kind,
                    provider=label,
                    url=url,
                    union_id=actor.union_id,
                    now=self._clock.now_ms(),
                )

    # --- the preview page -----------------------------------------------------------------

    async def visit(self, token: str, session: str | None, *, page: bool) -> Visit:
        """Open a link: bind it to this browser session if it is the first visit of its
        ``page`` (a content request never binds), else check the session's cookie; then check
        the file and the operator's right to read it again."""
        link, fresh = preview_links.verify(self._signer, token)
        now = self._clock.now_ms()
        async with self._db.read() as conn:
            bound = await open_infos.session(conn, link.corp_id, link.link_id)
        new_session = None
        if bound is None:
            if not fresh:
                raise LinkRefused("expired", "this preview link expired unused")
            if not page:
                raise LinkRefused("unopened", "open the preview page first")
            new_session = secrets.token_urlsafe(32)
            try:
                async with self._db.write() as writer:
                    won = await open_infos.claim(
                        writer,
                        link.corp_id,
                        link.link_id,
                        _hash(new_session),
                        now,
                        now + SESSION_TTL * 1000,
                    )
            except errors.Conflict:  # another first visit's row, met by the primary key
                won = False
            if not won:
                raise LinkRefused("elsewhere", "this preview link was opened in another session")
        elif session is None or not hmac.compare_digest(str(bound.session_hash), _hash(session)):
            raise LinkRefused("elsewhere", "this preview link was opened in another session")
        elif int(bound.expires_at) < now:
            raise LinkRefused("expired", "this preview session is over")
        return await self._file(link, new_session)

    async def _file(self, link: Link, new_session: str | None) -> Visit:
        operator = await self._identity.operator(link.corp_id, link.union_id)
        principal = models.Principal(link.app_id, link.corp_id, frozenset(), 0)
        actor = models.Actor(principal, operator, self._clock)
        async with self._db.read() as conn:
            space = await tree.space(conn, actor, str(link.space_id))
            row = await tree.dentry_for(conn, actor, space, str(link.dentry_id), access.READ)
            name, size, blob = str(row.name), int(row.size), int(row.blob_id)
            if link.version != int(row.version):
                old = await dentries.version(conn, int(row.id), link.version)
                if old is None:
                    raise errors.DENTRY_NOT_EXIST.error("this version of the file is gone")
                name, size, blob = str(old.name), int(old.size), int(old.blob_id)
        kind = preview_kinds.kind_of(name)
        if kind is None or (not kind.public and not link.check_login):
            raise errors.DENTRY_PREVIEW_NOT_SUPPORT.error("the file was renamed to another type")
        return Visit(
            link=link,
            operator=operator,
            name=name,
            size=size,
            version=link.version,
            kind=kind,
            key=blob_key(blob),
            water_mark=link.water_mark,
            new_session=new_session,
        )

    async def purge_expired(self) -> int:
        """Housekeeping: forget the sessions of links that are over, and the registrations of
        files purged for good."""
        async with self._db.write() as conn:
            sessions = await open_infos.purge_expired_sessions(conn, self._clock.now_ms())
            return sessions + await open_infos.purge_orphans(conn)
