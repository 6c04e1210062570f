"""Choosing the blob store from settings, by URL (``DINGSTORE_BLOB_URL``):

* unset — local files under ``DATA_DIR/blobs`` (the embedded default);
* ``file:///absolute/path`` — local files under that directory;
* ``memory://`` — a dict in the process, for tests.

Anything else is refused at start-up with a message saying what is supported.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from dingstore.blobs import base, local, memory, signing
from dingstore.settings import Settings


class UnsupportedBlobUrl(ValueError):
    pass


def blob_store_for(settings: Settings) -> base.BaseBlobStore:
    """The store ``settings`` select, not yet opened."""
    signer = signing.Signer(settings.resolved_secret_key())
    public_url = settings.resolved_public_url
    url = settings.blob_url
    if url is None:
        return local.LocalBlobStore(settings.data_dir / "blobs", signer, public_url)
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise UnsupportedBlobUrl(
                f"blob URL {url!r}: a file URL names an absolute local path, file:///var/dingstore"
            )
        return local.LocalBlobStore(Path(path), signer, public_url)
    if parts.scheme == "memory":
        return memory.MemoryBlobStore(signer, public_url)
    if parts.scheme in ("s3", "http", "https"):
        raise UnsupportedBlobUrl(
            f"blob URL {url!r}: S3-compatible object stores are not supported yet (planned); "
            "use file:///absolute/path or leave DINGSTORE_BLOB_URL unset"
        )
    raise UnsupportedBlobUrl(
        f"blob URL {url!r} is not supported: use file:///absolute/path, memory:// (tests), "
        "or leave DINGSTORE_BLOB_URL unset for DATA_DIR/blobs"
    )
