"""Preview links: what a link to dingstore's preview page carries, signed and expiring.

A link is ``{public_url}/_preview/{token}``, ``token = claims.expires.signature``: ``claims`` is
the base64url of a JSON list (the link's id, org, app, operator, space, file, version, flags),
``expires`` the unix second the link dies at if nobody opened it (5 minutes after issue, spec
§6 K 42) and ``signature`` the data plane's HMAC (``blobs/signing.py``) of ``GET
/_preview/<claims>`` and ``expires``, with the same key: the paths differ, so a link's signature
is worth nothing on ``/_blobs/`` and the reverse. Issuing a link writes nothing; opening it
binds it to one browser session (``service/previews.py``).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from dataclasses import dataclass

from dingstore.blobs import signing

PATH_PREFIX = "/_preview/"
VERSION = 1


class LinkRefused(Exception):
    """A preview link that cannot be opened here, and why: ``invalid`` (not a link dingstore
    signed), ``expired`` (unused past its life, or its session over), ``elsewhere`` (opened in
    another browser session), ``unopened`` (content asked for before the page)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True, slots=True)
class Link:
    link_id: str
    corp_id: str
    app_id: str
    union_id: str
    space_id: int
    dentry_id: int
    version: int
    water_mark: bool
    check_login: bool

    @classmethod
    def new(cls, **fields: object) -> Link:
        return cls(link_id=secrets.token_hex(16), **fields)  # type: ignore[arg-type]

    def encode(self) -> str:
        values = [
            VERSION,
            self.link_id,
            self.corp_id,
            self.app_id,
            self.union_id,
            self.space_id,
            self.dentry_id,
            self.version,
            int(self.water_mark) | int(self.check_login) << 1,
        ]
        text = json.dumps(values, separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(text).rstrip(b"=").decode()

    @classmethod
    def decode(cls, claims: str) -> Link:
        padded = claims + "=" * (-len(claims) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(values, list) or len(values) != 9 or values[0] != VERSION:
            raise ValueError("not a preview link of this version")
        _, link_id, corp_id, app_id, union_id, space_id, dentry_id, version, flags = values
        return cls(
            link_id=str(link_id),
            corp_id=str(corp_id),
            app_id=str(app_id),
            union_id=str(union_id),
            space_id=int(space_id),
            dentry_id=int(dentry_id),
            version=int(version),
            water_mark=bool(flags & 1),
            check_login=bool(flags & 2),
        )


def sign(signer: signing.Signer, link: Link, expires_in: int) -> str:
    """The token of ``link``, dead ``expires_in`` seconds from now unless opened."""
    claims = link.encode()
    headers = signer.sign("GET", PATH_PREFIX + claims, None, expires_in)
    signature = headers["Authorization"].removeprefix(signing.SCHEME + " ")
    return f"{claims}.{headers[signing.EXPIRES]}.{signature}"


def verify(signer: signing.Signer, token: str) -> tuple[Link, bool]:
    """The link a token carries, and whether it is still within its unused life; raises
    ``LinkRefused("invalid")`` for anything dingstore did not sign."""
    claims, _, rest = token.partition(".")
    expires, _, signature = rest.partition(".")
    headers = {signing.AUTHORIZATION: f"{signing.SCHEME} {signature}", signing.EXPIRES: expires}
    fresh = True
    try:
        signer.verify("GET", PATH_PREFIX + claims, None, headers)
    except signing.SignatureExpired:  # raised only once the signature itself held
        fresh = False
    except signing.SignatureError:
        raise LinkRefused("invalid", "this is not a preview link dingstore issued") from None
    try:
        return Link.decode(claims), fresh
    except (ValueError, TypeError, binascii.Error):  # signed, so never, unless the format moved
        raise LinkRefused("invalid", "this preview link is of another format") from None
