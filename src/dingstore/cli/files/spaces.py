"""``dingstore spaces`` and ``dingstore mkspace``: the spaces the user may read, and making one."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from dingstore.cli.files import session
from dingstore.cli.files.output import Output, human_size
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client, models


def record(s: models.Space) -> dict[str, Any]:
    """A space as ``--json`` prints it: the API's own fields (camelCase)."""
    return s.raw or {"id": s.id, "name": s.name, "scene": s.scene, "usedQuota": s.used_quota}


def spaces(as_json: Json = False, profile: Profile = None) -> None:
    """The spaces you may read, newest first (an org admin: every space of the org)."""
    out = Output(as_json)

    def work(c: Client) -> None:
        found = list(c.spaces())
        size = human_size if out.terminal else (lambda n: n)
        rows = [
            (
                s.id,
                s.name or "",
                s.owner_type.lower(),
                s.scene,
                size(s.used_quota),
                "-" if s.quota < 0 else size(s.quota),
            )
            for s in found
        ]
        columns = ("id", "name", "owner", "scene", "used", "quota")
        out.rows("spaces", columns, rows, records=[record(s) for s in found], right={"used"})

    session.run(out, profile, work)


def mkspace(
    name: Annotated[str, typer.Argument(metavar="NAME", show_default=False)],
    quota: Annotated[
        int | None,
        typer.Option("--quota", min=0, help="A cap in bytes (default: none of its own)."),
    ] = None,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Make a space (owned by you) and print its id."""
    out = Output(as_json)

    def work(c: Client) -> None:
        made = c.create_space(name, quota=quota)
        if out.json:
            out.record(record(made))
        else:
            out.line(made.id)

    session.run(out, profile, work)
