"""``dingstore admin``: orgs, users, groups, apps and suites, apps' events (cli/events.py),
and backup and restore (cli/backups.py), on the store a server may be using."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.table import Table

from dingstore.cli import backups, events, groups
from dingstore.cli.common import (
    DatabaseUrl,
    DataDir,
    Json,
    console,
    emit,
    fail,
    settings_from,
    table,
    with_services,
)
from dingstore.service import models, scopes
from dingstore.service.container import Services

app = typer.Typer(
    help="Manage orgs, users, their groups, apps and third-party suites; back up and restore.",
    no_args_is_help=True,
)
org_app = typer.Typer(help="Organizations.", no_args_is_help=True)
user_app = typer.Typer(help="Users of an organization.", no_args_is_help=True)
app_app = typer.Typer(help="Internal apps (appKey / appSecret).", no_args_is_help=True)
suite_app = typer.Typer(help="Third-party enterprise apps (suites).", no_args_is_help=True)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(groups.app, name="group")
app.add_typer(app_app, name="app")
app.add_typer(suite_app, name="suite")
app.add_typer(events.app, name="events")
app_app.command("set-callback")(events.set_callback)
app.command("backup")(backups.backup)
app.command("restore")(backups.restore)

Scopes = Annotated[
    str | None,
    typer.Option("--scopes", help="Comma-separated scopes; default every storage scope."),
]


def _scopes(text: str | None) -> tuple[str, ...]:
    try:
        return scopes.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scopes") from exc


def _app_json(a: models.App) -> dict[str, Any]:
    return {
        "appId": a.app_id,
        "corpId": a.corp_id,
        "kind": a.kind,
        "name": a.name,
        "agentId": str(a.agent_id),
        "appKey": a.app_key,
        "suiteKey": a.suite_key,
        "scopes": list(a.scopes),
        "disabled": a.disabled,
    }


def _scope_summary(held: tuple[str, ...]) -> str:
    """Scopes in a few characters: ``all 14`` or ``3 of 14`` (``--json`` lists them)."""
    if set(held) == set(scopes.ALL):
        return f"all {len(scopes.ALL)}"
    return f"{len(held)} of {len(scopes.ALL)}"


def _of_org(
    what: str, corp_id: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> Table:
    """The table of a list command; of one org (``--corp-id``), without a corpId column."""
    if corp_id is None:
        return table(what, columns, rows, wrap={"name"})
    keep = [i for i, column in enumerate(columns) if column != "corpId"]
    return table(
        f"{what} of {corp_id}",
        [columns[i] for i in keep],
        [[row[i] for i in keep] for row in rows],
        wrap={"name"},
    )


@app.command("init")
def init(data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: Json = False) -> None:
    """Create a store with a first org, its admin user and an internal app holding every
    storage scope, as `serve` does on its first start; the appSecret is shown once."""
    made = with_services(
        settings_from(data_dir, database_url), lambda s: s.identity.bootstrap(), create=True
    )
    if made is None:
        fail(
            "this store already holds organizations; nothing was created "
            "(`dingstore admin org create` adds one)."
        )
    emit(
        as_json,
        {
            "corpId": made.org.corp_id,
            "unionId": made.admin.union_id,
            "appKey": made.credentials.app.app_key,
            "appSecret": made.credentials.app_secret,
            "agentId": str(made.credentials.app.agent_id),
        },
    )


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option("--name")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Create an organization."""
    org = with_services(
        settings_from(data_dir, database_url), lambda s: s.identity.create_org(name)
    )
    emit(as_json, {"corpId": org.corp_id})


@org_app.command("list")
def org_list(
    data_dir: DataDir = None, database_url: DatabaseUrl = None, as_json: Json = False
) -> None:
    """List organizations."""
    orgs = with_services(settings_from(data_dir, database_url), lambda s: s.identity.list_orgs())
    if as_json:
        emit(as_json, {"orgs": [{"corpId": o.corp_id, "name": o.name} for o in orgs]})
        return
    rows = [(o.corp_id, o.name) for o in orgs]
    console.print(table("orgs", ("corpId", "name"), rows, wrap={"name"}))


@user_app.command("create")
def user_create(
    corp_id: Annotated[str, typer.Option("--corp-id")],
    name: Annotated[str, typer.Option("--name")],
    admin: Annotated[bool, typer.Option("--admin", help="An org admin.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Create a user in an organization."""
    user = with_services(
        settings_from(data_dir, database_url),
        lambda s: s.identity.create_user(corp_id, name, admin=admin),
    )
    emit(as_json, {"unionId": user.union_id, "userId": user.user_id})


@user_app.command("list")
def user_list(
    corp_id: Annotated[str | None, typer.Option("--corp-id")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """List users, of one organization or of all."""
    users = with_services(
        settings_from(data_dir, database_url), lambda s: s.identity.list_users(corp_id)
    )
    if as_json:
        rows = [
            {
                "unionId": u.union_id,
                "userId": u.user_id,
                "corpId": u.corp_id,
                "name": u.name,
                "admin": u.is_admin,
            }
            for u in users
        ]
        emit(as_json, {"users": rows})
        return
    shown = [(u.union_id, u.user_id, u.corp_id, u.name, "yes" if u.is_admin else "") for u in users]
    columns = ("unionId", "userId", "corpId", "name", "admin")
    console.print(_of_org("users", corp_id, columns, shown))


@app_app.command("create")
def app_create(
    corp_id: Annotated[str, typer.Option("--corp-id")],
    name: Annotated[str, typer.Option("--name")],
    scope_list: Scopes = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Create an internal app; its appSecret is shown once."""
    wanted = _scopes(scope_list)
    creds = with_services(
        settings_from(data_dir, database_url),
        lambda s: s.identity.create_app(corp_id, name, wanted),
    )
    emit(
        as_json,
        {
            "appKey": creds.app.app_key,
            "appSecret": creds.app_secret,
            "agentId": str(creds.app.agent_id),
        },
    )


@app_app.command("list")
def app_list(
    corp_id: Annotated[str | None, typer.Option("--corp-id")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """List apps (internal and authorized suites)."""
    apps = with_services(
        settings_from(data_dir, database_url), lambda s: s.identity.list_apps(corp_id)
    )
    if as_json:
        emit(as_json, {"apps": [_app_json(a) for a in apps]})
        return
    # Whole ids over every field: appId and agentId, a suite's key and each scope are in --json.
    # A suite's app has no appKey: its appId is what --app-key takes.
    columns = ("appKey / appId", "corpId", "name", "kind", "scopes", "disabled")
    shown = [
        (
            a.app_key or a.app_id,
            a.corp_id,
            a.name,
            a.kind.lower(),
            _scope_summary(a.scopes),
            "yes" if a.disabled else "",
        )
        for a in apps
    ]
    console.print(_of_org("apps", corp_id, columns, shown))


@app_app.command("disable")
def app_disable(
    app_key: Annotated[str, typer.Option("--app-key", help="appKey or appId.")],
    enable: Annotated[bool, typer.Option("--enable", help="Enable it again instead.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Disable an app: its tokens stop working, it gets no new ones, and its change events are
    neither pushed nor streamed (they wait, within their retention, until it is enabled)."""
    found = with_services(
        settings_from(data_dir, database_url),
        lambda s: s.identity.disable_app(app_key, disabled=not enable),
    )
    emit(as_json, _app_json(found))


@app_app.command("rotate-secret")
def app_rotate_secret(
    app_key: Annotated[str, typer.Option("--app-key", help="appKey or appId.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Give an app a new appSecret; the old one and its tokens stop working."""
    creds = with_services(
        settings_from(data_dir, database_url), lambda s: s.identity.rotate_secret(app_key)
    )
    emit(as_json, {"appKey": creds.app.app_key, "appSecret": creds.app_secret})


@suite_app.command("create")
def suite_create(
    name: Annotated[str, typer.Option("--name")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Create a third-party enterprise app (suite)."""
    key, secret = with_services(
        settings_from(data_dir, database_url), lambda s: s.identity.create_suite(name)
    )
    emit(as_json, {"suiteKey": key, "suiteSecret": secret})


@suite_app.command("authorize")
def suite_authorize(
    suite_key: Annotated[str, typer.Option("--suite-key")],
    corp_id: Annotated[str, typer.Option("--corp-id")],
    scope_list: Scopes = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """An organization installs the suite; prints its suiteTicket."""
    wanted = _scopes(scope_list)

    async def work(s: Services) -> str:
        return await s.identity.authorize_suite(suite_key, corp_id, wanted)

    ticket = with_services(settings_from(data_dir, database_url), work)
    emit(as_json, {"suiteTicket": ticket})


def console_url(settings: Any, token: str) -> str:
    """The sign-in link of a console token, on the server's public URL."""
    return f"{settings.resolved_public_url}/console/signin/{token}"


@app.command("console-link")
def console_link(
    union_id: Annotated[str, typer.Option("--union-id", help="The user to sign in.")],
    corp_id: Annotated[str | None, typer.Option("--corp-id")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Print a one-time link that signs the user in to the web console (it expires in 10
    minutes; opening it once uses it up)."""
    settings = settings_from(data_dir, database_url)
    token = with_services(settings, lambda s: s.console.link(union_id, corp_id))
    link = console_url(settings, token)
    if as_json:
        emit(as_json, {"url": link, "expiresIn": 600})
        return
    print(link)
