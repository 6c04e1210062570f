"""The WOPI host page (``GET /wopi/host?src=<editor URL>#access_token=…&access_token_ttl=…``):
what opens an office server's editor in a browser. WOPI wants the access token POSTed to the
editor, never in its URL; the page reads it from its own fragment (which no server receives),
takes it out of the address bar and the history, and posts it in a form to ``src`` inside a
full-page frame.

Nothing of the office server runs in dingstore's origin: the page's one script and style run
by nonce, it may frame and post to the office server's origin only (``src`` was checked to be
one of its actions), and it sends no referrer.
"""

from __future__ import annotations

import secrets
from html import escape

from starlette.responses import HTMLResponse

CSP = (
    "default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
    "frame-src {origin}; form-action {origin}; base-uri 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width">
<title>dingstore</title>
<style nonce="{nonce}">
html, body {{ margin: 0; height: 100%; overflow: hidden; }}
iframe {{ display: block; width: 100%; height: 100%; border: 0; }}
</style>
</head>
<body>
<form id="office_form" method="post" target="office_frame" action="{src}">
<input type="hidden" name="access_token" value="">
<input type="hidden" name="access_token_ttl" value="">
</form>
<iframe id="office_frame" name="office_frame" title="Office" allowfullscreen></iframe>
<script nonce="{nonce}">
(function () {{
  var given = new URLSearchParams(window.location.hash.slice(1));
  var form = document.getElementById("office_form");
  form.elements.access_token.value = given.get("access_token") || "";
  form.elements.access_token_ttl.value = given.get("access_token_ttl") || "";
  window.history.replaceState(null, "", window.location.pathname + window.location.search);
  form.submit();
}})();
</script>
</body>
</html>
"""


def render(src: str, origin: str) -> HTMLResponse:
    """The page posting its fragment's token to the editor at ``src`` (of ``origin``)."""
    nonce = secrets.token_urlsafe(16)
    headers = {
        "Content-Security-Policy": CSP.format(nonce=nonce, origin=origin),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    page = _PAGE.format(nonce=nonce, src=escape(src, quote=True))
    return HTMLResponse(page, headers=headers)
