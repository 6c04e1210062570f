"""Change events (spec §6 J): SubscribeEvent, UnsubscribeEvent, and dingstore's pull feed."""

from __future__ import annotations

from typing import Annotated

from dingstore.api.schemas import Int64, Wire, one_of
from dingstore.service.events import subscriptions


class EventScopeRequest(Wire):
    """The body of SubscribeEvent and UnsubscribeEvent."""

    scope: Annotated[str, one_of(subscriptions.SCOPES)]
    scope_id: str


class PullEventsQuery(Wire):
    cursor: str | None = None
    max_results: Int64 | None = None
    wait_seconds: Int64 | None = None


class Event(Wire):
    """One event: the Stream frame's headers and the business fields of its ``data``, flat."""

    event_id: str
    event_type: str
    event_born_time: int
    corp_id: str
    space_id: str
    dentry_id: str
    type: str
    extension: str
    union_id: str
    event_scope: str
    event_scope_id: str
    dingstore_seq: int
    dingstore_action: str


class PullEventsResponse(Wire):
    events: list[Event]
    cursor: str
    has_more: bool
