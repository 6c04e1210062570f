"""``dingstore serve``: the API server (and, in the embedded shape, everything else)."""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from rich.panel import Panel

from dingstore import logs
from dingstore.api import protocol, server
from dingstore.api.app import create_app
from dingstore.cli.common import (
    DatabaseUrl,
    DataDir,
    console,
    fail,
    settings_from,
    with_services,
)
from dingstore.service import seeding
from dingstore.service.container import Services
from dingstore.service.identity import Bootstrap
from dingstore.settings import Settings

log = logging.getLogger(__name__)


def _announce(made: Bootstrap, settings: Settings) -> None:
    host, port = settings.host, settings.port
    snippet = f"""\
from alibabacloud_dingtalk.oauth2_1_0 import models as oauth_models
from alibabacloud_dingtalk.oauth2_1_0.client import Client as OAuthClient
from alibabacloud_dingtalk.storage_1_0 import models as storage_models
from alibabacloud_dingtalk.storage_1_0.client import Client as StorageClient
from alibabacloud_tea_openapi.models import Config
from alibabacloud_tea_util.models import RuntimeOptions

config = Config(protocol="http", endpoint="{host}:{port}")
token = OAuthClient(config).get_access_token(oauth_models.GetAccessTokenRequest(
    app_key="{made.credentials.app.app_key}",
    app_secret="{made.credentials.app_secret}",
)).body.access_token
storage = StorageClient(config)
union_id = "{made.admin.union_id}"
# e.g. storage.get_task_with_options(task_id, storage_models.GetTaskRequest(union_id=union_id),
#          storage_models.GetTaskHeaders(x_acs_dingtalk_access_token=token), RuntimeOptions())"""
    console.print(
        Panel.fit(
            f"[bold]corpId[/bold]    {made.org.corp_id}\n"
            f"[bold]unionId[/bold]   {made.admin.union_id}  (admin)\n"
            f"[bold]appKey[/bold]    {made.credentials.app.app_key}\n"
            f"[bold]appSecret[/bold] {made.credentials.app_secret}",
            title="dingstore: first start — your org, admin and app",
        )
    )
    # Plain print: a terminal-wide panel would cut the secret in the snippet.
    print("The appSecret is shown this once; keep it. With the official Python SDK:\n")
    print(snippet, flush=True)


def _first_start(
    settings: Settings, seed: seeding.SeedFile | None, base: Path | None
) -> Callable[[Services], Awaitable[None]]:
    """What a start does to its store before serving: on a store without an org, load the seed
    file, or else make the default org, admin and app and show them."""

    async def start(services: Services) -> None:
        if seed is None:
            made = await services.identity.bootstrap()
            if made is not None:
                _announce(made, settings)
                token = await services.console.link(made.admin.union_id, made.org.corp_id)
                print(
                    "\nSign in to the web console as the admin (this link works once, for 10 "
                    "minutes;\n`dingstore admin console-link --union-id ...` makes another):\n"
                    f"  {settings.resolved_public_url}/console/signin/{token}\n",
                    flush=True,
                )
            return
        if await services.identity.list_orgs():
            log.info("the store has orgs already: the seed file %s is not loaded", settings.seed)
            return
        seeded = await seeding.apply(services, seed, base)
        orgs = ", ".join(f"{name} ({org.corp_id})" for name, org in seeded.orgs.items())
        print(f"dingstore: loaded {settings.seed}: {orgs}", flush=True)

    return start


def _bind(host: str, port: int) -> socket.socket:
    """The API's listening socket, bound before the store is opened: a port in use then stops
    the first start before it creates (and prints, once only) the org and its app."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        fail(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}. Nothing was created; "
            "free the port or choose another (--port, DINGSTORE_PORT)."
        )
    return sock


def serve(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Bind address (env DINGSTORE_HOST).")
    ] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (env DINGSTORE_PORT).")] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="Task workers in this process (env DINGSTORE_WORKERS)."),
    ] = None,
    no_workers: Annotated[
        bool,
        typer.Option("--no-workers", help="Serve the API only; `dingstore worker` runs tasks."),
    ] = False,
    ephemeral: Annotated[
        bool,
        typer.Option(
            "--ephemeral",
            help="A throwaway store in memory, gone on exit, for tests (env DINGSTORE_EPHEMERAL).",
        ),
    ] = False,
    seed: Annotated[
        Path | None,
        typer.Option(
            "--seed",
            help="Load this YAML or JSON file into a store without orgs (env DINGSTORE_SEED).",
            show_default=False,
        ),
    ] = None,
    test_mode: Annotated[
        bool,
        typer.Option(
            "--test-mode",
            help="Serve the /_dingstore/ test controls: reset, faults, task control, events, "
            "snapshots (docs/testing.md; env DINGSTORE_TEST_MODE). Loopback binds only.",
        ),
    ] = False,
    test_mode_force: Annotated[
        bool,
        typer.Option(
            "--test-mode-force",
            help="Allow --test-mode on a non-loopback bind: anyone who reaches the port can "
            "reset the store (env DINGSTORE_TEST_MODE_FORCE).",
        ),
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Answer unknown body fields and query parameters with 400 paramError "
            "(env DINGSTORE_STRICT).",
        ),
    ] = False,
) -> None:
    """Run the API server on the configured store (embedded SQLite + local files by default)."""
    settings = settings_from(
        data_dir,
        database_url,
        host=host,
        port=port,
        workers=0 if no_workers else workers,
        # a flag not given leaves the DINGSTORE_* variable's value
        ephemeral=ephemeral or None,
        seed=seed,
        test_mode=test_mode or None,
        test_mode_force=test_mode_force or None,
        strict=strict or None,
    )
    logs.configure(settings.log_level, json=settings.log_json)
    # checked before anything is bound or made: a bad entry ends the start with status 2
    loaded = seeding.load(settings.seed) if settings.seed is not None else (None, None)
    if settings.test_mode:
        log.warning("test mode: /_dingstore/ serves unauthenticated controls that reset the store")
    sock = _bind(settings.host, settings.port)
    first_start = _first_start(settings, *loaded)
    if not settings.ephemeral:
        with_services(settings, first_start, create=True)

    async def on_open(services: Services) -> None:
        if settings.ephemeral:  # its store lives in the server's own services: filled now
            await first_start(services)
        seed, base = loaded
        if seed is not None and services.test_controls is not None:

            async def reseed() -> None:  # after a reset of the whole store (test mode)
                await seeding.apply(services, seed, base)

            services.test_controls.reseed = reseed

    config = uvicorn.Config(
        create_app(settings, on_open=on_open),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=protocol.BoundedHttpProtocol,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # no X-Forwarded-* rewriting: nothing reads the client's address
        timeout_graceful_shutdown=30,
    )
    api = server.Server(config)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: uvicorn has shut down gracefully
        api.run(sockets=[sock])
    if not api.started:  # the app's start-up failed; uvicorn has logged why
        raise typer.Exit(3)
