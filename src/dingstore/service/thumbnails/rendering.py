"""Making one thumbnail: the bytes of a file in, a small JPEG or PNG out (or why not).

Pure and synchronous: it runs in a sandboxed child process (``sandbox.py``), never on the event
loop. Images go through Pillow, opened with only the formats listed in ``IMAGE_FORMATS`` (so a
file named ``.png`` that is really EPS never reaches Ghostscript), PDFs through pdfium
(``pypdfium2``), first page only. Pillow's ``thumbnail`` decodes a JPEG at 1/2, 1/4 or 1/8 of
its size (``draft``: the DCT does the scaling) and reduces other formats by a whole factor
before resampling, so a 12 MP JPEG costs about a 1/8-size decode.

Limits: an image over ``max_pixels`` (width x height read from its header, before any pixel is
decoded) is refused; a PDF page is rendered at the scale that fits the box, whatever its size.
Memory and time are bounded by the sandbox, which runs this under ``RLIMIT_AS`` and a deadline.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

BOX = 256  # a thumbnail fits in BOX x BOX pixels, its aspect kept, never enlarged
JPEG_QUALITY = 80

# What Pillow may open: the formats GetDentryThumbnails promises, nothing else.
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
EXTENSIONS = {
    **dict.fromkeys(("jpg", "jpeg", "jpe", "jfif"), "JPEG"),
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    **dict.fromkeys(("bmp", "dib"), "BMP"),
    **dict.fromkeys(("tif", "tiff"), "TIFF"),
    "pdf": "PDF",
}

# Why a file has no thumbnail (``Outcome.reason``), for the logs and the task's failMessage.
NOT_AN_IMAGE = "notAnImage"  # the bytes are no image of an allowed format, nor a PDF
TOO_MANY_PIXELS = "tooManyPixels"  # the decompression-bomb guard
UNREADABLE = "unreadable"  # a broken or encrypted file


@dataclass(frozen=True, slots=True)
class Outcome:
    """A thumbnail (``data`` in ``media_type``, ``width`` x ``height``), or ``reason`` why none."""

    data: bytes = b""
    media_type: str = ""
    width: int = 0
    height: int = 0
    reason: str | None = None


def supported(name: str) -> bool:
    """Whether a file of this name gets a thumbnail: by its extension."""
    stem, dot, extension = name.rpartition(".")
    return bool(dot and stem) and extension.lower() in EXTENSIONS


def render(data: bytes, *, max_pixels: int, box: int = BOX) -> Outcome:
    """The thumbnail of ``data``, an image or a PDF (by its content, not its name)."""
    if data[:5] == b"%PDF-":
        return _pdf(data, box)
    return _image(data, max_pixels, box)


def _image(data: bytes, max_pixels: int, box: int) -> Outcome:
    from PIL import Image, ImageOps, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = max_pixels
    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS and raises only past twice that: refuse at once.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data), formats=IMAGE_FORMATS) as image:
                width, height = image.size
                if width * height > max_pixels:
                    return Outcome(reason=TOO_MANY_PIXELS)
                image.thumbnail((box, box), Image.Resampling.BICUBIC, reducing_gap=2.0)
                small = ImageOps.exif_transpose(image) or image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return Outcome(reason=TOO_MANY_PIXELS)
        except UnidentifiedImageError:
            return Outcome(reason=NOT_AN_IMAGE)
        except (OSError, ValueError, SyntaxError, EOFError, IndexError):
            return Outcome(reason=UNREADABLE)  # truncated, corrupt, an unknown compression
    return _encode(small)


def _pdf(data: bytes, box: int) -> Outcome:
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return Outcome(reason=UNREADABLE)  # broken, or encrypted
    try:
        if len(document) == 0:
            return Outcome(reason=UNREADABLE)
        page = document[0]
        width, height = page.get_size()
        if width <= 0 or height <= 0:
            return Outcome(reason=UNREADABLE)
        scale = box / max(width, height)
        bitmap = page.render(scale=scale, may_draw_forms=False)
        image = bitmap.to_pil()
        # Rounding may leave a pixel more than the box: trim, never scale up.
        image.thumbnail((box, box))
        return _encode(image)
    except pdfium.PdfiumError:
        return Outcome(reason=UNREADABLE)
    finally:
        document.close()


def _encode(image: object) -> Outcome:
    """JPEG for an opaque image, PNG where it has transparency (JPEG has none)."""
    from PIL import Image

    assert isinstance(image, Image.Image)
    alpha = image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )
    out = io.BytesIO()
    if alpha:
        image.convert("RGBA").save(out, "PNG", optimize=False)
        media_type = "image/png"
    else:
        image.convert("RGB").save(out, "JPEG", quality=JPEG_QUALITY)
        media_type = "image/jpeg"
    return Outcome(out.getvalue(), media_type, image.width, image.height)
