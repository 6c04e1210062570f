"""The ``dingstore`` command."""

from __future__ import annotations

from typing import Annotated

import typer

import dingstore
from dingstore.cli import admin, serve, worker

app = typer.Typer(
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
