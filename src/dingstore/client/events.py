"""Change events (docs/events.md): subscriptions, and dingstore's pull feed as an iterator."""

from __future__ import annotations

import dataclasses
from typing import Literal

from dingstore.client import flows, models
from dingstore.client.bind import listing, operation
from dingstore.client.spaces import Spaces

FEED_WAIT = 25
"""Seconds the feed holds a request open when it has nothing new (at most 30)."""


class Events(Spaces):
    def _scope(self, space: models.Target | None) -> flows.Flow[dict[str, str]]:
        if space is None:
            corp_id = yield from self._corp_id()
            return {"scope": "ORG", "scopeId": corp_id}
        return {"scope": "SPACE", "scopeId": models.node(space).space_id}

    @operation
    def subscribe(self, space: models.Target | None = None) -> flows.Flow[None]:
        """Have the app hear the changes of ``space`` (None: of the whole org, which needs an
        org admin as operator) (SubscribeEvent); they then show in ``events()``."""
        body = yield from self._scope(space)
        yield from self._session.call("POST", "/v1.0/storage/events/subscribe", body=body)

    @operation
    def unsubscribe(self, space: models.Target | None = None) -> flows.Flow[None]:
        """Stop hearing the changes of ``space`` (None: the org) (UnsubscribeEvent)."""
        body = yield from self._scope(space)
        yield from self._session.call("POST", "/v1.0/storage/events/unsubscribe", body=body)

    @listing
    def events(
        self,
        cursor: str | Literal["latest"] | None = None,
        *,
        follow: bool = False,
        page_size: int = 100,
        wait_seconds: int = FEED_WAIT,
    ) -> flows.Pages[models.Event]:
        """The app's change events after ``cursor`` (None: the oldest kept; ``"latest"``: only
        those still to come), oldest first, from the pull feed. Without ``follow`` the
        iteration ends when the feed has nothing more; with it, it goes on for ever, each
        request waiting up to ``wait_seconds`` for a new event (the feed's long poll). Each
        event carries the ``cursor`` to read on from (see ``models.Event``)."""

        def page(token: str | None) -> flows.Flow[flows.Page[models.Event]]:
            at = cursor if token is None else token
            hold = wait_seconds if follow else 0
            answer = yield from self._session.call(
                "GET",
                "/v1.0/storage/events",
                params={"cursor": at, "maxResults": page_size, "waitSeconds": hold or None},
                operator=False,
                timeout=hold + 30 if hold else None,
            )
            events = answer.get("events") or []
            next_cursor = str(answer["cursor"])
            items = [
                dataclasses.replace(
                    models.read(models.Event, event),
                    cursor=next_cursor,
                    last_in_page=n == len(events) - 1,
                )
                for n, event in enumerate(events)
            ]
            more = follow or bool(answer.get("hasMore"))
            return flows.Page(items, next_cursor if more else None)

        return page
