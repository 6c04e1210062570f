"""``--checksum``: is a local file the same as a remote one? Compared by the MD5 the blob store
keeps of each file (the ETag of its download): a file sent in one PUT has the MD5 of its bytes,
one sent in N parts the MD5 of its parts' MD5s, then ``-N`` (S3's and OSS's rule); the local
side is hashed the same way, with the part size the client uses for a file of that size."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

from dingstore.client import Client, models
from dingstore.client.transfers import part_size_for

CHUNK = 1024 * 1024
MiB = 1024 * 1024
PART_SIZE = 16 * MiB
"""The part size the file commands give their client (``session.run_async``)."""
MULTIPART_THRESHOLD = 64 * MiB


def _md5_of(path: Path, offset: int, length: int) -> bytes:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as file:
        file.seek(offset)
        left = length
        while left > 0:
            chunk = file.read(min(CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
    return digest.digest()


def local_etag(path: Path, parts: int, part_size: int = PART_SIZE) -> str:
    """The ETag a store gives ``path``'s bytes when they were sent in ``parts`` parts (1: one
    PUT), each but the last of the size the client chose for a file that big."""
    size = path.stat().st_size
    if parts <= 1:
        return _md5_of(path, 0, size).hex()
    # The client's rule for the size of a part; another client may have used another size,
    # and then parts of equal size (the last one shorter) are the best guess.
    part_size = part_size_for(size, part_size)
    if math.ceil(size / part_size) != parts:
        part_size = math.ceil(size / parts)
    digests = []
    for offset in range(0, size, part_size):
        digests.append(_md5_of(path, offset, min(part_size, size - offset)))
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def parts_of(etag: str) -> int:
    """How many parts an ETag says its object was sent in (1 for a plain MD5)."""
    _, dash, count = etag.partition("-")
    return int(count) if dash and count.isdigit() else 1


def unchanged(c: Client, local: Path, remote: models.Dentry, checksum: bool) -> bool:
    """Whether a transfer between ``local`` and ``remote`` can be skipped: both are files of
    the same size, and with ``checksum`` of the same MD5 (put's and get's resume rule)."""
    if remote.is_folder or not local.is_file() or remote.size != local.stat().st_size:
        return False
    return not checksum or same(c, local, remote)


def same(c: Client, local: Path, remote: models.Dentry) -> bool:
    """Whether ``local`` holds the bytes of the file ``remote`` (sizes are compared first)."""
    if remote.size != local.stat().st_size:
        return False
    etag = c.checksum(remote)
    if etag is None:
        return False  # the store kept no MD5: the file is sent again
    return local_etag(local, parts_of(etag), c.transfers.part_size) == etag
