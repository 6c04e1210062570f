"""The ``dingstore`` command."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import typer.core

import dingstore
from dingstore import settings
from dingstore.cli import admin, common, serve, worker


class _Commands(typer.core.TyperGroup):
    """Every command runs inside ``invoke``: a setting that cannot work (``ConfigError``, from
    any check) ends it here, in one line and with exit status 2, as a bad flag does."""

    def invoke(self, ctx: Any) -> Any:  # a typer (click) Context
        try:
            return super().invoke(ctx)
        except settings.ConfigError as exc:
            common.fail(f"configuration: {exc}", status=2)


app = typer.Typer(
    cls=_Commands,
    help="dingstore: a self-hostable server for DingTalk's organization-storage open API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.add_typer(admin.app, name="admin")


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
