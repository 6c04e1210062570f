"""The blob-store seam: where file bytes live.

A blob store keeps immutable byte strings ("objects") under string keys that dingstore makes,
such as ``blobs/10000000123`` or ``uploads/<uploadKey>``. It knows nothing of spaces, dentries
or reference counts; the service layer does (``store/blobs.py`` keeps the rows).

Keys are ``/``-separated segments of ``[A-Za-z0-9_.-]``: no empty segment, none starting with
``.`` (so no ``.``/``..``, and stores may keep their own files under dot-names), none longer
than 255 characters (a file name), at most ``MAX_KEY_LENGTH`` characters in all. Anything else
raises ``InvalidKey`` (a ``ValueError``). A key is never also the "folder" of another key (``a``
beside ``a/b``); a store may refuse that.

Every write is atomic: the bytes stream into a temporary object that is published under its key
only once complete, so a reader sees the whole object or nothing, and a failed, refused or
cancelled write leaves nothing behind. Writing an existing key replaces it atomically, unless
the write is ``exclusive``: then it publishes only where no object is, and otherwise raises
``ObjectExists`` and changes nothing (decided atomically when publishing).

Besides storing bytes, a store says how a *client* moves them: ``upload_target``,
``part_target`` and ``download_target`` return the URL and headers that GetFileUploadInfo,
GetMultipartFileUploadInfos and GetFileDownloadInfo hand out (``resourceUrls`` + ``headers``).
Stores whose bytes pass through dingstore (local files, memory) point them at dingstore's own
signed data plane, ``/_blobs/{key}`` (``signing.py``, ``api/routes/blobs.py``); an S3 store
returns the object store's own pre-signed URLs.

Committed bytes are immutable, and a transfer URL outlives nothing it could harm: an upload
target only ever *creates* its key (an exclusive write; on S3 ``If-None-Match: *`` signed into
the URL, since a pre-signed URL cannot be revoked), so replaying it once the object exists is
refused and changes nothing; a part target dies with its multipart upload (completed or
aborted: ``UploadNotFound``). A size declared when the target is made is signed into it: the
PUT must carry exactly that many bytes (a part: at most that many).

Multipart uploads follow S3, the strictest store behind the seam: an upload completes with its
parts in ascending part-number order, and a store may require every part but the last to hold at
least ``min_part_size`` bytes (S3: 5 MiB).

Implementations: ``local.py`` (files under the data dir), ``memory.py`` (tests), ``s3.py`` (an
S3-compatible object store); chosen by URL in ``stores.py``.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from dingstore.blobs import signing

CHUNK_SIZE = 1024 * 1024
MAX_KEY_LENGTH = 1024
MAX_PART_NUMBER = 10_000

_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,254}")
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")


class NotFound(LookupError):
    """No object under the key (or no such part)."""


class UploadNotFound(NotFound):
    """No multipart upload with that id for that key (never started, completed or aborted)."""


class InvalidKey(ValueError):
    """A key, prefix, upload id or part number that breaks the rules above."""


class ObjectExists(ValueError):
    """An exclusive write (or upload target) met an object already under its key; nothing
    changed."""


class PartTooSmall(ValueError):
    """A part but the last of a multipart upload is smaller than the store's ``min_part_size``."""


class TooLarge(ValueError):
    """More bytes arrived than ``max_size`` allowed; nothing was published."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        super().__init__(f"the object is larger than {max_size} bytes")


@dataclass(frozen=True, slots=True)
class Transfer:
    """How a client moves bytes: PUT (upload targets) or GET (download targets) ``url``,
    sending every one of ``headers``, within ``expires_in`` seconds."""

    url: str
    headers: dict[str, str]
    expires_in: int


@dataclass(frozen=True, slots=True)
class Stored:
    """What a write stored: its size in bytes and its ETag (``md5_etag`` of the bytes; None
    where the store cannot tell)."""

    size: int
    etag: str | None


def md5_etag(digest: bytes) -> str:
    """The ETag OSS and S3 give an object stored in one PUT: its quoted hex MD5."""
    return f'"{digest.hex()}"'


def multipart_etag(part_digests: list[bytes]) -> str:
    """The ETag S3 gives an object assembled from parts: the MD5 of the parts' MD5s, ``-N``."""
    whole = hashlib.md5(b"".join(part_digests), usedforsecurity=False)
    return f'"{whole.hexdigest()}-{len(part_digests)}"'


def check_key(key: str) -> str:
    """``key`` itself when it is a valid key; ``InvalidKey`` otherwise."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidKey(f"invalid blob key {key!r}")
    if not all(_SEGMENT.fullmatch(segment) for segment in key.split("/")):
        raise InvalidKey(f"invalid blob key {key!r}")
    return key


def check_prefix(prefix: str) -> str:
    """A prefix is a key, optionally with a trailing ``/``; returned without it."""
    return check_key(prefix[:-1] if prefix.endswith("/") else prefix)


def check_upload_id(upload_id: str) -> str:
    if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
        raise InvalidKey(f"invalid upload id {upload_id!r}")
    return upload_id


def check_part_number(part_number: int) -> int:
    if isinstance(part_number, bool) or not isinstance(part_number, int):
        raise InvalidKey(f"invalid part number {part_number!r}")
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise InvalidKey(f"part numbers run from 1 to {MAX_PART_NUMBER}, not {part_number}")
    return part_number


def check_part_list(part_numbers: list[int]) -> None:
    """What ``complete_multipart`` accepts: at least one part, in ascending order, none twice."""
    if not part_numbers:
        raise ValueError("a multipart upload completes with at least one part")
    for n in part_numbers:
        check_part_number(n)
    if any(a >= b for a, b in itertools.pairwise(part_numbers)):
        raise ValueError("parts are listed in ascending order, each once")


def check_range(start: int, end: int | None) -> None:
    if start < 0 or (end is not None and end < start):
        raise ValueError(f"invalid byte range [{start}, {end})")


class BaseBlobStore:
    #: Set by stores whose transfer targets point at dingstore's own data plane (``/_blobs/``):
    #: the data plane checks each request with it. ``None`` for stores that hand out their own
    #: URLs (S3): dingstore then serves no data plane for them.
    signer: signing.Signer | None = None
    #: The fewest bytes ``complete_multipart`` accepts in each part but the last.
    min_part_size: int = 0

    async def open(self) -> None:
        """Make the store ready (create directories, check the bucket). Called once, first."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release what ``open`` took."""
        raise NotImplementedError

    # -- objects ------------------------------------------------------------------------------

    async def write(
        self,
        key: str,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
        exclusive: bool = False,
    ) -> Stored:
        """Stream ``chunks`` into a new object and publish it under ``key`` once all arrived;
        return its size and ETag. Never holds the whole object in memory. More than
        ``max_size`` bytes: ``TooLarge``, and nothing is published. An exception from ``chunks``
        (a client that went away) propagates, and nothing is published either. ``exclusive``:
        publish only if no object is under ``key`` when the bytes are complete, else
        ``ObjectExists``."""
        raise NotImplementedError

    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The bytes ``[start, end)`` of the object (``end`` None or past the size: to the end),
        in chunks of about ``CHUNK_SIZE``. An async generator: ``NotFound`` is raised when
        iteration starts, before the first chunk. Once started, a read sees the object it began
        with even if the key is replaced or deleted meanwhile."""
        raise NotImplementedError

    async def open_file(self, key: str) -> BinaryIO | None:
        """The object as a local file open for reading, for a server that hands files to the
        kernel to send (``sendfile``); the caller closes it. None from a store that keeps no
        local files. ``NotFound`` when there is no object."""
        return None

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when there is no object under ``key``."""
        raise NotImplementedError

    async def etag(self, key: str) -> str | None:
        """The object's ETag as OSS and S3 give it (``md5_etag``, or ``multipart_etag`` for one
        assembled from parts); None when there is no object, or the store could not record it
        (a file system without extended attributes)."""
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        """Remove the object; nothing happens when there is none."""
        raise NotImplementedError

    async def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix + "/"``; return how many."""
        raise NotImplementedError

    # -- multipart uploads --------------------------------------------------------------------

    async def start_multipart(self, key: str) -> str:
        """Begin a multipart upload that will publish ``key``; return its upload id."""
        raise NotImplementedError

    async def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: AsyncIterable[bytes],
        *,
        max_size: int | None = None,
    ) -> Stored:
        """Store part ``part_number`` (1…10000) of the upload, as ``write`` stores an object
        (atomic, ``TooLarge`` past ``max_size``); writing a part again replaces it. Return its
        size and ETag (the part's MD5). ``UploadNotFound`` when the upload does not exist (or
        ended meanwhile)."""
        raise NotImplementedError

    async def part_sizes(self, key: str, upload_id: str) -> dict[int, int]:
        """The parts stored so far: part number → size. ``UploadNotFound`` as above."""
        raise NotImplementedError

    async def complete_multipart(self, key: str, upload_id: str, part_numbers: list[int]) -> int:
        """Publish ``key`` as the listed parts concatenated in order (streamed, never all in
        memory), then remove the upload and its parts; return the object's size.
        ``UploadNotFound`` for an unknown upload, ``NotFound`` when a listed part was never
        stored, ``PartTooSmall`` when a part but the last holds fewer than ``min_part_size``
        bytes, ``ValueError`` for an empty list or one out of ascending order."""
        raise NotImplementedError

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the upload and its parts. Idempotent: an unknown upload is no error."""
        raise NotImplementedError

    # -- transfer targets ---------------------------------------------------------------------

    def upload_target(self, key: str, *, expires_in: int, size: int | None = None) -> Transfer:
        """Where a client PUTs the bytes of ``key``, valid for ``expires_in`` seconds. Create-only:
        refused, changing nothing, once an object is under ``key``. With ``size``, a body of any
        other length is refused."""
        raise NotImplementedError

    def part_target(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: int,
        max_size: int | None = None,
    ) -> Transfer:
        """Where a client PUTs part ``part_number`` of a multipart upload; refused once the upload
        ended. With ``max_size``, a larger part is refused where the store can tell (dingstore's
        data plane; S3 bounds parts at 5 GiB itself)."""
        raise NotImplementedError

    def download_target(self, key: str, *, expires_in: int) -> Transfer:
        """Where a client GETs the bytes of ``key`` (HTTP ``Range`` honoured)."""
        raise NotImplementedError

    def link(self, key: str, *, expires_in: int, media_type: str) -> str:
        """A URL that GETs ``key`` for ``expires_in`` seconds with no header to send (a browser's
        ``<img src>``), answered with Content-Type ``media_type`` (dingstore's data plane:
        only those of ``signing.INLINE_TYPES``)."""
        raise NotImplementedError
