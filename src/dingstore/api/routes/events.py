"""Change events (spec §6 J): SubscribeEvent, UnsubscribeEvent; and the pull feed, dingstore's
own (not a DingTalk operation: docs/events.md#the-pull-feed)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, Query, Request

from dingstore.api import responses
from dingstore.api.routing import AppCaller, Caller, api_router, app_operation, operation, services
from dingstore.api.wire import common
from dingstore.api.wire import events as wire

router = api_router("/v1.0/storage/events", tags=["events"])

SCOPE = "Storage.Event.Write"


@router.post("/subscribe", response_model=common.Success, name="SubscribeEvent")
async def subscribe_event(
    request: Request,
    body: Annotated[wire.EventScopeRequest, Body()],
    caller: Caller = operation("SubscribeEvent", SCOPE),
) -> responses.JSON:
    await services(request).subscriptions.subscribe(caller, body.scope, body.scope_id)
    return responses.ok(common.Success())


@router.post("/unsubscribe", response_model=common.Success, name="UnsubscribeEvent")
async def unsubscribe_event(
    request: Request,
    body: Annotated[wire.EventScopeRequest, Body()],
    caller: Caller = operation("UnsubscribeEvent", SCOPE),
) -> responses.JSON:
    await services(request).subscriptions.unsubscribe(caller, body.scope, body.scope_id)
    return responses.ok(common.Success())


@router.get("", response_model=wire.PullEventsResponse, name="PullEvents")
async def pull_events(
    request: Request,
    query: Annotated[wire.PullEventsQuery, Query()],
    caller: AppCaller = app_operation("PullEvents", SCOPE),
) -> responses.JSON:
    page = await services(request).feed.read(
        caller,
        cursor=query.cursor,
        max_results=query.max_results,
        wait_seconds=query.wait_seconds,
    )
    return responses.ok(
        wire.PullEventsResponse(
            events=[wire.Event.model_validate(event) for event in page.events],
            cursor=page.cursor,
            has_more=page.has_more,
        )
    )
