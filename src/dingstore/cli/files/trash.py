"""``dingstore trash ls | restore | purge | clear``: the org's recycle bin, where ``rm`` puts
what it deletes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dingstore.cli.files import following, paths, session
from dingstore.cli.files.bulk import Conflict, NoWait, OnConflict
from dingstore.cli.files.output import Output, human_size
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client, models

app = typer.Typer(
    help="The org's recycle bin: what `dingstore rm` deleted, to restore or purge.",
    no_args_is_help=True,
)

Items = Annotated[
    list[str],
    typer.Argument(
        metavar="ITEM...",
        help="Recycle item ids (`trash ls`), or SPACE_ID:/PATH: the newest item deleted there.",
        show_default=False,
    ),
]


def _record(i: models.RecycleItem) -> dict[str, Any]:
    return i.raw or {"id": i.id}


def _pick(c: Client, wanted: list[str]) -> tuple[list[str], dict[str, str]]:
    """Item ids for ``wanted``: ids as they are; a remote path → the newest item deleted from
    there (the bin lists newest first)."""
    by_path = [w for w in wanted if paths.is_remote(w)]
    found: dict[str, str] = {}
    if by_path:
        places = {(p.space_id, p.path): text for text in by_path for p in [paths.argument(text)]}
        for item in c.recycle_items():
            key = (item.space_id, item.original_path)
            if key in places and places[key] not in found:
                found[places[key]] = item.id
            if len(found) == len(places):
                break
    ids, names = [], {}
    for w in wanted:
        if paths.is_remote(w):
            if w not in found:
                raise session.NotFound(f"nothing deleted from {w} is in the recycle bin")
            ids.append(found[w])
            names[found[w]] = w
        else:
            ids.append(w)
            names[w] = w
    return ids, names


@app.command("ls")
def trash_ls(as_json: Json = False, profile: Profile = None) -> None:
    """What the recycle bin holds that you may see, newest first."""
    out = Output(as_json)

    def work(c: Client) -> None:
        items = list(c.recycle_items())
        rows = [
            (
                i.id,
                i.type.lower(),
                human_size(i.size) if out.terminal else i.size,
                f"{i.space_id}:{i.original_path}",
                i.operator_time.isoformat(timespec="seconds") if i.operator_time else "",
                i.operator_id,
            )
            for i in items
        ]
        columns = ("id", "type", "size", "was at", "deleted", "by")
        out.rows("recycle bin", columns, rows, records=[_record(i) for i in items], right={"size"})

    session.run(out, profile, work)


@app.command("restore")
def trash_restore(
    items: Items,
    conflict: Conflict = OnConflict.fail,
    no_wait: NoWait = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Put items back where they were deleted from (their folder, or the space's root if that
    is gone too)."""
    out = Output(as_json)

    def work(c: Client) -> None:
        ids, names = _pick(c, items)
        task = c.restore(ids, conflict=conflict.strategy)
        following.finish(out, task, "restore", names, wait=not no_wait)

    session.run(out, profile, work)


@app.command("purge")
def trash_purge(items: Items, as_json: Json = False, profile: Profile = None) -> None:
    """Delete items from the recycle bin for good: they cannot be restored."""
    out = Output(as_json)

    def work(c: Client) -> None:
        ids, names = _pick(c, items)
        c.purge(ids)
        for i in ids:
            if out.json:
                out.record({"id": i, "source": names[i], "purged": True})
        out.say(f"purged {len(ids)} item{'s' if len(ids) != 1 else ''}")

    session.run(out, profile, work)


@app.command("clear")
def trash_clear(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Delete everything in the recycle bin that you may delete, for good."""
    out = Output(as_json)
    if not yes:
        if not out.terminal:
            raise typer.BadParameter("clearing the recycle bin is for good: pass --yes")
        typer.confirm("Delete everything in the recycle bin for good?", abort=True)
    session.run(out, profile, lambda c: c.clear_recycle_bin())
    if out.json:
        out.record({"cleared": True})
    else:
        out.say("the recycle bin is empty")
