"""dingstore's preview page, where GetDentryOpenInfo's links lead (docs/previews.md).

Not a DingTalk API and not in the OpenAPI document: no access token, no unionId — the signed
link is the credential until its first visit, then the link and the cookie that visit set.

* ``GET /_preview/{token}/`` — the page: the file's name, and the file shown by kind
  (``api/preview_page.py``). The first visit binds the link to the browser (an HttpOnly
  session cookie scoped to the link's path); any other browser is refused (403).
* ``GET /_preview/{token}/content`` — the file's bytes for the page's ``<img>``, ``<video>``,
  ``<audio>`` or PDF frame, one HTTP range at a time (``blobs.serve``), with the cookie only.

Every answer forbids script (a Content-Security-Policy with no script source; the content URL
sandboxed but for PDF), sniffing (``nosniff``) and caching, and sends no referrer: the URL is a
credential. Refusals are small HTML pages with the same headers: 403 (not a link dingstore
issued, or opened in another browser, or the operator may no longer read the file), 404 (the
file is gone), 410 (expired).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route, Router

from dingstore import errors
from dingstore.api import preview_page
from dingstore.api.routes import blobs
from dingstore.api.routing import services
from dingstore.service.preview_kinds import Kind
from dingstore.service.preview_links import PATH_PREFIX, LinkRefused
from dingstore.service.previews import Visit

PREFIX = PATH_PREFIX
COOKIE = "dingstore_preview"

_REFUSALS = {
    "invalid": (403, "This link is not valid"),
    "elsewhere": (403, "This link was opened elsewhere"),
    "unopened": (403, "Open the preview page first"),
    "expired": (410, "This link has expired"),
}


def _page_headers(nonce: str) -> dict[str, str]:
    return {
        **preview_page.SECURITY_HEADERS,
        "Content-Security-Policy": preview_page.PAGE_CSP.format(nonce=nonce),
        "X-Frame-Options": "DENY",
        "Cross-Origin-Opener-Policy": "same-origin",
    }


def _refusal(exc: Exception) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    if isinstance(exc, LinkRefused):
        status, title = _REFUSALS[exc.reason]
        text = exc.message
    else:
        assert isinstance(exc, errors.DingstoreError)
        status, text = exc.status, exc.message
        title = {404: "This file is gone", 403: "You may not see this file"}.get(
            status, "This file cannot be shown"
        )
    text = text[:1].upper() + text[1:]
    body = preview_page.message(title, f"{text}. Ask for a new link.", nonce)
    return HTMLResponse(body, status_code=status, headers=_page_headers(nonce))


async def _visit(request: Request, *, page: bool) -> Visit:
    token: str = request.path_params["token"]
    return await services(request).previews.visit(token, request.cookies.get(COOKIE), page=page)


async def preview_page_route(request: Request) -> Response:
    if request.method == "HEAD":  # a HEAD never binds a link to a browser
        return Response(headers=_page_headers(secrets.token_urlsafe(16)), media_type="text/html")
    try:
        visit = await _visit(request, page=True)
        text = None
        if visit.kind.kind is Kind.TEXT:
            text = await _text(request, visit)
    except (LinkRefused, errors.DingstoreError) as exc:
        return _refusal(exc)
    token = request.path_params["token"]
    nonce = secrets.token_urlsafe(16)
    content_url = f"{request.scope.get('root_path', '')}{PREFIX}{token}/content"
    html = preview_page.page(visit, nonce, content_url, text)
    response = HTMLResponse(html, headers=_page_headers(nonce))
    if visit.new_session is not None:
        settings = request.app.state.settings
        response.set_cookie(
            COOKIE,
            visit.new_session,
            path=f"{request.scope.get('root_path', '')}{PREFIX}{token}",
            httponly=True,
            samesite="lax",
            secure=settings.resolved_public_url.startswith("https:"),
        )
    return response


async def _text(request: Request, visit: Visit) -> bytes:
    store = services(request).blobs
    end = min(visit.size, preview_page.TEXT_LIMIT)
    chunks = [chunk async for chunk in store.read(visit.key, 0, end)] if end else []
    return b"".join(chunks)


async def preview_content(request: Request) -> Response:
    try:
        visit = await _visit(request, page=False)
    except (LinkRefused, errors.DingstoreError) as exc:
        return _refusal(exc)
    kind = visit.kind
    csp = preview_page.PDF_CSP if kind.kind is Kind.PDF else preview_page.CONTENT_CSP
    disposition = "attachment" if kind.kind is Kind.TEXT else "inline"
    headers = {
        **preview_page.SECURITY_HEADERS,
        "Content-Security-Policy": csp,
        "X-Frame-Options": "SAMEORIGIN",
        "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(visit.name, safe='')}",
    }
    store = services(request).blobs
    return await blobs.serve(
        request, store, visit.key, standard=True, media_type=kind.media_type, headers=headers
    )


router = Router(
    routes=[
        Route(PREFIX + "{token}/", preview_page_route, methods=["GET"]),
        Route(PREFIX + "{token}", preview_page_route, methods=["GET"]),
        Route(PREFIX + "{token}/content", preview_content, methods=["GET"]),
    ]
)
