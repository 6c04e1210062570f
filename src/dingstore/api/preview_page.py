"""The HTML of dingstore's preview page (``api/routes/previews.py``): no script at all, one
stylesheet allowed by its nonce, everything a file holds escaped or loaded as media.

The page shows the file's name, and below it an image (``<img>``), a PDF (the browser's own
viewer, in a frame), the file's text (escaped, in ``<pre>``) or the browser's audio or video
player; media come from the link's ``content`` URL, which answers ranges. A water mark, when
the link has one, is the operator's name drawn over the page, out of the pointer's way.
"""

from __future__ import annotations

from html import escape

from dingstore.service.preview_kinds import Kind
from dingstore.service.previews import Visit

TEXT_LIMIT = 1024 * 1024  # bytes of a text file the page shows
WATER_MARKS = 48  # copies of the name drawn over the page

PAGE_CSP = (
    "default-src 'none'; img-src 'self'; media-src 'self'; frame-src 'self'; "
    "style-src 'nonce-{nonce}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
# The file's bytes: shown only inside the page (frame-ancestors), never as a page that runs
# anything. A PDF is left unsandboxed: Chromium shows no PDF in a sandboxed document, and
# a PDF's own script runs in the viewer's sandbox, not in dingstore's origin.
CONTENT_CSP = "default-src 'none'; frame-ancestors 'self'; sandbox"
PDF_CSP = "default-src 'none'; frame-ancestors 'self'"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}

_STYLE = """
html, body { margin: 0; height: 100%; background: #f4f5f7; color: #1f2329;
  font: 14px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
body { display: flex; flex-direction: column; }
header { padding: 10px 16px; background: #fff; border-bottom: 1px solid #dee0e3;
  display: flex; gap: 12px; align-items: baseline; }
h1 { margin: 0; font-size: 16px; font-weight: 600; overflow-wrap: anywhere; }
header span { color: #646a73; white-space: nowrap; }
main { flex: 1; display: flex; align-items: center; justify-content: center; min-height: 0;
  padding: 16px; box-sizing: border-box; }
main.fill { align-items: stretch; padding: 0; }
img, video { max-width: 100%; max-height: 100%; object-fit: contain; background: #fff; }
iframe { border: 0; width: 100%; flex: 1; background: #fff; }
pre { margin: 0; align-self: stretch; flex: 1; overflow: auto; background: #fff;
  border: 1px solid #dee0e3; padding: 12px 16px; white-space: pre-wrap;
  overflow-wrap: anywhere; font: 13px/1.45 ui-monospace, "SFMono-Regular", Menlo, monospace; }
p.note { color: #646a73; margin: 8px 16px; }
.message { text-align: center; max-width: 36em; }
.watermark { position: fixed; inset: 0; z-index: 10; pointer-events: none; overflow: hidden;
  display: flex; flex-wrap: wrap; align-content: flex-start; gap: 72px 96px; padding: 48px;
  user-select: none; }
.watermark span { transform: rotate(-30deg); color: rgba(128, 128, 128, 0.35); font-size: 18px;
  white-space: nowrap; }
"""


def _size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def _document(title: str, nonce: str, header: str, main: str, extra: str = "") -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f'<title>{escape(title)}</title><style nonce="{nonce}">{_STYLE}</style></head>'
        f"<body>{header}{main}{extra}</body></html>"
    )


def page(visit: Visit, nonce: str, content_url: str, text: bytes | None) -> str:
    """The page for an opened link; ``text`` is the start of a text file's bytes."""
    name = escape(visit.name)
    src = escape(content_url)
    fill = ""
    if visit.kind.kind is Kind.IMAGE:
        body = f'<img src="{src}" alt="{name}">'
    elif visit.kind.kind is Kind.PDF:
        body, fill = f'<iframe src="{src}" title="{name}"></iframe>', ' class="fill"'
    elif visit.kind.kind is Kind.AUDIO:
        body = f'<audio controls preload="metadata" src="{src}"></audio>'
    elif visit.kind.kind is Kind.VIDEO:
        body = f'<video controls preload="metadata" src="{src}"></video>'
    else:
        shown = (text or b"").decode("utf-8", errors="replace")
        body = f"<pre>{escape(shown)}</pre>"
    note = ""
    if visit.kind.kind is Kind.TEXT and visit.size > TEXT_LIMIT:
        note = f'<p class="note">The first {_size(TEXT_LIMIT)} of {_size(visit.size)}.</p>'
    header = (
        f"<header><h1>{name}</h1><span>{_size(visit.size)} · version {visit.version}</span>"
        "</header>"
    )
    marks = ""
    if visit.water_mark:
        label = escape(visit.operator.name or visit.operator.union_id)
        marks = (
            '<div class="watermark" aria-hidden="true">'
            + (f"<span>{label}</span>" * WATER_MARKS)
            + "</div>"
        )
    return _document(visit.name, nonce, header, f"{note}<main{fill}>{body}</main>", marks)


def message(title: str, text: str, nonce: str) -> str:
    """A page that says why a link does not open."""
    main = f'<main><div class="message"><h1>{escape(title)}</h1><p>{escape(text)}</p></div></main>'
    return _document(title, nonce, "", main)
