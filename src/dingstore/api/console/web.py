"""What every console page shares: the session cookie, CSRF, the security headers and the
templates, and turning a service's error into a page that says it in words."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jinja2
from starlette.datastructures import ImmutableMultiDict
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dingstore import errors
from dingstore.api.routing import services
from dingstore.service import models
from dingstore.service.console import Session

PREFIX = "/console"
COOKIE = "dingstore_console"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"
HERE = Path(__file__).parent

templates = jinja2.Environment(
    loader=jinja2.FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

# No inline script or style anywhere: scripts and styles come from /console/static only.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:{extra}; "
    "connect-src 'self'{extra}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}

# Errors in words: what a person reads for the codes they meet most; any other code's own
# message is shown, its code beside it.
WORDS = {
    "permissionDenied": "You do not have permission to do that here.",
    "dentryNotExist": "That file or folder does not exist (any more).",
    "dentryAlreadyExist": "Something with that name is already there.",
    "spaceNotExist": "That space does not exist.",
    "spaceQuotaInsufficient": "The space is full.",
    "taskNotExist": "That task does not exist.",
}


def transfer_origin(request: Request) -> str | None:
    """Where the browser sends and fetches bytes: the origin of the blob store's transfer URLs
    (the public URL's ``/_blobs/``, or S3's endpoint), found once by signing a URL (no I/O)."""
    state = request.app.state
    if not hasattr(state, "console_transfer_origin"):
        target = services(request).blobs.upload_target("blobs/0", expires_in=60)
        state.console_transfer_origin = blob_origin(target.url)
    found: str | None = state.console_transfer_origin
    return found


def headers(request: Request) -> dict[str, str]:
    """The security headers of every console answer. The CSP lets scripts reach the transfer
    URLs' origin when it is not the page's own (S3; or a public URL other than the one the
    browser used)."""
    extra = ""
    origin = transfer_origin(request)
    if origin and origin != f"{request.url.scheme}://{request.url.netloc}":
        extra = " " + origin
    return {**SECURITY_HEADERS, "Content-Security-Policy": CSP.format(extra=extra)}


def blob_origin(url: str) -> str | None:
    """The origin of a transfer URL, when it is not the console's own (S3's pre-signed URLs)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def url(path: str, **query: Any) -> str:
    given = {k: v for k, v in query.items() if v not in (None, "")}
    return PREFIX + path + ("?" + urlencode(given) if given else "")


async def form(request: Request) -> ImmutableMultiDict[str, str]:
    """The posted form (``application/x-www-form-urlencoded``: the console posts no files, so
    no multipart parser is needed), read once per request."""
    found = request.scope.get("dingstore.console_form")
    if found is None:
        body = (await request.body()).decode("utf-8", "replace")
        found = ImmutableMultiDict(parse_qsl(body, keep_blank_values=True))
        request.scope["dingstore.console_form"] = found
    return found  # type: ignore[no-any-return]


def words(exc: errors.DingstoreError) -> str:
    text = WORDS.get(exc.code)
    if text is None:
        text = exc.message[:1].upper() + exc.message[1:]
        if not text.endswith("."):
            text += "."
    return text


@dataclass
class Ctx:
    """A signed-in request: its session, the actor it acts as, and its CSRF token."""

    request: Request
    session: Session
    actor: models.Actor
    csrf: str

    @property
    def user(self) -> models.User:
        return self.session.user


def render(
    request: Request, name: str, ctx: Ctx | None, *, status: int = 200, **data: Any
) -> Response:
    html = templates.get_template(name).render(
        ctx=ctx,
        url=url,
        notice=request.query_params.get("notice"),
        nonce=secrets.token_urlsafe(8),
        **data,
    )
    return HTMLResponse(html, status_code=status, headers=headers(request))


def redirect(path: str, **query: Any) -> Response:
    """303 to the page to show next (htmx follows it and swaps in the page's ``main``)."""
    return RedirectResponse(url(path, **query), status_code=303)


def navigate(request: Request, path: str, **query: Any) -> Response:
    """Go to another page: an htmx request (which would swap the page into this one) is told
    to load it whole (``HX-Redirect``); any other gets a 303."""
    if request.headers.get("hx-request") == "true":
        return Response(status_code=200, headers={"HX-Redirect": url(path, **query)})
    return redirect(path, **query)


def secure(request: Request) -> bool:
    settings = request.app.state.settings
    return request.url.scheme == "https" or settings.resolved_public_url.startswith("https:")


Handler = Callable[[Request, Ctx], Awaitable[Response]]


def page(*, change: bool = False, json: bool = False) -> Callable[[Handler], Any]:
    """A console endpoint for a signed-in user. A change (any POST) must carry the session's
    CSRF token, in the form (``csrf``) or the ``X-CSRF-Token`` header, else 403 and nothing
    happens. A service's refusal becomes a page (or JSON) saying why, in words."""

    def wrap(handler: Handler) -> Any:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            console = services(request).console
            session = await console.session(request.cookies.get(COOKIE))
            if session is None:
                if json or change:
                    text = "You are not signed in (or your session ended): sign in again."
                    return refuse(request, 401, text, json=json)
                return redirect("/", next=request.url.path)
            ctx = Ctx(request, session, console.actor(session), console.csrf_token(session))
            try:
                if change:
                    given = request.headers.get(CSRF_HEADER)
                    if given is None and not json:
                        # reading the form may refuse it (over DINGSTORE_MAX_BODY_SIZE): in words
                        given = (await form(request)).get(CSRF_FIELD)
                    if not console.csrf_ok(session, given):
                        return refuse(
                            request,
                            403,
                            "This form is out of date or did not come from the console. "
                            "Reload the page and try again.",
                            json=json,
                            ctx=ctx,
                        )
                return await handler(request, ctx)
            except errors.DingstoreError as exc:
                if exc.status >= 500:
                    raise
                return refuse(request, exc.status, words(exc), json=json, ctx=ctx, code=exc.code)

        return endpoint

    return wrap


def refuse(
    request: Request,
    status: int,
    text: str,
    *,
    json: bool = False,
    ctx: Ctx | None = None,
    code: str | None = None,
) -> Response:
    """A refusal in words: the error page, or (``json``, for the page's scripts) a JSON body."""
    if json:
        return JSONResponse(
            {"code": code or "consoleRefused", "message": text},
            status_code=status,
            headers=headers(request),
        )
    return render(request, "error.html", ctx, status=status, message=text, code=code)
