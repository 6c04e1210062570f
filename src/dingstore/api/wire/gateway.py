"""Stream mode's connection call (``shared/spec/events.md`` §2.1), as the ``dingtalk-stream``
SDKs send it."""

from __future__ import annotations

from pydantic import Field

from dingstore.api.schemas import Wire


class Subscription(Wire):
    type: str = ""  # EVENT or CALLBACK
    topic: str = ""  # "*" for EVENT


class OpenConnectionRequest(Wire):
    client_id: str  # the appKey, or a suite's suiteKey
    client_secret: str
    subscriptions: list[Subscription] = Field(default_factory=list)
    ua: str | None = None
    local_ip: str | None = None


class OpenConnectionResponse(Wire):
    endpoint: str  # ws:// or wss://, no query: the client adds ``?ticket=``
    ticket: str
