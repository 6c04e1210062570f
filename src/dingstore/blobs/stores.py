"""Choosing the blob store from settings, by URL (``DINGSTORE_BLOB_URL``):

* unset — local files under ``DATA_DIR/blobs`` (the embedded default);
* ``file:///absolute/path`` — local files under that directory;
* ``memory://`` — a dict in the process, for tests;
* ``s3://BUCKET?endpoint=http://HOST:PORT&region=REGION`` — an S3-compatible object store
  (``endpoint`` left out: AWS itself; ``region`` left out: us-east-1), with credentials from
  ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``.

Anything else is refused at start-up (``ConfigError``) with a message saying what is supported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

from dingstore.blobs import base, local, memory, signing
from dingstore.clock import SYSTEM, Clock
from dingstore.settings import ConfigError, Settings

if TYPE_CHECKING:
    from dingstore.blobs import s3

S3_FORM = "s3://BUCKET?endpoint=http://HOST:PORT&region=REGION"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def _s3_store(url: str, parts: SplitResult, settings: Settings) -> s3.S3BlobStore:
    from dingstore.blobs import s3  # boto3: ~0.25 s of imports, for S3 stores only

    def refuse(why: str) -> ConfigError:
        return ConfigError(f"blob URL {url!r}: {why}; the form is {S3_FORM}")

    if "@" in parts.netloc:
        raise refuse(
            "credentials do not belong in the URL, set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        )
    if not _BUCKET.fullmatch(parts.netloc):
        raise refuse("the bucket name must be 3-63 of a-z, 0-9, '.' and '-'")
    if parts.path not in ("", "/") or parts.fragment:
        raise refuse("the URL names a bucket, not a path inside it")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise refuse("the query is malformed") from None
    unknown = sorted(set(query) - {"endpoint", "region"})
    if unknown:
        raise refuse(f"unknown parameters {unknown}: only endpoint and region")
    repeated = sorted(name for name, values in query.items() if len(values) > 1)
    if repeated:
        raise refuse(f"{repeated} given more than once")
    endpoint = query.get("endpoint", [None])[0]
    if endpoint is not None:
        where = urlsplit(endpoint)
        if where.scheme not in ("http", "https") or not where.hostname or where.query:
            raise refuse(f"endpoint {endpoint!r} is not an http:// or https:// address")
    region = query.get("region", [s3.DEFAULT_REGION])[0]
    if not _REGION.fullmatch(region):
        raise refuse(f"region {region!r} is not a region name such as us-east-1")
    if settings.transfer_expiry > s3.MAX_EXPIRY:
        raise ConfigError(
            f"DINGSTORE_TRANSFER_EXPIRY is {settings.transfer_expiry}: an S3 pre-signed URL "
            f"lives at most {s3.MAX_EXPIRY} seconds"
        )
    return s3.S3BlobStore(parts.netloc, endpoint=endpoint, region=region)


def local_root(settings: Settings) -> Path | None:
    """The directory of the local-files store ``settings`` select (unset: ``DATA_DIR/blobs``,
    or a ``file://`` URL), or None when the bytes live elsewhere (S3, memory)."""
    url = settings.blob_url
    if url is None:
        return (settings.data_dir / "blobs").resolve()
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return Path(unquote(parts.path)).resolve()
    return None


def blob_store_for(settings: Settings, *, clock: Clock = SYSTEM) -> base.BaseBlobStore:
    """The store ``settings`` select, not yet opened; its transfer URLs expire by ``clock``. The
    URL is checked before the secret key is made (``ConfigError``: nothing is created)."""
    public_url = settings.resolved_public_url

    def signer() -> signing.Signer:
        return signing.Signer(settings.resolved_secret_key(), clock=clock)

    url = settings.blob_url
    if url is None:
        return local.LocalBlobStore(settings.data_dir / "blobs", signer(), public_url)
    parts = urlsplit(url)
    if parts.scheme == "file":
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not path.startswith("/"):
            raise ConfigError(
                f"blob URL {url!r}: a file URL names an absolute local path, file:///var/dingstore"
            )
        return local.LocalBlobStore(Path(path), signer(), public_url)
    if parts.scheme == "memory":
        return memory.MemoryBlobStore(signer(), public_url)
    if parts.scheme == "s3":
        return _s3_store(url, parts, settings)
    raise ConfigError(
        f"blob URL {url!r} is not supported: use file:///absolute/path, {S3_FORM}, "
        "memory:// (tests), or leave DINGSTORE_BLOB_URL unset for DATA_DIR/blobs"
    )
