"""Making and checking secrets.

App and suite secrets are 256-bit random strings, so one SHA-256 is enough to store them safely:
a slow password hash guards guessable passwords, and these cannot be guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string

_ALNUM = string.ascii_lowercase + string.digits


def random_id(prefix: str = "", length: int = 16) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def matches(secret: str, stored_digest: str | None) -> bool:
    return stored_digest is not None and hmac.compare_digest(digest(secret), stored_digest)


def derive(key: str, purpose: str) -> str:
    """A value only the holder of ``key`` can compute: HMAC-SHA256, 32 hex characters."""
    return hmac.new(key.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:32]
