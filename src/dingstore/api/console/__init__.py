"""The web console at ``/console`` (docs/console.md): server-rendered pages (Jinja2 templates),
htmx and one small script of its own, both served from ``/console/static``; no inline script,
under a strict Content-Security-Policy. Not a DingTalk API and not in the OpenAPI document.

Every page acts as the signed-in user through the same services, with the same role checks, as
the API (``service/console.py`` ``ConsoleService.actor``)."""

from __future__ import annotations

from starlette.routing import Route, Router

from dingstore.api.console import admin, auth, bin, files, sharing, tasks, uploads, web

PREFIX = web.PREFIX
LIVE_PREFIX = PREFIX + "/live/"  # server-sent events: no request deadline
DOWNLOAD_PREFIX = PREFIX + "/download/"  # a file's bytes: as long as they take
SIGNIN_PREFIX = PREFIX + "/signin/"  # the next segment is a credential: kept out of logs

P = PREFIX
router = Router(
    routes=[
        Route(P, auth.home, methods=["GET"]),
        Route(P + "/", auth.home, methods=["GET"]),
        Route(P + "/static/{name}", auth.static, methods=["GET"]),
        Route(SIGNIN_PREFIX + "{token}", auth.sign_in_page, methods=["GET"]),
        Route(P + "/signin", auth.sign_in, methods=["POST"]),
        Route(P + "/signout", auth.sign_out, methods=["POST"]),
        Route(P + "/spaces", files.spaces, methods=["GET"]),
        Route(P + "/s/{space}/f/{folder}", files.folder, methods=["GET"]),
        Route(P + "/s/{space}/f/{folder}/folders", files.new_folder, methods=["POST"]),
        Route(P + "/s/{space}/f/{folder}/act", files.act, methods=["POST"]),
        Route(P + "/s/{space}/d/{dentry}", files.dentry, methods=["GET"]),
        Route(P + "/s/{space}/d/{dentry}/rename", files.rename, methods=["POST"]),
        Route(DOWNLOAD_PREFIX + "{space}/{dentry}", files.download, methods=["GET"]),
        Route(P + "/s/{space}/d/{dentry}/preview", files.preview, methods=["GET"]),
        Route(P + "/s/{space}/d/{dentry}/revert/{version:int}", files.revert, methods=["POST"]),
        Route(P + "/s/{space}/share/{dentry}", sharing.listing, methods=["GET"]),
        Route(P + "/s/{space}/share/{dentry}", sharing.change, methods=["POST"]),
        Route(P + "/s/{space}/uploads", uploads.start, methods=["POST"]),
        Route(P + "/s/{space}/commits", uploads.commit, methods=["POST"]),
        Route(P + "/pick", files.pick, methods=["GET"]),
        Route(P + "/pick", files.copy_move, methods=["POST"]),
        Route(P + "/tasks", tasks.recent, methods=["GET"]),
        Route(LIVE_PREFIX + "tasks", tasks.live, methods=["GET"]),
        Route(P + "/bin", bin.listing, methods=["GET"]),
        Route(P + "/bin", bin.act, methods=["POST"]),
        Route(P + "/admin", admin.overview, methods=["GET"]),
        Route(P + "/admin/users", admin.users, methods=["POST"]),
        Route(P + "/admin/users/{union}/link", admin.user_link, methods=["POST"]),
        Route(P + "/admin/groups", admin.groups, methods=["POST"]),
        Route(P + "/admin/apps", admin.create_app, methods=["POST"]),
        Route(P + "/admin/apps/{app}", admin.app, methods=["GET"]),
        Route(P + "/admin/apps/{app}", admin.change_app, methods=["POST"]),
    ]
)
