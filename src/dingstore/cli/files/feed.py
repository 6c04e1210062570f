"""``dingstore events tail``: the app's change events from dingstore's pull feed, as they come
(docs/events.md: the feed's long poll wakes within milliseconds of a commit)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from dingstore.cli.files import session
from dingstore.cli.files.output import Output
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client, models

app = typer.Typer(help="The app's change events (dingstore's pull feed).", no_args_is_help=True)


def _record(e: models.Event) -> dict[str, Any]:
    shown = {k: v for k, v in e.raw.items()} if e.raw else {"eventId": e.event_id}
    shown["cursor"] = e.cursor
    return shown


def _line(e: models.Event) -> str:
    born = e.event_born_time  # epoch ms
    at = (
        datetime.fromtimestamp(int(born) / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]
        if isinstance(born, int | float)
        else "?"
    )
    kind = e.event_type.removeprefix("storage_dentry_")
    action = f" ({e.dingstore_action})" if e.dingstore_action else ""
    return f"{at}  {kind}{action}  {e.type.lower()} {e.space_id}/{e.dentry_id}  by {e.union_id}"


@app.command("tail")
def tail(
    from_start: Annotated[
        bool,
        typer.Option("--from-start", help="From the oldest event kept, not only new ones."),
    ] = False,
    cursor: Annotated[
        str | None, typer.Option("--cursor", help="Read on from a cursor (--json prints them).")
    ] = None,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow/--no-follow",
            "-f",
            help="Wait for new events until Ctrl-C (the default), or end when none is left.",
        ),
    ] = True,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="End after this many events.")
    ] = None,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Print the app's change events as they happen (the app needs Storage.Event.Write, and
    a subscription: SubscribeEvent)."""
    out = Output(as_json)
    start = cursor if cursor is not None else None if from_start else "latest"

    def work(c: Client) -> None:
        for seen, event in enumerate(c.events(start, follow=follow), start=1):
            if out.json:
                out.record(_record(event))
            else:
                out.line(_line(event))
                out.out.file.flush()
            if limit is not None and seen >= limit:
                return

    session.run(out, profile, work)
