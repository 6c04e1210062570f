"""What dingstore's own preview page can show, by a file's extension (docs/previews.md).

A *kind* says how the page shows the file: ``IMAGE`` (an ``<img>``), ``PDF`` (the browser's own
viewer in a frame), ``TEXT`` (escaped, in a ``<pre>``), ``AUDIO`` / ``VIDEO`` (the browser's
player, fetching ranges). ``media_type`` is what the page's content URL answers with; text of
any kind — HTML and SVG included — is ``text/plain``, so nothing in a file ever runs as a page
of dingstore's origin.

The spec limits ``checkLogin: false`` links to basic document formats, some image formats and all
audio and video (§6 K 42): ``public`` marks what such a link may show. ``UNRENDERABLE`` are types
dingstore knows but no browser shows without conversion (TIFF, Office documents, MKV ...):
``dentryPreviewNotSupport``, where an unknown extension is ``dentryExtensionNotSupport``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Kind(enum.Enum):
    IMAGE = "image"
    PDF = "pdf"
    TEXT = "text"
    AUDIO = "audio"
    VIDEO = "video"


@dataclass(frozen=True, slots=True)
class FileKind:
    kind: Kind
    media_type: str
    public: bool  # shown by a checkLogin:false link too


TEXT_TYPE = "text/plain; charset=utf-8"


def _words(text: str) -> list[str]:
    return text.split()


_IMAGES = {
    # the spec's checkLogin:false list, those a browser draws (jiff, pcx, fax, wbmp, tif(f): no)
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "jpe": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "bmp": "image/bmp",
    "ico": "image/x-icon",
    "webp": "image/webp",
}
_IMAGES_LOGIN = {"jfif": "image/jpeg", "avif": "image/avif", "apng": "image/apng"}
_AUDIO = {
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "ogg": "audio/ogg",
    "oga": "audio/ogg",
    "opus": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "weba": "audio/webm",
}
_VIDEO = {
    "mp4": "video/mp4",
    "m4v": "video/mp4",
    "webm": "video/webm",
    "ogv": "video/ogg",
    "mov": "video/quicktime",
}
# Plain text: documents, data and source code. Markup (HTML, SVG, XML) is shown as its text.
_TEXT = _words(
    "txt text md markdown rst csv tsv log json jsonl xml yaml yml toml ini conf cfg "
    "properties env html htm xhtml svg css scss less js mjs cjs ts tsx jsx vue py pyi rb go "
    "rs java kt kts scala groovy gradle c h cc cpp cxx hpp hh cs m mm swift php pl pm lua r "
    "sql sh bash zsh fish ps1 bat cmd mk cmake proto graphql tex diff patch srt vtt"
)

UNRENDERABLE = frozenset(
    _words(
        "tif tiff pcx fax wbmp jiff heic heif psd raw doc docx dot dotx wps xls xlsx xlsm et ppt "
        "pptx pps ppsx dps odt ods odp rtf mkv avi wmv flv 3gp mpg mpeg rm rmvb amr wma ape"
    )
)

KINDS: dict[str, FileKind] = {
    **{e: FileKind(Kind.IMAGE, t, True) for e, t in _IMAGES.items()},
    **{e: FileKind(Kind.IMAGE, t, False) for e, t in _IMAGES_LOGIN.items()},
    **{e: FileKind(Kind.AUDIO, t, True) for e, t in _AUDIO.items()},
    **{e: FileKind(Kind.VIDEO, t, True) for e, t in _VIDEO.items()},
    **{e: FileKind(Kind.TEXT, TEXT_TYPE, True) for e in _TEXT},
    "pdf": FileKind(Kind.PDF, "application/pdf", True),
}
# SVG is an image format outside the spec's list: only a checkLogin:true link shows it (as text).
KINDS["svg"] = FileKind(Kind.TEXT, TEXT_TYPE, False)

# The spec's formats that take a water mark (WPS: Word, Excel, PowerPoint, and PDF). dingstore's
# own page draws one on PDF; a provider that opens the others decides for them.
WATER_MARK_EXTENSIONS = frozenset(_words("doc docx xls xlsx ppt pptx wps et dps pdf"))


def extension(name: str) -> str:
    """The extension of a file name, lower-case, without the dot ('' for none)."""
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def kind_of(name: str) -> FileKind | None:
    return KINDS.get(extension(name))
