"""The frames of DingTalk's Stream protocol (``shared/spec/events.md`` §2.3 and §2.4), as
the official ``dingtalk-stream`` SDKs read and write them: EVENT and SYSTEM frames from the
server, acks from the client. Text only: the WebSocket itself is the API layer's
(``api/routes/gateway.py``).

A frame is a JSON object whose ``data`` is a JSON document *as a string* (an object there makes
the Python SDK drop the frame), and whose time headers are epoch ms as digit strings (the SDK
runs ``int()`` on them and drops the frame when that fails).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
PING = "ping"
DISCONNECT = "disconnect"
OK = 200
LATER = "LATER"


@dataclass(frozen=True, slots=True)
class EventHeaders:
    """What an EVENT frame says about its event besides the business fields."""

    app_id: str
    corp_id: str
    message_id: str
    event_id: str
    event_type: str
    born_at: int
    seq: int


def message_id(row_id: int, attempt: int) -> str:
    """An EVENT frame's ``messageId``: the event row and the delivery attempt it was sent on, so
    an ack names both, on whichever connection or process it arrives."""
    return f"{row_id}.{attempt}"


def parse_message_id(value: object) -> tuple[int, int] | None:
    """``(row id, attempt)`` of an EVENT frame's ``messageId``; None for anything else (a
    SYSTEM frame's, a missing or made-up one)."""
    if not isinstance(value, str):
        return None
    row, dot, attempt = value.partition(".")
    if not dot or not row.isdigit() or not attempt.isdigit() or len(value) > 40:
        return None
    return int(row), int(attempt)


def event(headers: EventHeaders, *, connection_id: str, now: int, data: Mapping[str, Any]) -> str:
    """An EVENT frame (§2.3) with dingstore's per-space sequence as the extra header
    ``dingstoreSeq`` (the SDK keeps unknown headers in ``headers.extensions``)."""
    return _frame(
        "EVENT",
        {
            "appId": headers.app_id,
            "connectionId": connection_id,
            "contentType": CONTENT_TYPE,
            "messageId": headers.message_id,
            "time": str(now),
            "topic": "*",
            "eventId": headers.event_id,
            "eventType": headers.event_type,
            "eventBornTime": str(headers.born_at),
            "eventCorpId": headers.corp_id,
            "eventUnifiedAppId": headers.app_id,
            "dingstoreSeq": str(headers.seq),
        },
        data,
    )


def system(topic: str, *, connection_id: str, now: int, data: Mapping[str, Any]) -> str:
    """A SYSTEM frame: ``ping`` (the client acks it, echoing ``data``) or ``disconnect`` (the
    client acks it, closes with 1000 and opens a new connection at once)."""
    return _frame(
        "SYSTEM",
        {
            "connectionId": connection_id,
            "contentType": CONTENT_TYPE,
            "messageId": str(uuid.uuid4()),
            "time": str(now),
            "topic": topic,
        },
        data,
    )


def ping(*, connection_id: str, now: int) -> str:
    return system(PING, connection_id=connection_id, now=now, data={"opaque": str(uuid.uuid4())})


def disconnect(*, connection_id: str, now: int, reason: str) -> str:
    return system(DISCONNECT, connection_id=connection_id, now=now, data={"reason": reason})


def _frame(kind: str, headers: dict[str, str], data: Mapping[str, Any]) -> str:
    return orjson.dumps(
        {
            "specVersion": SPEC_VERSION,
            "type": kind,
            "headers": headers,
            "data": orjson.dumps(data).decode(),
        }
    ).decode()


@dataclass(frozen=True, slots=True)
class Ack:
    """A client's answer to an EVENT frame."""

    row_id: int
    attempt: int
    delivered: bool
    code: int | None
    message: str


def parse_ack(text: str | bytes) -> Ack | None:
    """The ack in a client's message, or None when it is not one of an EVENT frame (not JSON, no
    or an unknown ``messageId``: a SYSTEM frame's ack, or garbage), which is ignored.

    Delivered (§2.4) = ``code`` 200 and ``data`` not an object whose ``status`` is ``LATER``: the
    Python SDK sends the handler's code and the event's data back (no status: success); the Node
    and Java SDKs always send 200 with ``{"status": "SUCCESS" | "LATER"}``."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict):
        return None
    headers = message.get("headers")
    ids = parse_message_id(headers.get("messageId")) if isinstance(headers, dict) else None
    if ids is None:
        return None
    code = _code(message.get("code"))
    data = message.get("data")
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            data = None
    later = isinstance(data, dict) and data.get("status") == LATER
    note = message.get("message")
    return Ack(
        row_id=ids[0],
        attempt=ids[1],
        delivered=code == OK and not later,
        code=code,
        message=note if isinstance(note, str) else "",
    )


def _code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None
