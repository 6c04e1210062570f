"""Signed transfers through dingstore's own data plane (``/_blobs/{key}``).

DingTalk's transfer protocol is HEADER_SIGNATURE: GetFileUploadInfo (or GetFileDownloadInfo)
returns a URL and headers, and the client sends *every* header with its PUT (or GET). The stores
whose bytes pass through dingstore (local files, memory) sign with these headers::

    Authorization: DINGSTORE-HMAC-SHA256 <signature>
    x-dingstore-expires: <unix seconds>

``<signature>`` is the hex HMAC-SHA256 of ``METHOD \\n PATH \\n QUERY \\n EXPIRES``, where PATH is
the path inside the app (``/_blobs/<key>``, so that a public URL with a path prefix behind a
proxy signs the same), QUERY the query parameters sorted and URL-encoded, and the HMAC key a
sub-key of the server's secret key: not the key that derives access tokens. Any process of a
deployment (same secret key) can check what another signed. A size declared for an upload rides
in the query (``size``, ``maxSize``), hence is signed too.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from typing import ClassVar
from urllib.parse import quote, urlencode

from dingstore import errors
from dingstore.blobs import base
from dingstore.clock import SYSTEM, Clock

PATH_PREFIX = "/_blobs/"
SCHEME = "DINGSTORE-HMAC-SHA256"
AUTHORIZATION = "authorization"
EXPIRES = "x-dingstore-expires"
# Query parameters of upload targets, signed like the rest of the query: the exact size of a
# single PUT's body, the largest a part's may be.
SIZE = "size"
MAX_SIZE = "maxSize"
# The query-string form of the signature, for a plain link (``SelfServed.link``): never part of
# what is signed.
SIGNATURE = "x-dingstore-signature"
SIGNATURE_PARAMS = frozenset({EXPIRES, SIGNATURE})
# The Content-Type a link's GET answers with (signed into it, as S3's ``response-content-type``);
# only these are served, anything else as application/octet-stream.
CONTENT_TYPE = "response-content-type"
INLINE_TYPES = frozenset({"image/jpeg", "image/png"})

Query = Mapping[str, str] | Iterable[tuple[str, str]]

_AUTHORIZATION = re.compile(rf"{SCHEME} ([0-9a-f]{{64}})")


class SignatureError(Exception):
    """A data-plane request whose signature does not hold; ``error_code`` is OSS's answer."""

    error_code: ClassVar[errors.ErrorCode[errors.Forbidden]] = errors.ACCESS_DENIED

    @property
    def code(self) -> str:
        return self.error_code.code


class SignatureMissing(SignatureError):
    """No signature headers, or headers not in the shape dingstore issues."""


class SignatureMismatch(SignatureError):
    """Signed for another method, path, query or expiry, or with another key."""

    error_code = errors.SIGNATURE_DOES_NOT_MATCH


class SignatureExpired(SignatureError):
    """A genuine signature, past its expiry."""

    error_code = errors.REQUEST_TIME_TOO_SKEWED


def _canonical_query(query: Query | None) -> str:
    if query is None:
        return ""
    pairs = query.items() if isinstance(query, Mapping) else query
    kept = sorted((k, v) for k, v in pairs if k.lower() not in SIGNATURE_PARAMS)
    return urlencode(kept, quote_via=quote, safe="")


class Signer:
    def __init__(self, secret_key: str, *, clock: Clock = SYSTEM) -> None:
        self._key = hmac.new(secret_key.encode(), b"dingstore-blobs", hashlib.sha256).digest()
        self.clock = clock

    def _signature(self, method: str, path: str, query: Query | None, expires: int) -> str:
        message = f"{method.upper()}\n{path}\n{_canonical_query(query)}\n{expires}"
        return hmac.new(self._key, message.encode(), hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, query: Query | None, expires_in: int) -> dict[str, str]:
        """The headers that authorize ``method path?query`` for ``expires_in`` seconds."""
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        expires = self.clock.now_ms() // 1000 + expires_in
        signature = self._signature(method, path, query, expires)
        return {"Authorization": f"{SCHEME} {signature}", EXPIRES: str(expires)}

    def sign_query(
        self, method: str, path: str, query: list[tuple[str, str]], expires_in: int
    ) -> list[tuple[str, str]]:
        """``query`` and the signature as query parameters: a URL that needs no headers (an
        ``<img src>``)."""
        headers = self.sign(method, path, query, expires_in)
        signature = headers["Authorization"].removeprefix(f"{SCHEME} ")
        return [*query, (EXPIRES, headers[EXPIRES]), (SIGNATURE, signature)]

    def verify(
        self, method: str, path: str, query: Query | None, headers: Mapping[str, str]
    ) -> None:
        """Return when ``headers`` (or the signature parameters of ``query``) authorize ``method
        path?query`` now; raise a ``SignatureError`` saying why not otherwise."""
        lowered = {k.lower(): v for k, v in headers.items()}
        if AUTHORIZATION not in lowered and query is not None:
            pairs = query.items() if isinstance(query, Mapping) else query
            given = {k.lower(): v for k, v in pairs if k.lower() in SIGNATURE_PARAMS}
            if SIGNATURE in given:
                lowered = {AUTHORIZATION: f"{SCHEME} {given[SIGNATURE]}", **given}
        authorization, expires_text = lowered.get(AUTHORIZATION), lowered.get(EXPIRES)
        if authorization is None or expires_text is None:
            raise SignatureMissing(f"the request lacks the {AUTHORIZATION} and {EXPIRES} headers")
        matched = _AUTHORIZATION.fullmatch(authorization.strip())
        decimal = expires_text.isascii() and expires_text.isdigit() and len(expires_text) <= 19
        if matched is None or not decimal:
            raise SignatureMissing("the signature headers are malformed")
        expires = int(expires_text)
        expected = self._signature(method, path, query, expires)
        if not hmac.compare_digest(matched.group(1), expected):
            raise SignatureMismatch(
                "the request signature we calculated does not match the signature you provided"
            )
        if self.clock.now_ms() > expires * 1000:
            raise SignatureExpired("the signature has expired")


def _checked_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError(f"invalid size {size!r}")
    return size


class SelfServed(base.BaseBlobStore):
    """A store whose transfer targets are dingstore's own data plane, signed by ``signer``."""

    signer: Signer

    def __init__(self, signer: Signer, public_url: str) -> None:
        self.signer = signer
        self.public_url = public_url.rstrip("/")

    def _target(
        self, method: str, key: str, query: list[tuple[str, str]], expires_in: int
    ) -> base.Transfer:
        path = PATH_PREFIX + base.check_key(key)
        url = self.public_url + path + (f"?{urlencode(query)}" if query else "")
        return base.Transfer(url, self.signer.sign(method, path, query, expires_in), expires_in)

    def upload_target(self, key: str, *, expires_in: int, size: int | None = None) -> base.Transfer:
        query = [] if size is None else [(SIZE, str(_checked_size(size)))]
        return self._target("PUT", key, query, expires_in)

    def part_target(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        *,
        expires_in: int,
        max_size: int | None = None,
    ) -> base.Transfer:
        query = [
            ("uploadId", base.check_upload_id(upload_id)),
            ("partNumber", str(base.check_part_number(part_number))),
        ]
        if max_size is not None:
            query.append((MAX_SIZE, str(_checked_size(max_size))))
        return self._target("PUT", key, query, expires_in)

    def download_target(self, key: str, *, expires_in: int) -> base.Transfer:
        return self._target("GET", key, [], expires_in)

    def link(self, key: str, *, expires_in: int, media_type: str) -> str:
        path = PATH_PREFIX + base.check_key(key)
        query = self.signer.sign_query("GET", path, [(CONTENT_TYPE, media_type)], expires_in)
        return f"{self.public_url}{path}?{urlencode(query)}"
