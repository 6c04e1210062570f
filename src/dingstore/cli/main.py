"""The ``dingstore`` command.

The server's commands (``serve``, ``worker``, ``admin``) are imported only when one of them
runs (or ``--help`` lists them): the file commands are a client of a server, and loading the
server's modules would add seconds to every ``dingstore ls``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any

import typer
import typer.core
import typer.main
from rich.console import Console
from rich.markup import escape

import dingstore
from dingstore.cli.files import bulk, feed, get, listing, login, put, spaces, tasks, trash

SERVER_PANEL = "Server"
SERVER_COMMANDS = {
    "serve": "Run the API server on the configured store (embedded SQLite + local files by "
    "default).",
    "worker": "Run tasks until SIGTERM or SIGINT (the scale-out shape's worker processes).",
    "admin": "Manage orgs, users, their groups, apps and third-party suites; back up and restore.",
}
"""Each the function (``admin``: the Typer app ``app``) of the module of its name in cli/, and
the line ``dingstore --help`` lists it with (without importing the server for it)."""


def _server_command(name: str) -> Any:  # a typer (click) Command
    module = importlib.import_module(f"dingstore.cli.{name}")
    holder = typer.Typer(add_completion=False)
    if name == "admin":
        holder.add_typer(module.app, name=name, short_help=SERVER_COMMANDS[name])
        group = typer.main.get_command(holder)
        assert isinstance(group, typer.core.TyperGroup)
        command = group.commands[name]
    else:
        holder.command(name, short_help=SERVER_COMMANDS[name])(getattr(module, name))
        command = typer.main.get_command(holder)
    command.rich_help_panel = SERVER_PANEL  # type: ignore[attr-defined]
    return command


def _listed(name: str) -> Any:
    """What the help's listing needs of a server command: its name, panel and line."""
    listed = typer.core.TyperCommand(name, short_help=SERVER_COMMANDS[name])
    listed.rich_help_panel = SERVER_PANEL
    return listed


class _Commands(typer.core.TyperGroup):
    """Every command runs inside ``invoke``: a setting that cannot work (``ConfigError``, from
    any check) ends it here, in one line and with exit status 2, as a bad flag does."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*SERVER_COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in SERVER_COMMANDS:
            return _listed(cmd_name) if self._listing else _server_command(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True  # the server's modules take seconds to import: list them unloaded
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def invoke(self, ctx: Any) -> Any:  # a typer (click) Context
        try:
            return super().invoke(ctx)
        except Exception as exc:
            settings = sys.modules.get("dingstore.settings")  # loaded if a check could fail
            if settings is None or not isinstance(exc, settings.ConfigError):
                raise
            Console(stderr=True).print(
                "[red]error:[/red]",
                escape(f"configuration: {exc}"),
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Commands,
    help="dingstore: a self-hostable server for DingTalk's organization-storage open API.",
    no_args_is_help=True,
    add_completion=False,
)
# The file commands (docs/cli.md): a client of a server, through its API only.
FILES = "Files (a client of a server: docs/cli.md)"
app.command("ls", rich_help_panel=FILES)(listing.ls)
app.command("put", rich_help_panel=FILES)(put.put)
app.command("get", rich_help_panel=FILES)(get.get)
app.command("cp", rich_help_panel=FILES)(bulk.cp)
app.command("mv", rich_help_panel=FILES)(bulk.mv)
app.command("rm", rich_help_panel=FILES)(bulk.rm)
app.command("mkdir", rich_help_panel=FILES)(listing.mkdir)
app.command("spaces", rich_help_panel=FILES)(spaces.spaces)
app.command("mkspace", rich_help_panel=FILES)(spaces.mkspace)
app.add_typer(trash.app, name="trash", rich_help_panel=FILES)
app.add_typer(tasks.app, name="tasks", rich_help_panel=FILES)
app.add_typer(feed.app, name="events", rich_help_panel=FILES)
app.command("login", rich_help_panel=FILES)(login.login)


def _version(wanted: bool) -> None:
    if wanted:
        print(f"dingstore {dingstore.__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """dingstore: a self-hostable server for DingTalk's organization-storage open API."""
