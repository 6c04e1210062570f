"""What the commands share: settings from flags over the environment, and running services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from dingstore import errors
from dingstore.service.container import Services, open_services
from dingstore.settings import Settings

T = TypeVar("T")

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data directory (env DINGSTORE_DATA_DIR).", show_default=False),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="Database URL (env DINGSTORE_DATABASE_URL).", show_default=False
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print exactly one JSON object.")]

console = Console()
err_console = Console(stderr=True)


def settings_from(
    data_dir: Path | None = None, database_url: str | None = None, **more: Any
) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in more.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)


def with_services(settings: Settings, work: Callable[[Services], Awaitable[T]]) -> T:
    """Open the store, run ``work`` on it, close it. Dingstore errors end the command cleanly."""

    async def main() -> T:
        services = await open_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except errors.DingstoreError as exc:
        err_console.print(f"[red]error:[/red] {exc.code}: {exc.message}")
        raise typer.Exit(1) from exc


def emit(as_json: bool, obj: dict[str, Any], human: str | None = None) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        console.print(human or "\n".join(f"[bold]{k}[/bold]: {v}" for k, v in obj.items()))
