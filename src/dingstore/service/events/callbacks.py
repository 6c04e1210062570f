"""The operator's side of event delivery: an app's HTTP push callback (saved only once its URL
answers DingTalk's ``check_url`` push correctly), the delivery log, and redelivery on demand.
``dingstore admin app set-callback`` and ``dingstore admin events`` (cli/events.py) call it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from dingstore import clock as clocks
from dingstore import errors
from dingstore.service import models
from dingstore.service.events import crypto, messages, push
from dingstore.store import base, identity
from dingstore.store import events as event_rows

LIST_LIMIT = 100
MAX_ROW_ID = 2**63 - 1


class CallbackRefused(Exception):
    """The callback URL did not answer the ``check_url`` push with ``success``; the message
    says what it did instead."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One event of an app and how its delivery stands."""

    event_id: str
    event_type: str
    action: str
    space_id: int
    dentry_id: int
    dentry_type: str
    name: str
    status: str  # PENDING, DELIVERED or FAILED
    attempts: int
    last_error: str | None
    born_at: int
    due_at: int
    delivered_at: int | None

    @classmethod
    def from_row(cls, row: Any) -> Delivery:
        return cls(
            event_id=messages.event_id(int(row["id"])),
            event_type=row["event_type"],
            action=row["action"],
            space_id=int(row["space_id"]),
            dentry_id=int(row["dentry_id"]),
            dentry_type=row["dentry_type"],
            name=row["name"],
            status=row["status"],
            attempts=int(row["attempts"]),
            last_error=row["last_error"],
            born_at=int(row["born_at"]),
            due_at=int(row["due_at"]),
            delivered_at=None if row["delivered_at"] is None else int(row["delivered_at"]),
        )


def check_url_syntax(url: str) -> None:
    """``paramError`` unless ``url`` is an absolute http(s) URL with a host and no fragment."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        raise errors.param_error(
            "url", f"the callback URL must be an http:// or https:// URL with a host: {url!r}"
        )


class CallbackService:
    def __init__(
        self,
        db: base.BaseDatabase,
        *,
        timeout_s: float = push.TIMEOUT_S,
        clock: clocks.Clock = clocks.SYSTEM,
    ) -> None:
        self._db = db
        self._timeout_s = timeout_s
        self._clock = clock

    async def _internal_app(self, conn: base.Connection, key_or_id: str) -> models.App:
        app = await self._any_app(conn, key_or_id)
        if app.kind != "INTERNAL" or not app.app_key:
            raise errors.PARAM_ERROR.error(
                "only internal apps receive HTTP pushes (third-party apps use Stream mode)"
            )
        return app

    async def set_callback(
        self, key_or_id: str, *, url: str, token: str, aes_key: str
    ) -> push.Callback:
        """Put the app in push mode with this callback, once its URL has answered the
        ``check_url`` push with ``success`` (as DingTalk checks a URL when it is saved): else
        :class:`CallbackRefused`, and nothing changes. ``paramError`` for an aesKey that is not
        43 characters of ``[A-Za-z0-9]``, an empty token or a URL that is not http(s)."""
        if not crypto.valid_aes_key(aes_key):
            raise errors.param_error("aesKey", "the aesKey must be 43 characters of [A-Za-z0-9]")
        if not token or len(token) > 128:
            raise errors.param_error("token", "the token must be 1 to 128 characters")
        check_url_syntax(url)
        async with self._db.read() as conn:
            app = await self._internal_app(conn, key_or_id)
        assert app.app_key is not None
        callback = push.Callback(app.corp_id, app.app_id, app.app_key, url, token, aes_key)
        pusher = push.Pusher(timeout_s=self._timeout_s, clock=self._clock)
        await pusher.open()
        try:
            refused = await pusher.check_url(callback)
        finally:
            await pusher.close()
        if refused is not None:
            raise CallbackRefused(f"{url} did not answer the check_url push correctly: {refused}")
        async with self._db.write() as conn:
            await event_rows.set_callback(
                conn,
                app.corp_id,
                app.app_id,
                url=url,
                token=token,
                aes_key=aes_key,
                now=self._clock.now_ms(),
            )
            await conn.notify(event_rows.CHANNEL)  # its waiting events may go now
        return callback

    async def clear_callback(self, key_or_id: str) -> bool:
        """Take the app out of push mode (its events wait for a Stream connection); False when
        it had no callback."""
        async with self._db.write() as conn:
            app = await self._internal_app(conn, key_or_id)
            return await event_rows.clear_callback(conn, app.corp_id, app.app_id)

    async def get_callback(self, key_or_id: str) -> push.Callback | None:
        """The app's callback, or None in Stream mode."""
        async with self._db.read() as conn:
            app = await self._internal_app(conn, key_or_id)
            row = await event_rows.get_callback(conn, app.corp_id, app.app_id)
        if row is None:
            return None
        assert app.app_key is not None
        return push.Callback(
            app.corp_id, app.app_id, app.app_key, row["url"], row["token"], row["aes_key"]
        )

    async def deliveries(
        self, key_or_id: str, *, failed_only: bool = False, limit: int = LIST_LIMIT
    ) -> tuple[models.App, list[Delivery]]:
        """The app and its newest ``limit`` events, newest first, with their delivery state
        (only the FAILED ones with ``failed_only``)."""
        async with self._db.read() as conn:
            app = await self._any_app(conn, key_or_id)
            rows = await event_rows.deliveries(
                conn, app.corp_id, app.app_id, failed_only=failed_only, limit=limit
            )
        return app, [Delivery.from_row(row) for row in rows]

    async def redeliver(
        self, key_or_id: str, *, event_ids: Sequence[str] = (), failed: bool = False
    ) -> int:
        """Deliver again, from now on and with fresh attempts, the events ``event_ids`` of the
        app (delivered or not) or all its FAILED ones; returns how many. ``paramError`` for a
        text that is no eventId."""
        ids = []
        for text in event_ids:
            row_id = messages.parse_event_id(text)
            if row_id is None:
                raise errors.param_error("eventId", f"not an eventId: {text!r}")
            if row_id <= MAX_ROW_ID:  # a bigger one names no row (and overflows BIGINT)
                ids.append(row_id)
        async with self._db.write() as conn:
            app = await self._any_app(conn, key_or_id)
            count = await event_rows.redeliver(
                conn,
                app.corp_id,
                app.app_id,
                now=self._clock.now_ms(),
                ids=ids if event_ids else None,
                failed=failed,
            )
            if count:
                await conn.notify(event_rows.CHANNEL)
        return count

    async def _any_app(self, conn: base.Connection, key_or_id: str) -> models.App:
        row = await identity.get_app_by_key(conn, key_or_id) or await identity.get_app(
            conn, key_or_id
        )
        if row is None:
            raise errors.APP_NOT_EXIST.error(f"no app with appKey or appId {key_or_id}")
        return models.App.from_row(row)
