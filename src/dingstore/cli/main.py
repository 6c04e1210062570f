"""The ``dingstore`` command."""

from __future__ import annotations

import typer

from dingstore.cli import admin, serve, worker

app = typer.Typer(
    help="dingstore: a self-hostable server for DingTalk's organization-storage open API.",
    no_args_is_help=True,
    add_completion=False,
)
app.command("serve")(serve.serve)
app.command("worker")(worker.worker)
app.add_typer(admin.app, name="admin")
