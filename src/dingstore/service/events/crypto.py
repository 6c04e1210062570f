"""DingTalk's callback encryption, as HTTP push speaks it (``shared/spec/events.md`` §3).

A push is ``POST {url}?msg_signature=S&signature=S&timestamp=T&nonce=N`` with the body
``{"encrypt": "<base64>"}``:

* ``key = base64decode(aesKey + "=")``, decoded leniently (most keys, DingTalk's test key too,
  have non-zero trailing bits); AES-256-CBC with IV = the key's first 16 bytes;
* plaintext = 16 random ASCII characters + the message's UTF-8 length (4 bytes, big-endian) +
  the message + the owner key (the app's appKey), padded by hand (PKCS#7) to a multiple of
  **32** bytes;
* ``S = sha1_hex("".join(sorted([token, T, N, encrypt])))``.

The receiver answers 2xx with a JSON body whose ``encrypt`` decrypts to exactly ``success``
(:meth:`CallbackCrypto.check_reply`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
import string
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

AES_KEY = re.compile(r"[A-Za-z0-9]{43}")
BLOCK = 32  # DingTalk pads to 32 bytes, not AES's 16
ALPHANUMERIC = string.ascii_letters + string.digits
SUCCESS = "success"


class CryptoError(Exception):
    """An encrypted message or a reply that does not decrypt, or does not check out; the
    message says why, in a few words (it goes to the delivery log)."""


def valid_aes_key(aes_key: str) -> bool:
    """Whether ``aes_key`` is a callback key as DingTalk issues them: 43 of ``[A-Za-z0-9]``."""
    return AES_KEY.fullmatch(aes_key) is not None


def random_text(length: int) -> str:
    """``length`` random characters of ``[A-Za-z0-9]`` (nonces, the plaintext's prefix). One
    read of the OS's randomness, not one per character (``secrets.choice`` cost a fifth of a
    push); the slight bias of ``% 62`` matters to neither use."""
    return "".join([ALPHANUMERIC[b % 62] for b in secrets.token_bytes(length)])


def signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """``sha1_hex`` of the four values sorted and joined, as DingTalk signs a callback."""
    joined = "".join(sorted([token, timestamp, nonce, encrypt]))
    return hashlib.sha1(joined.encode()).hexdigest()


class CallbackCrypto:
    """The callback cipher of one app: its ``token``, its 43-character ``aes_key`` and its
    owner key (the appKey) that closes every plaintext."""

    def __init__(self, token: str, aes_key: str, owner_key: str) -> None:
        if not valid_aes_key(aes_key):
            raise ValueError("the aesKey must be 43 characters of [A-Za-z0-9]")
        self.token = token
        self.owner_key = owner_key
        # Lenient: binascii ignores non-zero trailing bits (strict_mode is off by default).
        self.key = base64.b64decode(aes_key + "=")
        self.iv = self.key[:16]
        self._algorithm, self._mode = algorithms.AES(self.key), modes.CBC(self.iv)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(self._algorithm, self._mode)

    def encrypt(self, message: str, *, prefix: str | None = None) -> str:
        """``message`` encrypted, as base64 without line breaks; ``prefix`` (16 ASCII
        characters) is random unless a test gives it."""
        body = message.encode()
        prefix_bytes = (prefix if prefix is not None else random_text(16)).encode("ascii")
        if len(prefix_bytes) != 16:
            raise ValueError("the prefix must be 16 ASCII characters")
        plain = prefix_bytes + len(body).to_bytes(4, "big") + body + self.owner_key.encode()
        pad = BLOCK - len(plain) % BLOCK  # 1..32
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")

    def decrypt(self, encrypt: str) -> tuple[str, str]:
        """``(message, owner key)`` of an ``encrypt`` value; whitespace inside the base64 is
        ignored (DingTalk's Python helper breaks its lines). Raises :class:`CryptoError`."""
        try:
            raw = base64.b64decode("".join(encrypt.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CryptoError("encrypt is not base64") from exc
        if not raw or len(raw) % 16:
            raise CryptoError("encrypt is not whole AES blocks")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(raw) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
            raise CryptoError("bad padding (wrong aesKey?)")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise CryptoError("plaintext too short")
        length = int.from_bytes(plain[16:20], "big")
        if 20 + length > len(plain):
            raise CryptoError("bad message length (wrong aesKey?)")
        try:
            message = plain[20 : 20 + length].decode()
            owner = plain[20 + length :].decode()
        except UnicodeDecodeError as exc:
            raise CryptoError("plaintext is not UTF-8 (wrong aesKey?)") from exc
        return message, owner

    def signature(self, timestamp: str, nonce: str, encrypt: str) -> str:
        return signature(self.token, timestamp, nonce, encrypt)

    def seal(self, message: str, timestamp: str, nonce: str) -> tuple[dict[str, str], bytes]:
        """What a push sends: its query (``msg_signature`` and ``signature``, ``timestamp``,
        ``nonce``) and its JSON body ``{"encrypt": ...}``."""
        encrypt = self.encrypt(message)
        sig = self.signature(timestamp, nonce, encrypt)
        query = {"msg_signature": sig, "signature": sig, "timestamp": timestamp, "nonce": nonce}
        return query, json.dumps({"encrypt": encrypt}, separators=(",", ":")).encode()

    def reply(self, message: str, timestamp: str, nonce: str) -> dict[str, str]:
        """A receiver's answer carrying ``message`` (``success``), as DingTalk's helpers make
        it: for tests and ``check_url`` fixtures."""
        encrypt = self.encrypt(message)
        return {
            "msg_signature": self.signature(timestamp, nonce, encrypt),
            "timeStamp": timestamp,
            "nonce": nonce,
            "encrypt": encrypt,
        }

    def check_reply(self, body: bytes) -> None:
        """Raise :class:`CryptoError` unless ``body`` is a correct encrypted ``success``: a JSON
        object with ``msg_signature``, ``timeStamp`` (or ``timestamp``), ``nonce`` and
        ``encrypt``; the signature over ``encrypt`` exactly as received; the owner key the
        appKey; the message exactly ``success``. The timestamp and nonce need not match the
        request's, nor the timestamp be in milliseconds (official helpers send seconds)."""
        try:
            reply: Any = json.loads(body)
        except ValueError as exc:
            raise CryptoError("reply is not JSON") from exc
        if not isinstance(reply, dict):
            raise CryptoError("reply is not a JSON object")
        timestamp = reply.get("timeStamp", reply.get("timestamp"))
        fields = (reply.get("msg_signature"), timestamp, reply.get("nonce"), reply.get("encrypt"))
        if not all(isinstance(f, str | int) and not isinstance(f, bool) for f in fields):
            raise CryptoError("reply lacks msg_signature, timeStamp, nonce or encrypt")
        sig, stamp, nonce, encrypt = (str(f) for f in fields)
        if not secrets.compare_digest(sig.lower(), self.signature(stamp, nonce, encrypt)):
            raise CryptoError("bad signature")
        message, owner = self.decrypt(encrypt)
        if owner != self.owner_key:
            raise CryptoError("reply is for another owner key")
        if message != SUCCESS:
            raise CryptoError(f"reply is {message[:32]!r}, not 'success'")
