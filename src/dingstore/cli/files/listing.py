"""``dingstore ls`` and ``dingstore mkdir``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dingstore.cli.files import paths, session
from dingstore.cli.files.output import Output, human_size
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client, models

Remote = Annotated[str, typer.Argument(metavar="SPACE_ID:/PATH", show_default=False)]


def record(d: models.Dentry) -> dict[str, Any]:
    """A file or folder as ``--json`` prints it: the API's own fields (camelCase)."""
    return d.raw or {"id": d.id, "spaceId": d.space_id, "type": d.type, "name": d.name}


def ls(
    path: Remote,
    long: Annotated[
        bool, typer.Option("-l", "--long", help="Type, size, modified time, id and name.")
    ] = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """List a folder (by name), or show a file."""
    where = paths.argument(path)
    out = Output(as_json)

    def work(c: Client) -> None:
        found = session.resolve(c, where)
        entries = list(c.list(found)) if found.is_folder else [found]
        records = [record(d) for d in entries]
        if long:
            rows = [
                (
                    "d" if d.is_folder else "-",
                    "" if d.is_folder else human_size(d.size) if out.terminal else d.size,
                    d.modified_time.isoformat(timespec="seconds") if d.modified_time else "",
                    d.id,
                    d.name + ("/" if d.is_folder and out.terminal else ""),
                )
                for d in entries
            ]
            columns = ("type", "size", "modified", "id", "name")
            out.rows(str(where), columns, rows, records=records, right={"size"})
            return
        if out.json:
            for r in records:
                out.record(r)
            return
        for d in entries:
            out.line(d.name + ("/" if d.is_folder else ""))

    session.run(out, profile, work)


def mkdir(
    targets: Annotated[list[str], typer.Argument(metavar="SPACE_ID:/PATH...", show_default=False)],
    parents: Annotated[
        bool,
        typer.Option("-p", "--parents", help="Make missing parents; an existing folder is fine."),
    ] = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Make folders."""
    wanted = [paths.argument(t) for t in targets]
    if any(w.is_root for w in wanted):
        raise typer.BadParameter("the root of a space exists already", param_hint="PATH")
    out = Output(as_json)

    def work(c: Client) -> None:
        for where in wanted:
            if parents:
                made = c.make_folders(where.space, where.path)
            else:
                parent = session.resolve(c, where.parent)
                if not parent.is_folder:
                    raise session.NotFound(f"not a folder: {where.parent}")
                made = c.create_folder(parent, where.name, conflict="RETURN_ERROR_IF_EXISTS")
            if out.json:
                out.record(record(made))
            else:
                out.say(f"{where.space_id}:{made.path or where.path} (id {made.id})")

    session.run(out, profile, work)
