"""Stream mode's front door: ``POST /v1.0/gateway/connections/open`` checks a client's
credentials and hands out a ticket (``tickets.py``); the WebSocket handshake redeems it.

A client is an internal app (clientId = appKey, clientSecret = appSecret) or a third-party suite
(suiteKey, suiteSecret), checked exactly as ``POST /v1.0/oauth2/accessToken`` and
``corpAccessToken`` check them (``tokens.check_app`` / ``check_suite``). A suite's connection
carries the events of every org that authorized it, as its apps there (one per org), resolved
when the connection opens: an org that authorizes the suite later is served from the suite's
next connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dingstore import errors
from dingstore.clock import Clock
from dingstore.service import tokens
from dingstore.service.events import tickets
from dingstore.store import base, identity


@dataclass(frozen=True, slots=True)
class Consumer:
    """Whose events a connection carries: one app in one org."""

    corp_id: str
    app_id: str


@dataclass(frozen=True, slots=True)
class Client:
    """An admitted connection's identity: its clientId, the apps it consumes for, and whether it
    subscribed to EVENT frames (only such connections get events)."""

    client_id: str
    consumers: tuple[Consumer, ...]
    events: bool

    @property
    def corp_ids(self) -> list[str]:
        return sorted({c.corp_id for c in self.consumers})

    @property
    def app_ids(self) -> list[str]:
        return sorted({c.app_id for c in self.consumers})


def wants_events(subscriptions: Iterable[Any]) -> bool:
    """Whether a client's ``subscriptions`` hold ``{"type": "EVENT", "topic": "*"}``, which the
    SDKs send only when an event handler is registered."""
    return any(
        isinstance(s, Mapping) and s.get("type") == "EVENT" and s.get("topic") == "*"
        for s in subscriptions
    )


class Gateway:
    def __init__(self, db: base.BaseDatabase, *, secret_key: str, clock: Clock) -> None:
        self._db = db
        self._key = secret_key
        self._clock = clock
        self._redeemed = tickets.Redeemed()

    async def open(self, client_id: str, client_secret: str, *, events: bool) -> str:
        """A ticket for one connection within 90 s, after checking the credentials: an appKey
        and appSecret, or a suiteKey and suiteSecret. 400 ``invalidClientIdOrSecret`` when
        neither matches."""
        async with self._db.read() as conn:
            try:
                await tokens.check_app(conn, client_id, client_secret)
                suite = False
            except errors.BadRequest:
                try:
                    await tokens.check_suite(conn, client_id, client_secret)
                except errors.BadRequest:
                    raise errors.INVALID_CLIENT_ID_OR_SECRET.error(
                        "invalid clientId or clientSecret"
                    ) from None
                suite = True
        now = self._clock.now_ms()
        return tickets.issue(self._key, client_id=client_id, events=events, suite=suite, now=now)

    async def admit(self, ticket: str) -> Client:
        """The client a ticket was issued to, redeeming the ticket; 400
        ``invalidAuthentication`` for a ticket that is forged, expired or already used, or
        whose app has since been disabled (or whose suite no org authorizes any longer)."""
        now = self._clock.now_ms()
        found = tickets.verify(self._key, ticket, now)
        if found is None or not self._redeemed.redeem(found, now):
            raise errors.INVALID_AUTHENTICATION.error("invalid, expired or used ticket")
        async with self._db.read() as conn:
            if found.suite:
                rows = await identity.suite_apps(conn, found.client_id)
            else:
                app = await identity.get_app_by_key(conn, found.client_id)
                rows = [] if app is None or app.disabled else [app]
        if not rows:
            raise errors.INVALID_AUTHENTICATION.error("the ticket's app is gone")
        consumers = tuple(Consumer(r.corp_id, r.app_id) for r in rows)
        return Client(found.client_id, consumers, found.events)
