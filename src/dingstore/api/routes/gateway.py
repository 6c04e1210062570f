"""DingTalk's Stream mode (``shared/spec/events.md`` §2): ``POST
/v1.0/gateway/connections/open`` hands a client a WebSocket endpoint and a ticket, and the
WebSocket at ``STREAM_PATH`` carries the frames. Neither takes an access token; the open call
checks the clientId and clientSecret (``service/events/gateway.py``), the handshake the ticket.
The connection's life is ``StreamHub.serve``'s (``service/events/stream.py``); this module only
adapts the WebSocket to it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Body, Request, WebSocket
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocketDisconnect

from dingstore import errors
from dingstore.api import responses
from dingstore.api.middleware import new_request_id
from dingstore.api.routing import api_router, services
from dingstore.api.wire import gateway as wire
from dingstore.service.events import gateway, stream
from dingstore.settings import Settings

STREAM_PATH = "/v1.0/gateway/connect"

router = api_router("/v1.0/gateway", tags=["stream"])


@router.post("/connections/open", response_model=wire.OpenConnectionResponse, name="OpenConnection")
async def open_connection(
    body: Annotated[wire.OpenConnectionRequest, Body()],
    request: Request,
) -> responses.JSON:
    events = gateway.wants_events(s.model_dump() for s in body.subscriptions)
    ticket = await services(request).stream.open(body.client_id, body.client_secret, events=events)
    endpoint = _endpoint(request, request.app.state.settings)
    return responses.ok(wire.OpenConnectionResponse(endpoint=endpoint, ticket=ticket))


def _endpoint(request: Request, settings: Settings) -> str:
    """The WebSocket's URL: under ``DINGSTORE_PUBLIC_URL`` when it is set, else under the
    address the client reached (its ``Host``), ``ws`` for ``http`` and ``wss`` for ``https``."""
    if settings.public_url:
        base = settings.public_url.rstrip("/")
    else:
        host = request.headers.get("host", "")
        if not host or any(c in host for c in "/?#@ \\"):
            base = settings.resolved_public_url
        else:
            base = f"{request.url.scheme}://{host}"
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{STREAM_PATH}"


async def stream_connection(websocket: WebSocket) -> None:
    hub = services(websocket).stream
    try:
        client = await hub.admit(websocket.query_params.get("ticket", ""))
    except errors.DingstoreError as exc:  # refused with DingTalk's error body, before the upgrade
        await websocket.send_denial_response(responses.error(exc, new_request_id()))
        return
    await websocket.accept()
    await hub.serve(client, _Link(websocket), _messages(websocket))


class _Link:
    """The WebSocket as ``stream.Link``."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket

    async def send(self, text: str) -> None:
        try:
            await self._websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            raise stream.LinkClosed(str(exc)) from None

    async def close(self, code: int) -> None:
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self._websocket.close(code)


async def _messages(websocket: WebSocket) -> AsyncIterator[str | bytes]:
    """The client's messages until it closes (or the connection is lost)."""
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        yield text if text is not None else message.get("bytes") or b""


router.routes.append(WebSocketRoute(STREAM_PATH, stream_connection, name="StreamConnection"))
