"""The access tokens of online editing: signed, never stored.

A token names one file of one space, one user of one org (and the app that asked for it),
whether it may write, when it expires and its own id; it is ``v1.<payload>.<signature>``, the
payload base64url JSON, the signature the HMAC-SHA256 of ``v1.<payload>`` under a sub-key of
the server's secret key (not the one of API tokens or the data plane). Any process of the
deployment checks what another signed. Refresh tokens are random, kept as their SHA-256 only
(store/wopi.py), each exchanged once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from dingstore import errors

VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Grant:
    """What an access token allows: one file, for one user, until ``expires_at`` (ms)."""

    corp_id: str
    app_id: str
    union_id: str
    space_id: int
    dentry_id: int
    can_write: bool
    expires_at: int
    token_id: str


def new_token_id() -> str:
    return secrets.token_hex(16)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


class Signer:
    def __init__(self, secret_key: str) -> None:
        self._key = hmac.new(secret_key.encode(), b"dingstore-wopi", hashlib.sha256).digest()

    def _signature(self, signed: str) -> str:
        return hmac.new(self._key, signed.encode(), hashlib.sha256).hexdigest()

    def sign(self, grant: Grant) -> str:
        """The access token carrying ``grant``."""
        payload = {
            "c": grant.corp_id,
            "a": grant.app_id,
            "u": grant.union_id,
            "s": grant.space_id,
            "d": grant.dentry_id,
            "w": grant.can_write,
            "e": grant.expires_at,
            "j": grant.token_id,
        }
        raw = json.dumps(payload, separators=(",", ":")).encode()
        signed = f"{VERSION}.{base64.urlsafe_b64encode(raw).decode().rstrip('=')}"
        return f"{signed}.{self._signature(signed)}"

    def verify(self, token: str | None, now: int, *, expired_ok: bool = False) -> Grant:
        """The grant a genuine token carries; 401 ``wopiInvalidToken`` for anything else, or for
        one past its expiry (unless ``expired_ok``: a refresh presents the expired one)."""
        if not token or len(token) > 4096:
            raise errors.WOPI_INVALID_TOKEN.error("no access token")
        signed, _, signature = token.rpartition(".")
        version, _, body = signed.partition(".")
        if version != VERSION or not hmac.compare_digest(
            signature.encode(), self._signature(signed).encode()
        ):
            raise errors.WOPI_INVALID_TOKEN.error("the access token is not one this server signed")
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
            grant = Grant(
                corp_id=str(data["c"]),
                app_id=str(data["a"]),
                union_id=str(data["u"]),
                space_id=int(data["s"]),
                dentry_id=int(data["d"]),
                can_write=bool(data["w"]),
                expires_at=int(data["e"]),
                token_id=str(data["j"]),
            )
        except (ValueError, KeyError, TypeError, binascii.Error):  # signed by us: not expected
            raise errors.WOPI_INVALID_TOKEN.error("the access token is malformed") from None
        if grant.expires_at <= now and not expired_ok:
            raise errors.WOPI_INVALID_TOKEN.error("the access token has expired")
        return grant
