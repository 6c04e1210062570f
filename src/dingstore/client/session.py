"""The state every flow of one client shares: where the server is, who calls, the access
token (fetched on first use and renewed before it expires, or when the server says it has),
and the transfer settings. ``call`` is the flow of one storage API call."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from dingstore.client import errors, flows

RENEW_BEFORE = 300.0
"""Seconds before its expiry at which a token is renewed."""

TOKEN_REFUSED = {"InvalidAuthentication", "InvalidAuthentication.AccessTokenExpired"}
TRANSIENT = {"idempotencyKeyInUse", "systemBusy"}
"""Codes after which a call safe to repeat is made again (and any 502 or 503)."""
ATTEMPTS = 3
RETRY_PAUSE = 0.2
"""Seconds before the second attempt; the third waits twice as long."""


Clock = Callable[[], float]
"""Seconds that never go back (``time.monotonic``): what a token's life is measured with."""


@dataclass(frozen=True)
class Transfers:
    """How bytes move: files of ``multipart_threshold`` bytes or more go in parts of
    ``part_size`` bytes, ``parallel`` parts at a time."""

    multipart_threshold: int = 64 * 1024 * 1024
    part_size: int = 16 * 1024 * 1024
    parallel: int = 4


class Session:
    def __init__(
        self, endpoint: str, app: tuple[str, str], union_id: str, transfers: Transfers, clock: Clock
    ) -> None:
        """``app``: the appKey and appSecret the token is asked with."""
        if "://" not in endpoint:
            endpoint = f"http://{endpoint}"
        self.endpoint = endpoint.rstrip("/")
        self.app_key, self.app_secret = app
        self.union_id = union_id
        self.transfers = transfers
        self.clock = clock
        self.token: str | None = None
        self.token_expires = 0.0
        self.corp_id: str | None = None
        self.recycle_bin_id: str | None = None

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        operator: bool = True,
        timeout: float | None = None,
        idempotency_key: str | None = None,
    ) -> flows.Flow[dict[str, Any]]:
        """Call the API at ``path`` as the operator (``unionId``; ``operator=False``: as the
        app alone) and return the answer's JSON; an error answer is raised as
        ``DingstoreError``. A token the server refuses is renewed, and the call made again,
        once. A call that is safe to repeat (a GET, or one with an ``Idempotency-Key``, which
        the server answers once) is made again after a lost connection or a 503, up to
        ``ATTEMPTS`` times."""
        query = {k: _query_value(v) for k, v in (params or {}).items() if v is not None}
        if operator:
            query["unionId"] = self.union_id
        content = None if body is None else json.dumps(body).encode()
        headers: dict[str, str] = {}
        if content is not None:
            headers["content-type"] = "application/json"
        if idempotency_key is not None:
            headers["idempotency-key"] = idempotency_key
        repeatable = method == "GET" or idempotency_key is not None
        renewed = False
        for attempt in range(1, ATTEMPTS + 1):
            token = yield from self._token()
            try:
                reply = yield flows.Exchange(
                    method,
                    self.endpoint + path,
                    params=query,
                    headers={**headers, "x-acs-dingtalk-access-token": token},
                    content=content,
                    timeout=timeout,
                )
            except errors.DingstoreError:
                if not repeatable or attempt == ATTEMPTS:
                    raise
                yield flows.Sleep(RETRY_PAUSE * attempt)
                continue
            if reply.status < 400:
                return _json(reply)
            error = errors.from_reply(reply)
            if error.code in TOKEN_REFUSED and not renewed:
                self.token, renewed = None, True
                continue
            if (
                repeatable
                and attempt < ATTEMPTS
                and (error.status in (502, 503) or error.code in TRANSIENT)
            ):
                yield flows.Sleep(RETRY_PAUSE * attempt)
                continue
            raise error
        raise AssertionError("unreachable")  # the last attempt returns or raises

    def _token(self) -> flows.Flow[str]:
        if self.token is not None and self.clock() < self.token_expires - RENEW_BEFORE:
            return self.token
        asked_at = self.clock()
        reply = yield flows.Exchange(
            "POST",
            f"{self.endpoint}/v1.0/oauth2/accessToken",
            headers={"content-type": "application/json"},
            content=json.dumps({"appKey": self.app_key, "appSecret": self.app_secret}).encode(),
        )
        if reply.status >= 400:
            raise errors.from_reply(reply)
        answer = _json(reply)
        self.token = str(answer["accessToken"])
        self.token_expires = asked_at + float(answer.get("expireIn", 7200))
        return self.token


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _json(reply: flows.Reply) -> dict[str, Any]:
    if not reply.body:
        return {}
    data = json.loads(reply.body)
    return data if isinstance(data, dict) else {"value": data}


def check(reply: flows.Reply) -> flows.Reply:
    """``reply`` if it is a success, else its error raised (the data plane's answers)."""
    if reply.status >= 300:
        raise errors.from_reply(reply)
    return reply
