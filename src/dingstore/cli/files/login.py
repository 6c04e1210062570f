"""``dingstore login``: check an app's credentials against a server and save them as a profile
(``credentials.py``: a file only its owner can read)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from dingstore.cli.files import credentials, session
from dingstore.cli.files.output import Output
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client


def _value(given: str | None, key: str, prompt: str, *, secret: bool = False) -> str:
    """A value from its option, else its ``DINGSTORE_*`` variable, else asked for."""
    if given:
        return given
    if env := os.environ.get(credentials.ENV[key]):
        return env
    return str(typer.prompt(prompt, hide_input=secret))


def login(
    endpoint: Annotated[
        str | None, typer.Option("--endpoint", help="host:port (http) or a URL.")
    ] = None,
    app_key: Annotated[str | None, typer.Option("--app-key")] = None,
    app_secret: Annotated[
        str | None,
        typer.Option(
            "--app-secret",
            help="Better left out: it is asked for without echo (or read from "
            "DINGSTORE_APP_SECRET), not left in the shell's history.",
        ),
    ] = None,
    union_id: Annotated[
        str | None, typer.Option("--union-id", help="The user the commands act as.")
    ] = None,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Check an app's credentials against a server and save them as a profile.

    The values come from the options, else DINGSTORE_ENDPOINT, DINGSTORE_APP_KEY,
    DINGSTORE_APP_SECRET and DINGSTORE_UNION_ID, else are asked for. The profile file
    ($DINGSTORE_CONFIG, or ~/.config/dingstore/profiles.json) is readable by you only (0600)."""
    out = Output(as_json)
    creds = credentials.Credentials(
        endpoint=_value(endpoint, "endpoint", "Endpoint (host:port)"),
        app_key=_value(app_key, "app_key", "appKey"),
        app_secret=_value(app_secret, "app_secret", "appSecret", secret=True),
        union_id=_value(union_id, "union_id", "unionId"),
    )
    with (
        session.guarded(out),
        Client(creds.endpoint, creds.app_key, creds.app_secret, creds.union_id) as c,
    ):
        corp_id = c.corp_id()  # a token, and the operator checked: GetCurrentApp
    path = credentials.save(creds, profile)
    name = profile or os.environ.get("DINGSTORE_PROFILE") or credentials.DEFAULT_PROFILE
    if out.json:
        out.record({"profile": name, "path": str(path), "corpId": corp_id})
    else:
        out.say(f"logged in to {creds.endpoint} (org {corp_id}); saved profile {name!r} in {path}")
