"""``dingstore admin group``: who is in which department, tag and conversation.

A grant to a department, tag or conversation reaches its members (docs/permissions.md); dingstore
learns the members only from these commands. Departments are flat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from dingstore.cli import common
from dingstore.service import access, models
from dingstore.service.container import Services

app = typer.Typer(
    help="Departments, tags and conversations: put users in them, take them out, list them.",
    no_args_is_help=True,
)

CorpId = Annotated[str, typer.Option("--corp-id", help="The organization.")]
Kind = Annotated[
    str, typer.Option("--kind", help=f"One of {', '.join(access.GROUP_KINDS)}.", show_default=False)
]
Group = Annotated[
    str,
    typer.Option(
        "--group", "--group-id", help="deptId, tag name or openConversationId.", show_default=False
    ),
]
User = Annotated[str, typer.Option("--user", "--union-id", help="The user's unionId.")]


def _kind(text: str) -> str:
    kind = text.strip().upper()
    if kind not in access.GROUP_KINDS:
        raise typer.BadParameter(
            f"{text!r} is not one of {', '.join(access.GROUP_KINDS)}", param_hint="--kind"
        )
    return kind


def _member_json(m: models.GroupMember) -> dict[str, Any]:
    return {"corpId": m.corp_id, "kind": m.kind, "groupId": m.group_id, "unionId": m.union_id}


def _membership(remove: bool) -> Callable[..., None]:
    """The ``add`` command, or the ``remove`` one: the same options, another service call."""

    def command(
        corp_id: CorpId,
        kind: Kind,
        group_id: Group,
        union_id: User,
        data_dir: common.DataDir = None,
        database_url: common.DatabaseUrl = None,
        as_json: common.Json = False,
    ) -> None:
        m = models.GroupMember(corp_id, _kind(kind), group_id, union_id)

        async def work(s: Services) -> bool:
            if remove:
                return await s.identity.remove_from_group(m.corp_id, m.kind, m.group_id, m.union_id)
            await s.identity.add_to_group(m.corp_id, m.kind, m.group_id, m.union_id)
            return True

        changed = common.with_services(common.settings_from(data_dir, database_url), work)
        shown = _member_json(m)
        common.emit(as_json, {**shown, "removed": changed} if remove else shown)

    return command


app.command("add", help="Put a user of the organization in a department, tag or conversation.")(
    _membership(remove=False)
)
app.command(
    "remove",
    help="Take a user out of a department, tag or conversation (removed: whether they were in).",
)(_membership(remove=True))


@app.command("list")
def group_list(
    corp_id: CorpId,
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind.", show_default=False)
    ] = None,
    group_id: Annotated[
        str | None, typer.Option("--group", "--group-id", help="Only this group.")
    ] = None,
    data_dir: common.DataDir = None,
    database_url: common.DatabaseUrl = None,
    as_json: common.Json = False,
) -> None:
    """List the organization's memberships, by kind, group and user."""
    wanted = None if kind is None else _kind(kind)
    found = common.with_services(
        common.settings_from(data_dir, database_url), lambda s: s.identity.groups(corp_id, wanted)
    )
    rows = [_member_json(m) for m in found if group_id is None or m.group_id == group_id]
    if as_json:
        common.emit(as_json, {"members": rows})
        return
    shown = [(row["kind"], row["groupId"], row["unionId"]) for row in rows]
    columns = ("kind", "groupId", "unionId")
    common.console.print(common.table(f"groups of {corp_id}", columns, shown))
