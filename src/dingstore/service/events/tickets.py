"""Stream-mode tickets: what ``POST /v1.0/gateway/connections/open`` hands out and the WebSocket
handshake presents (``?ticket=``).

A ticket is *signed*, not stored: it carries the client's identity (appKey or suiteKey), whether
the client subscribed to EVENT frames, its expiry and a random nonce, and ends with an HMAC of
all that under the server's secret key. So any ``serve`` process behind one address can check a
ticket that another process issued, with no table and no round trip; DingTalk's own tickets are
opaque too, and the SDK only passes it back.

Shape: ``{nonce uuid}-{expiry, hex ms}-{flags, hex}-{client id, hex of its UTF-8}-{mac}``, only
``[0-9a-f-]`` so the SDK's ``quote_plus`` never changes it. Valid ``TTL_MS`` (90 s, as DingTalk
documents) and for one connection: ``Redeemed`` remembers the nonces a process has admitted until
they expire. That memory is per process: behind a balancer that spreads one client's handshakes
over several processes, a stolen ticket could open one more connection per process within its
90 s. It grants no more than the appSecret that obtained it did, and each such connection is an
ordinary one of the app (events go to one connection at a time whatever their number).
"""

from __future__ import annotations

import hmac
import uuid
from dataclasses import dataclass

from dingstore.service import credentials

TTL_MS = 90_000
EVENTS = 1  # the client subscribed to EVENT frames
SUITE = 2  # the client id is a suiteKey, not an appKey
_PURPOSE = "stream-ticket:"


@dataclass(frozen=True, slots=True)
class Ticket:
    nonce: str
    expires_at: int
    client_id: str
    events: bool
    suite: bool


def issue(key: str, *, client_id: str, events: bool, suite: bool, now: int) -> str:
    """A new signed ticket for ``client_id``, valid ``TTL_MS`` from ``now``."""
    flags = (EVENTS if events else 0) | (SUITE if suite else 0)
    body = f"{uuid.uuid4()}-{now + TTL_MS:x}-{flags:x}-{client_id.encode().hex()}"
    return f"{body}-{credentials.derive(key, _PURPOSE + body)}"


def verify(key: str, ticket: str, now: int) -> Ticket | None:
    """The ticket's contents if ``key`` signed it and it has not expired at ``now``; else None."""
    body, _, mac = ticket.rpartition("-")
    expected = credentials.derive(key, _PURPOSE + body)
    if not body or not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    parts = body.split("-")
    if len(parts) != 8:
        return None
    try:
        expires_at, flags = int(parts[5], 16), int(parts[6], 16)
        client_id = bytes.fromhex(parts[7]).decode()
    except ValueError:  # UnicodeDecodeError included
        return None
    if expires_at <= now:
        return None
    nonce = "-".join(parts[:5])
    return Ticket(nonce, expires_at, client_id, bool(flags & EVENTS), bool(flags & SUITE))


class Redeemed:
    """The nonces of the tickets this process admitted, each kept until its ticket expires, so a
    ticket opens one connection."""

    def __init__(self) -> None:
        self._until: dict[str, int] = {}

    def redeem(self, ticket: Ticket, now: int) -> bool:
        """True the first time ``ticket`` is redeemed (before it expires), False after."""
        if len(self._until) > 1024:
            self._until = {n: t for n, t in self._until.items() if t > now}
        if ticket.nonce in self._until:
            return False
        self._until[ticket.nonce] = ticket.expires_at
        return True
