"""``dingstore admin events`` (the delivery log, redelivery) and ``dingstore admin app
set-callback`` (HTTP push): an operator's tools for an app's change events.

An app with a callback is in push mode: every process that runs tasks POSTs its events to the
URL, encrypted as DingTalk does (docs/events.md). Without one, its events wait for a Stream
connection (or the pull feed).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from dingstore import clock
from dingstore.cli import common
from dingstore.service.container import Services
from dingstore.service.events import callbacks, crypto

app = typer.Typer(
    help="Change events of an app: the delivery log, and delivering again.", no_args_is_help=True
)

AppKey = Annotated[str, typer.Option("--app-key", help="appKey or appId.")]


def _refused(message: str) -> None:
    common.fail(message, status=2)


def set_callback(
    app_key: AppKey,
    url: Annotated[
        str | None, typer.Option("--url", help="Where to POST the events.", show_default=False)
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="The callback token (signatures).")
    ] = None,
    aes_key: Annotated[
        str | None,
        typer.Option("--aes-key", help="The callback aesKey: 43 characters of [A-Za-z0-9]."),
    ] = None,
    clear: Annotated[
        bool, typer.Option("--clear", help="Remove the callback: back to Stream mode.")
    ] = False,
    data_dir: common.DataDir = None,
    database_url: common.DatabaseUrl = None,
    as_json: common.Json = False,
) -> None:
    """Push an internal app's events to URL over HTTP (DingTalk's callback encryption). The URL
    must answer the check_url push with an encrypted success within 1.5 s, or nothing is
    saved (exit 2)."""
    settings = common.settings_from(data_dir, database_url)
    if clear:
        if url or token or aes_key:
            _refused("--clear takes no --url, --token or --aes-key")
        cleared = common.with_services(settings, lambda s: s.callbacks.clear_callback(app_key))
        common.emit(as_json, {"appKey": app_key, "cleared": cleared, "mode": "stream"})
        return
    if not (url and token and aes_key):
        _refused("set-callback needs --url, --token and --aes-key (or --clear)")
    assert url is not None and token is not None and aes_key is not None
    if not crypto.valid_aes_key(aes_key):
        _refused(f"--aes-key must be 43 characters of [A-Za-z0-9], not {len(aes_key)} characters")

    async def work(s: Services) -> dict[str, Any] | str:
        try:
            saved = await s.callbacks.set_callback(app_key, url=url, token=token, aes_key=aes_key)
        except callbacks.CallbackRefused as exc:
            return str(exc)
        return {
            "appKey": saved.app_key,
            "appId": saved.app_id,
            "corpId": saved.corp_id,
            "url": saved.url,
            "mode": "push",
        }

    done = common.with_services(settings, work)
    if isinstance(done, str):
        _refused(f"{done}; nothing was saved")
    assert isinstance(done, dict)
    common.emit(as_json, done)


def _short_time(ms: int) -> str:
    """``12-03 14:20:05``: when it was delivered, or when its next attempt is due."""
    return time.strftime("%m-%d %H:%M:%S", time.gmtime(ms // 1000))


def _delivery_json(d: callbacks.Delivery) -> dict[str, Any]:
    return {
        "eventId": d.event_id,
        "eventType": d.event_type,
        "action": d.action,
        "spaceId": str(d.space_id),
        "dentryId": str(d.dentry_id),
        "type": d.dentry_type,
        "name": d.name,
        "status": d.status,
        "attempts": d.attempts,
        "lastError": d.last_error,
        "bornAt": clock.iso(d.born_at),
        "dueAt": clock.iso(d.due_at) if d.status == "PENDING" else None,
        "deliveredAt": clock.iso(d.delivered_at),
    }


@app.command("list")
def events_list(
    app_key: AppKey,
    failed: Annotated[bool, typer.Option("--failed", help="Only the events given up.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000)] = callbacks.LIST_LIMIT,
    data_dir: common.DataDir = None,
    database_url: common.DatabaseUrl = None,
    as_json: common.Json = False,
) -> None:
    """The app's newest events and how their delivery stands.

    Newest first: type, status, attempts, when it was delivered (or is due again), the dentry
    and the last error; --json has every time."""
    found, rows = common.with_services(
        common.settings_from(data_dir, database_url),
        lambda s: s.callbacks.deliveries(app_key, failed_only=failed, limit=limit),
    )
    shown = [_delivery_json(d) for d in rows]
    if as_json:
        common.emit(as_json, {"appKey": found.app_key or found.app_id, "events": shown})
        return
    # Whole eventIds (they are what redeliver takes); the times in short, whole in --json.
    columns = ("eventId", "type", "status", "tries", "at (UTC)", "dentry", "last error")
    table = [
        (
            e["eventId"],
            e["eventType"].removeprefix("storage_dentry_"),
            e["status"].lower(),
            e["attempts"],
            _short_time(d.delivered_at if d.delivered_at is not None else d.due_at),
            f"{e['dentryId']} {e['name']}",
            e["lastError"] or "",
        )
        for d, e in zip(rows, shown, strict=True)
    ]
    title = f"{'failed ' if failed else ''}events of {found.app_key or found.app_id}"
    common.console.print(common.table(title, columns, table, wrap={"dentry", "last error"}))


@app.command("redeliver")
def events_redeliver(
    app_key: AppKey,
    event_id: Annotated[
        list[str] | None,
        typer.Option(
            "--event-id", help="An event to deliver again (repeatable).", show_default=False
        ),
    ] = None,
    failed: Annotated[
        bool, typer.Option("--failed", help="Every event given up (FAILED).")
    ] = False,
    data_dir: common.DataDir = None,
    database_url: common.DatabaseUrl = None,
    as_json: common.Json = False,
) -> None:
    """Deliver events again: those named, or every FAILED one.

    From now on, with fresh attempts and the same eventId; a delivered event too."""
    ids = event_id or []
    if bool(ids) == failed:
        _refused("redeliver takes either --event-id (one or more) or --failed")
    count = common.with_services(
        common.settings_from(data_dir, database_url),
        lambda s: s.callbacks.redeliver(app_key, event_ids=ids, failed=failed),
    )
    if ids and count < len(set(ids)):
        common.fail(f"{len(set(ids)) - count} of the events named are not events of {app_key}")
    common.emit(as_json, {"appKey": app_key, "redelivered": count})
