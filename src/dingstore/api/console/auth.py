"""Signing in by a one-time link, signing out, the home page and the console's static files."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response

from dingstore.api.console import web
from dingstore.api.routing import services
from dingstore.service.console import SESSION_TTL_MS, LinkRefused

STATIC = {
    "htmx.min.js": "text/javascript",
    "console.js": "text/javascript",
    "console.css": "text/css",
}


async def home(request: Request) -> Response:
    console = services(request).console
    session = await console.session(request.cookies.get(web.COOKIE))
    if session is None:
        return web.render(request, "signed_out.html", None)
    return web.redirect("/spaces")


async def sign_in_page(request: Request) -> Response:
    """The link's page: a button that signs in. The link is used by the button's POST, not by
    opening it, so a mail scanner that fetches links does not use it up."""
    return web.render(request, "sign_in.html", None, token=request.path_params["token"])


async def sign_in(request: Request) -> Response:
    if request.headers.get("sec-fetch-site") == "cross-site":
        # login CSRF: another site's form would sign the browser in as that site's user
        return web.refuse(request, 403, "Sign in from the link's own page, not from another site.")
    form = await web.form(request)
    token = form.get("token")
    try:
        if not isinstance(token, str):
            raise LinkRefused()
        session = await services(request).console.sign_in(token)
    except LinkRefused:
        return web.refuse(
            request,
            403,
            "This sign-in link is not valid: it was used already, or it expired "
            "(links last 10 minutes). Ask your administrator for a new one.",
        )
    response = RedirectResponse(web.url("/spaces"), status_code=303)
    response.set_cookie(
        web.COOKIE,
        session.token,
        max_age=SESSION_TTL_MS // 1000,
        path=web.PREFIX,
        httponly=True,
        samesite="lax",
        secure=web.secure(request),
    )
    return response


@web.page(change=True)
async def sign_out(request: Request, ctx: web.Ctx) -> Response:
    await services(request).console.sign_out(ctx.session)
    response = web.redirect("/", notice="You are signed out.")
    response.delete_cookie(web.COOKIE, path=web.PREFIX)
    return response


async def static(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = STATIC.get(name)
    if media_type is None:
        return Response("not found", status_code=404)
    return FileResponse(
        web.HERE / "static" / name,
        media_type=media_type,
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )
