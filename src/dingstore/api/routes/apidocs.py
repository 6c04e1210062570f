"""The API browser: ``GET /docs``, Swagger UI over ``/openapi.json`` (docs/reference/api.md).

Not a DingTalk API and not in the OpenAPI document. Swagger UI's script and stylesheet are
vendored under ``api/static/swagger-ui/`` (swagger-ui-dist, unmodified, with its licence) and
served from ``/docs/assets/``: the page loads nothing from another host, so it works on a
machine without internet access. The document declares the access token as an ``apiKey`` in
the ``x-acs-dingtalk-access-token`` header, so the page's *Authorize* button takes a token
(from ``POST /v1.0/oauth2/accessToken``, which the page can call too) and sends it with every
*Try it out*; ``persistAuthorization`` keeps it across reloads of the page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi.openapi.docs import get_swagger_ui_html
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route, Router

from dingstore import __version__

PREFIX = "/docs"
ASSETS = Path(__file__).parents[1] / "static" / "swagger-ui"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
# What the page may load: the files above, by name (nothing else of the folder is served).
_SERVED = {"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"}
_HEADERS = {"X-Content-Type-Options": "nosniff"}


async def page(request: Request) -> Response:
    html = get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"dingstore {__version__} — API",
        swagger_js_url=f"{PREFIX}/assets/swagger-ui-bundle.js",
        swagger_css_url=f"{PREFIX}/assets/swagger-ui.css",
        swagger_favicon_url=f"{PREFIX}/assets/favicon-32x32.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )
    return HTMLResponse(html.body, headers={**_HEADERS, "Cache-Control": "no-cache"})


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _SERVED:
        return Response(status_code=404, headers=_HEADERS)
    return FileResponse(
        ASSETS / name,
        media_type=_TYPES[Path(name).suffix],
        headers={**_HEADERS, "Cache-Control": "public, max-age=86400"},
    )


router = Router(
    routes=[
        Route(PREFIX, page, methods=["GET", "HEAD"]),
        Route(f"{PREFIX}/assets/{{name}}", asset, methods=["GET", "HEAD"]),
    ]
)
