"""Idempotency keys (docs/tasks.md#idempotency): a request that creates something (a task, a
folder, a file) sent again with the same ``Idempotency-Key`` and the same request within 24
hours answers the first answer and does nothing again; the same key with another request is
refused (409 ``idempotencyKeyReused``), and one sent while the first still runs too (409
``idempotencyKeyInUse``).

The key is claimed (a row, unique per org, app and key) before the request runs, in its own
transaction, and its answer recorded after: of concurrent repeats exactly one claims it and
runs. A request that fails (an error answer) gives its key back: nothing was done, the client
may send it again. A claim whose answer was never recorded (its process died in between) is
taken over after ``STALE_MS``: the one case where a request may run twice."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from dingstore import errors
from dingstore.clock import Clock
from dingstore.store import base
from dingstore.store import idempotency as rows

TTL_MS = 24 * 3_600_000
STALE_MS = 10 * 60_000
MAX_KEY = 255


@dataclass(frozen=True, slots=True)
class Replay:
    """The first answer of a request repeated with its key."""

    status_code: int
    body: str


def fingerprint(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\x00")
    return digest.hexdigest()


def valid_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY or not key.isascii() or not key.isprintable():
        raise errors.param_error(
            "Idempotency-Key", f"Idempotency-Key must be 1 to {MAX_KEY} printable ASCII characters"
        )
    return key


class IdempotencyService:
    def __init__(self, db: base.BaseDatabase, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def begin(
        self, corp_id: str, app_id: str, key: str, operation: str, request_hash: str
    ) -> Replay | int:
        """Claim ``key`` for this request (an int, the claim's time: run it, then ``finish`` or
        ``abandon`` that claim), or the first answer to repeat. A late ``finish`` or ``abandon``
        of a claim taken over (its request ran past ``STALE_MS``) leaves the new claim alone."""
        now = self._clock.now_ms()
        in_use = errors.IDEMPOTENCY_KEY_IN_USE.error(
            f"a request with Idempotency-Key {key!r} is still running; retry later"
        )
        try:
            async with self._db.write() as conn:
                found = await rows.get(conn, corp_id, app_id, key)
                if found is not None and found.expires_at >= now:
                    if found.operation != operation or found.request_hash != request_hash:
                        raise errors.IDEMPOTENCY_KEY_REUSED.error(
                            f"Idempotency-Key {key!r} was used with another request in the"
                            " last 24 hours"
                        )
                    if found.status_code is not None:
                        return Replay(int(found.status_code), str(found.response))
                    if found.created_at + STALE_MS > now:
                        raise in_use
                if found is not None:
                    await rows.drop(conn, corp_id, app_id, key)
                await rows.claim(
                    conn,
                    corp_id,
                    app_id,
                    key,
                    operation=operation,
                    request_hash=request_hash,
                    now=now,
                    expires_at=now + TTL_MS,
                )
        except errors.Conflict as exc:  # a concurrent repeat claimed it first (the primary key)
            if exc.error_code is errors.OPERATION_CONCURRENT_CONTROL:
                raise in_use from None
            raise
        return now

    async def finish(
        self, corp_id: str, app_id: str, key: str, claimed_at: int, status_code: int, body: str
    ) -> None:
        async with self._db.write() as conn:
            await rows.answer(conn, corp_id, app_id, key, claimed_at, status_code, body)

    async def abandon(self, corp_id: str, app_id: str, key: str, claimed_at: int) -> None:
        async with self._db.write() as conn:
            await rows.drop(conn, corp_id, app_id, key, claimed_at)

    async def purge_expired(self) -> int:
        async with self._db.write() as conn:
            return await rows.purge_expired(conn, self._clock.now_ms())
