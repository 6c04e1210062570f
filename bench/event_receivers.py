"""The two consumers ``bench/events.py`` measures, each a process of its own that prints one JSON
line per event it received: ``{"id": eventId, "type": eventType, "born": ms, "at": ms}`` (``at``:
when it arrived, on this machine's clock, which the server shares).

* ``stream KEY SECRET``: DingTalk's official Stream SDK (``dingtalk_stream``), unchanged, with
  ``DINGTALK_OPENAPI_ENDPOINT`` in its environment pointing at the server; its handler acks
  every event as delivered.
* ``push PORT TOKEN AES_KEY APP_KEY``: an HTTP receiver (aiohttp) that checks the signature,
  decrypts, and answers ``success`` encrypted as DingTalk requires (dingstore's own
  service/events/crypto.py, which its tests hold to DingTalk's test vectors).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any


def _print(event_id: str, event_type: str, born: Any) -> None:
    line = {"id": event_id, "type": event_type, "born": int(born), "at": int(time.time() * 1000)}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


def stream(app_key: str, app_secret: str) -> None:
    import dingtalk_stream  # reads DINGTALK_OPENAPI_ENDPOINT at import

    class Handler(dingtalk_stream.EventHandler):  # type: ignore[misc]
        async def process(self, event: Any) -> tuple[int, str]:
            h = event.headers
            _print(h.event_id, h.event_type, h.event_born_time)
            return dingtalk_stream.AckMessage.STATUS_OK, "OK"

    logging.getLogger("dingtalk_stream").setLevel(logging.WARNING)
    client = dingtalk_stream.DingTalkStreamClient(dingtalk_stream.Credential(app_key, app_secret))
    client.register_all_event_handler(Handler())
    client.start_forever()


def push(port: int, token: str, aes_key: str, app_key: str) -> None:
    from aiohttp import web

    from dingstore.service.events import crypto

    cipher = crypto.CallbackCrypto(token, aes_key, app_key)

    async def receive(request: web.Request) -> web.Response:
        q = request.query
        encrypt = (await request.json())["encrypt"]
        if cipher.signature(q["timestamp"], q["nonce"], encrypt) != q["msg_signature"]:
            return web.Response(status=403, text="bad signature")
        text, owner = cipher.decrypt(encrypt)
        if owner != app_key:
            return web.Response(status=403, text="another app's message")
        message = json.loads(text)
        if message.get("EventType") != "check_url":
            _print(message["eventId"], message["EventType"], message["EventTime"])
        return web.json_response(cipher.reply("success", q["timestamp"], crypto.random_text(8)))

    app = web.Application()
    app.router.add_post("/", receive)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


if __name__ == "__main__":
    mode, *argv = sys.argv[1:]
    if mode == "stream":
        stream(*argv)
    elif mode == "push":
        push(int(argv[0]), *argv[1:])
    else:
        raise SystemExit(f"unknown mode {mode!r}: stream or push")
