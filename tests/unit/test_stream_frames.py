"""Stream-mode frames, acks and tickets (``service/events/frames.py``, ``tickets.py``), against
``shared/spec/events.md`` §2 and the official SDK's own frame classes."""

from __future__ import annotations

import json
import re

import pytest
from dingtalk_stream import AckMessage, EventMessage, SystemMessage
from dingtalk_stream.handlers import EventHandler

from dingstore.service.events import frames, tickets

HEADERS = frames.EventHeaders(
    app_id="dingapp",
    corp_id="dingcorp",
    message_id="42.3",
    event_id=format(42, "032x"),
    event_type="storage_dentry_update",
    born_at=1_700_000_000_123,
    seq=42,
)


def _ack(code: object, data: object, message_id: object = "42.3") -> str:
    return json.dumps(
        {"code": code, "headers": {"messageId": message_id}, "message": "m", "data": data}
    )


# --- frames --------------------------------------------------------------------------------------


def test_an_event_frame_reads_back_through_the_sdk() -> None:
    text = frames.event(HEADERS, connection_id="c1", now=1_700_000_000_999, data={"spaceId": "7"})
    raw = json.loads(text)
    assert raw["specVersion"] == "1.0" and raw["type"] == "EVENT"
    assert isinstance(raw["data"], str)  # a JSON document as a string, never an object
    message = EventMessage.from_dict(raw)
    h = message.headers
    assert (h.message_id, h.event_id, h.event_type) == (
        "42.3",
        HEADERS.event_id,
        HEADERS.event_type,
    )
    assert (h.time, h.event_born_time) == (1_700_000_000_999, 1_700_000_000_123)  # int()-able
    assert (h.app_id, h.event_unified_app_id, h.event_corp_id) == ("dingapp", "dingapp", "dingcorp")
    assert (h.topic, h.connection_id, h.content_type) == ("*", "c1", "application/json")
    assert h.extensions == {"dingstoreSeq": "42"}
    assert message.data == {"spaceId": "7"}


@pytest.mark.parametrize("topic", ["ping", "disconnect"])
def test_system_frames_read_back_through_the_sdk(topic: str) -> None:
    if topic == "ping":
        text = frames.ping(connection_id="c1", now=5)
    else:
        text = frames.disconnect(connection_id="c1", now=5, reason="bye")
    message = SystemMessage.from_dict(json.loads(text))
    assert message.headers.topic == topic
    assert message.data == ({"reason": "bye"} if topic == "disconnect" else message.data)
    assert re.fullmatch(r"[0-9a-f-]{36}", message.data.get("opaque", "0" * 36))
    # a SYSTEM frame's messageId is never taken for an event's: its ack is ignored
    assert frames.parse_ack(_ack(200, "{}", message.headers.message_id)) is None


# --- acks ----------------------------------------------------------------------------------------


async def test_the_python_sdks_acks_parse() -> None:
    """What ``EventHandler.raw_process`` sends: the handler's code, the event's data back."""
    event = EventMessage.from_dict(
        json.loads(frames.event(HEADERS, connection_id="c", now=1, data={"spaceId": "7"}))
    )

    class Ok(EventHandler):
        async def process(self, event: EventMessage) -> tuple[int, str]:
            return AckMessage.STATUS_OK, "OK"

    sent = json.dumps((await Ok().raw_process(event)).to_dict())
    assert frames.parse_ack(sent) == frames.Ack(42, 3, True, 200, "OK")
    refused = json.dumps((await EventHandler().raw_process(event)).to_dict())  # the base: 404
    assert frames.parse_ack(refused) == frames.Ack(42, 3, False, 404, "not implement")


@pytest.mark.parametrize(
    ("code", "data", "delivered"),
    [
        (200, '{"spaceId": "7"}', True),  # Python SDK: no status is success
        (200, '{"status": "SUCCESS", "message": ""}', True),  # Node and Java SDKs
        (200, '{"status": "LATER", "message": "busy"}', False),
        (200, {"status": "LATER"}, False),  # data as an object, not a string
        (200, "", True),
        (200, "not json", True),
        (200, None, True),
        ("200", "{}", True),  # a code as a string
        (404, "{}", False),
        (500, '{"status": "SUCCESS"}', False),
        (None, "{}", False),
        (True, "{}", False),  # JSON true is not 200
    ],
)
def test_delivered_is_code_200_without_later(code: object, data: object, delivered: bool) -> None:
    ack = frames.parse_ack(_ack(code, data))
    assert ack is not None
    assert (ack.row_id, ack.attempt, ack.delivered) == (42, 3, delivered)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        "42",
        json.dumps({"code": 200}),
        json.dumps({"code": 200, "headers": "x"}),
        json.dumps({"code": 200, "headers": {}}),
        _ack(200, "{}", None),
        _ack(200, "{}", 42),
        _ack(200, "{}", "42"),
        _ack(200, "{}", "a.1"),
        _ack(200, "{}", "4.2.1"),
        _ack(200, "{}", "-1.1"),
        _ack(200, "{}", "1" * 50 + ".1"),
        _ack(200, "{}", "5ae2c1c8-7a4c-4a0e-8e6a-0b1c2d3e4f50"),
    ],
)
def test_what_is_not_an_event_ack_is_ignored(text: str) -> None:
    assert frames.parse_ack(text) is None


# --- tickets -------------------------------------------------------------------------------------


def test_a_ticket_carries_its_client_and_is_only_hex_and_dashes() -> None:
    for client_id, events, suite in [("dingabc", True, False), ("suite-ü-1", False, True)]:
        text = tickets.issue("key", client_id=client_id, events=events, suite=suite, now=1000)
        assert re.fullmatch(r"[0-9a-f-]+", text)
        found = tickets.verify("key", text, now=1000 + tickets.TTL_MS - 1)
        assert found is not None
        assert (found.client_id, found.events, found.suite) == (client_id, events, suite)
        assert found.expires_at == 1000 + tickets.TTL_MS


def test_a_ticket_expires_and_cannot_be_forged() -> None:
    text = tickets.issue("key", client_id="dingabc", events=True, suite=False, now=1000)
    assert tickets.verify("key", text, now=1000 + tickets.TTL_MS) is None
    assert tickets.verify("other key", text, now=1000) is None
    body, _, mac = text.rpartition("-")
    parts = body.split("-")
    parts[6] = "3"  # flags changed: the mac no longer matches
    assert tickets.verify("key", "-".join(parts) + "-" + mac, now=1000) is None
    parts = body.split("-")
    parts[5] = format(10**15, "x")  # a later expiry
    assert tickets.verify("key", "-".join(parts) + "-" + mac, now=1000) is None
    for junk in ["", "-", "x", "a-b-c", text + "0", text[:-1], text[:-1] + "é", "é-é", "\x00"]:
        assert tickets.verify("key", junk, now=1000) is None


def test_a_ticket_is_redeemed_once() -> None:
    redeemed = tickets.Redeemed()
    first = tickets.verify(
        "key", tickets.issue("key", client_id="a", events=True, suite=False, now=0), now=0
    )
    second = tickets.verify(
        "key", tickets.issue("key", client_id="a", events=True, suite=False, now=0), now=0
    )
    assert first is not None and second is not None
    assert redeemed.redeem(first, now=0)
    assert not redeemed.redeem(first, now=1)
    assert redeemed.redeem(second, now=1)
