"""A Stream-mode consumer written the way an integrator writes one, with the unchanged official
``dingtalk-stream`` SDK: ``python tests/stream_client.py APP_KEY APP_SECRET [MODE]``, with
``DINGTALK_OPENAPI_ENDPOINT=http://HOST:PORT`` in the environment (the SDK reads it once, at
import, hence a process of its own).

Each EVENT the handler gets is printed as one JSON line on stdout, ``{"kind": "event",
"headers": {...}, "data": {...}}``, and each SYSTEM frame as ``{"kind": "system", "topic":
...}``. MODE says how the handler answers:

* ``ok``: 200 (delivered);
* ``404``: 404 "not implement", the SDK base handler's answer (refused);
* ``later``: 200 with ``{"status": "LATER"}`` as the ack's data, as the Node and Java SDKs
  send it (refused);
* ``raise``: the handler raises, and the SDK sends no ack at all;
* ``404-once``, ``later-once``, ``raise-once``: so for an eventId's first delivery, ``ok`` after;
* ``404-first``: 404 for the very first event this client gets, ``ok`` for every other;
* ``none``: no event handler registered (the connection does not subscribe to EVENT).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from typing import Any

import dingtalk_stream
from dingtalk_stream import AckMessage


def emit(line: dict[str, Any]) -> None:
    print(json.dumps(line), flush=True)


class Handler(dingtalk_stream.EventHandler):
    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.seen: set[str] = set()

    async def process(self, event: dingtalk_stream.EventMessage) -> tuple[int, str]:
        h = event.headers
        emit(
            {
                "kind": "event",
                "headers": {
                    "appId": h.app_id,
                    "connectionId": h.connection_id,
                    "contentType": h.content_type,
                    "messageId": h.message_id,
                    "time": h.time,
                    "topic": h.topic,
                    "eventId": h.event_id,
                    "eventType": h.event_type,
                    "eventBornTime": h.event_born_time,
                    "eventCorpId": h.event_corp_id,
                    "eventUnifiedAppId": h.event_unified_app_id,
                    "extensions": h.extensions,
                },
                "data": event.data,
            }
        )
        mode = self.mode
        if mode == "404-first":
            mode = "ok" if self.seen else "404"
            self.seen.add(h.event_id)
        if mode.endswith("-once"):
            first = h.event_id not in self.seen
            self.seen.add(h.event_id)
            mode = mode.removesuffix("-once") if first else "ok"
        if mode == "raise":
            raise RuntimeError("the handler failed")
        if mode == "404":
            return AckMessage.STATUS_NOT_IMPLEMENT, "not implement"
        if mode == "later":
            event.data = {"status": "LATER"}  # what the ack carries back as its data
        return AckMessage.STATUS_OK, "OK"


class Systems(dingtalk_stream.SystemHandler):
    async def process(self, message: dingtalk_stream.SystemMessage) -> tuple[int, str]:
        emit({"kind": "system", "topic": message.headers.topic, "data": message.data})
        return await super().process(message)


def main() -> None:
    app_key, app_secret, *rest = sys.argv[1:]
    mode = rest[0] if rest else "ok"
    # bench/events.py asks for WARNING: a line logged per frame would slow the client it measures
    logging.basicConfig(level=os.environ.get("STREAM_CLIENT_LOG_LEVEL", "INFO"), stream=sys.stderr)
    client = dingtalk_stream.DingTalkStreamClient(dingtalk_stream.Credential(app_key, app_secret))
    if mode != "none":
        client.register_all_event_handler(Handler(mode))
    client.system_handler = Systems()
    client.start_forever()


if __name__ == "__main__":
    main()
