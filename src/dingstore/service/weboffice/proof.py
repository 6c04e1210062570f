"""Proof keys: the office server signs each WOPI call with its RSA key, and the host checks
the signature with the public key of the discovery (``X-WOPI-Proof``, ``X-WOPI-ProofOld``,
``X-WOPI-TimeStamp``), so that only that office server can use a token it was given.

What is signed: the access token, the call's URL upper-cased and the timestamp, each preceded
by its length (4 bytes, big-endian), the timestamp as 8 big-endian bytes of .NET ticks. The
signature is RSASSA-PKCS1-v1_5 with SHA-256, checked here with Python's integers (no
cryptography package needed: only the public operation). A call is accepted when the proof
holds under the current key, ``ProofOld`` under the current key, or the proof under the old key
(a key rotation in progress), and its timestamp is at most 20 minutes old.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping

from dingstore.service.weboffice.discovery import Discovery, ProofKey

MAX_AGE_MS = 20 * 60 * 1000
_EPOCH_TICKS = 621_355_968_000_000_000  # .NET ticks (100 ns since year 1) at the Unix epoch
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def ticks(ms: int) -> int:
    """.NET ticks of an epoch-milliseconds time."""
    return _EPOCH_TICKS + ms * 10_000


def message(token: str, url: str, timestamp: int) -> bytes:
    """The bytes a proof signs."""
    t, u = token.encode(), url.upper().encode()
    return b"".join(
        (
            len(t).to_bytes(4, "big"),
            t,
            len(u).to_bytes(4, "big"),
            u,
            (8).to_bytes(4, "big"),
            timestamp.to_bytes(8, "big", signed=False),
        )
    )


def verify(key: ProofKey, signed: bytes, signature_b64: str | None) -> bool:
    """Whether ``signature_b64`` is ``key``'s PKCS#1 v1.5 SHA-256 signature of ``signed``."""
    if not signature_b64:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return False
    size = (key.modulus.bit_length() + 7) // 8
    value = int.from_bytes(signature, "big")
    if len(signature) != size or value >= key.modulus:
        return False
    decoded = pow(value, key.exponent, key.modulus).to_bytes(size, "big")
    info = _SHA256_PREFIX + hashlib.sha256(signed).digest()
    if size < len(info) + 11:
        return False
    expected = b"\x00\x01" + b"\xff" * (size - len(info) - 3) + b"\x00" + info
    return hmac.compare_digest(decoded, expected)


def holds(
    discovery: Discovery, token: str, url: str, headers: Mapping[str, str], now_ms: int
) -> bool:
    """Whether the call's proof holds (always, when the discovery publishes no key)."""
    key = discovery.proof_key
    if key is None:
        return True
    stamp = headers.get("x-wopi-timestamp", "")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 19):
        return False
    timestamp = int(stamp)
    if abs(now_ms - (timestamp - _EPOCH_TICKS) // 10_000) > MAX_AGE_MS:
        return False
    signed = message(token, url, timestamp)
    proof, old = headers.get("x-wopi-proof"), headers.get("x-wopi-proofold")
    if verify(key, signed, proof) or verify(key, signed, old):
        return True
    return discovery.old_proof_key is not None and verify(discovery.old_proof_key, signed, proof)
