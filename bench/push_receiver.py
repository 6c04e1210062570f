"""The HTTP push consumer ``bench/events.py`` measures, a process of its own:
``python bench/push_receiver.py PORT TOKEN AES_KEY APP_KEY``. An aiohttp server that checks each
push's signature, decrypts it and answers ``success`` encrypted as DingTalk requires (dingstore's
own service/events/crypto.py, which its tests hold to DingTalk's test vectors), and prints one
JSON line per event: ``{"id": eventId, "type": EventType, "born": ms, "at": ms}`` (``at``: when
it arrived, on this machine's clock, which the server shares).

(The Stream consumer is tests/stream_client.py: the official SDK, as the tests drive it.)
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def _print(event_id: str, event_type: str, born: Any) -> None:
    line = {"id": event_id, "type": event_type, "born": int(born), "at": int(time.time() * 1000)}
    sys.stdout.write(json.dumps(line) + "\n")
    sys.stdout.flush()


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
    port, token, aes_key, app_key = sys.argv[1:]
    push(int(port), token, aes_key, app_key)
