"""The names of what dingstore keeps in a blob store: a file content's bytes at
``blobs/<blob id>``, its thumbnail at ``thumbnails/<blob id>``. Nothing else is stored there, so
``PREFIXES`` covers the whole of it."""

from __future__ import annotations

BLOBS = "blobs"
THUMBNAILS = "thumbnails"
PREFIXES = (BLOBS, THUMBNAILS)


def blob_key(blob_id: int) -> str:
    """Where a file content's bytes are (one object per content, shared by its versions)."""
    return f"{BLOBS}/{blob_id}"


def thumbnail_key(blob_id: int) -> str:
    """Where the thumbnail of a file content is: one per content, whatever its versions."""
    return f"{THUMBNAILS}/{blob_id}"
