"""The ``Idempotency-Key`` header (docs/tasks.md#idempotency) on the operations that create a
task, a folder or a file: ``idempotent`` runs the route's work once per key and answers its
first answer to repeats (``service/idempotency.py``)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import Request
from pydantic import BaseModel

from dingstore.api import responses
from dingstore.api.routing import Caller, services
from dingstore.service.idempotency import fingerprint, valid_key

HEADER = "idempotency-key"
REPLAYED = "idempotent-replayed"


async def idempotent(
    request: Request,
    caller: Caller,
    operation: str,
    body: BaseModel | None,
    run: Callable[[], Awaitable[responses.JSON]],
) -> responses.JSON:
    """``run()``, unless the request carries an ``Idempotency-Key`` already used: then the first
    answer (same key and request) or 409 (another request). The request is the operation, its
    path and query (the operator, ``dryRun``) and its body as parsed."""
    key = request.headers.get(HEADER)
    if key is None:
        return await run()
    svc = services(request).idempotency
    key = valid_key(key)
    text = "" if body is None else body.model_dump_json(by_alias=True, exclude_none=True)
    digest = fingerprint(operation, request.url.path, str(request.url.query), text)
    corp_id, app_id = caller.corp_id, caller.app_id
    claimed = await svc.begin(corp_id, app_id, key, operation, digest)
    if not isinstance(claimed, int):
        answer = responses.JSON(claimed.body.encode(), status_code=claimed.status_code)
        answer.headers[REPLAYED] = "true"
        return answer
    try:
        answer = await run()
    except BaseException:  # a client gone (cancelled) too: the key is free again at once
        await asyncio.shield(svc.abandon(corp_id, app_id, key, claimed))
        raise
    if answer.status_code >= 400:
        await svc.abandon(corp_id, app_id, key, claimed)
        return answer
    body_text = bytes(answer.body).decode()
    await svc.finish(corp_id, app_id, key, claimed, answer.status_code, body_text)
    return answer


HEADER_DOC = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "dingstore extension (docs/tasks.md#idempotency): the same key and request within 24 "
        "hours answers the first answer and does nothing again; another request with the key "
        "is refused (409 idempotencyKeyReused)"
    ),
    "schema": {"type": "string", "maxLength": 255},
}
DRY_RUN_DOC = {
    "name": "dryRun",
    "in": "query",
    "required": False,
    "description": (
        "dingstore extension (docs/tasks.md#dry-run): answer what the operation would do "
        "(its shape: docs/tasks.md#dry-run), changing nothing"
    ),
    "schema": {"type": "boolean"},
}
DOCUMENTED = {"parameters": [HEADER_DOC]}
DOCUMENTED_WITH_DRY_RUN = {"parameters": [HEADER_DOC, DRY_RUN_DOC]}
