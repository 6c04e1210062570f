"""What the commands share: settings from flags over the environment, and running services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import sqlalchemy as sa
import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dingstore import errors
from dingstore.service.container import Services, open_services
from dingstore.settings import Settings
from dingstore.store import database

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


class NoStore(Exception):
    """The configured data dir or database holds no dingstore store."""


def settings_from(
    data_dir: Path | None = None, database_url: str | None = None, **more: Any
) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in more.items() if v is not None}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url is not None:
        overrides["database_url"] = database_url
    return Settings(**overrides)


async def _missing_store(settings: Settings) -> str | None:
    """Why the configured store does not exist yet, or None if it does. Looks without creating
    anything: an SQLite file must be there, a PostgreSQL database must hold dingstore's schema."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if not path or path == ":memory:" or Path(path).is_file():
            return None
        return (
            f"no dingstore store in {settings.data_dir.resolve()} ({path} does not exist). "
            "Pass the data dir of an existing store (--data-dir or DINGSTORE_DATA_DIR)"
        )
    shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    db = database.database_for(url, pool_size=1)
    try:
        await db.open()
    except errors.DingstoreError:
        raise
    except Exception as exc:  # a database that does not exist, refused credentials, ...
        raise errors.STORE_UNAVAILABLE.error(f"cannot open the database {shown}: {exc}") from exc
    try:
        async with db.read() as conn:
            found = await conn.run_sync(lambda c: sa.inspect(c).has_table("alembic_version"))
    finally:
        await db.close()
    if found:
        return None
    return (
        f"the database {shown} holds no dingstore store. Pass the URL of an existing store "
        "(--database-url or DINGSTORE_DATABASE_URL)"
    )


def with_services(
    settings: Settings, work: Callable[[Services], Awaitable[T]], *, create: bool = False
) -> T:
    """Open the store, run ``work`` on it, close it. Dingstore errors end the command cleanly.
    A store that does not exist yet is refused (the command exits 1, nothing is created) unless
    ``create`` is set: only ``serve`` and ``admin init`` make a new one."""

    async def main() -> T:
        if not create and (missing := await _missing_store(settings)):
            raise NoStore(missing)
        services = await open_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        return asyncio.run(main())
    except NoStore as exc:
        fail(
            f"{exc}, or create one with `dingstore admin init` "
            "(`dingstore serve` also creates one on its first start)."
        )
    except errors.DingstoreError as exc:
        fail(f"{exc.code}: {exc.message}")


def require_store(settings: Settings) -> None:
    """End the command, creating nothing, when the configured store does not exist yet."""
    with_services(settings, _nothing)


async def _nothing(_services: Services) -> None:
    return None


def fail(message: str) -> NoReturn:
    """End the command: ``error: MESSAGE`` on stderr, on one line however long, exit status 1."""
    err_console.print("[red]error:[/red]", escape(message), highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def emit(as_json: bool, obj: dict[str, Any], human: str | None = None) -> None:
    if as_json:
        print(json.dumps(obj, ensure_ascii=False))
    else:
        console.print(human or "\n".join(f"[bold]{k}[/bold]: {v}" for k, v in obj.items()))


def table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], wrap: Collection[str] = ()
) -> Table:
    """A list for a terminal. Only the ``wrap`` columns (free text: names) wrap to make room;
    every other value, ids above all (they exist to be copied), is shown whole from 80 columns
    up. (On a narrower terminal a cut value ends in "…"; ``--json`` has everything.)"""
    shown = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1, 0, 0))
    for column in columns:
        if column in wrap:
            shown.add_column(column, overflow="fold")
        else:
            shown.add_column(column, no_wrap=True)
    for row in rows:
        shown.add_row(*(str(value) for value in row))
    return shown
