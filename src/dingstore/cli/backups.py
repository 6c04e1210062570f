"""``dingstore admin backup`` and ``dingstore admin restore``: an embedded store copied while
it serves, and brought back into a new data dir (service/backups.py says how)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dingstore.cli.common import DatabaseUrl, DataDir, Json, emit, fail, settings_from
from dingstore.service import backups


def backup(
    to: Annotated[Path, typer.Option("--to", help="A new (or empty) directory for the backup.")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Json = False,
) -> None:
    """Back up an embedded store (SQLite and local files) while it serves and runs tasks: the
    database as of one commit and the files it references, with a manifest of checksums."""
    settings = settings_from(data_dir, database_url)
    try:
        done = backups.backup(settings, to)
    except backups.BackupError as exc:
        fail(str(exc))
    emit(
        as_json,
        {
            "backup": str(to),
            "revision": done.revision,
            "files": done.files,
            "bytes": done.size,
            "attempts": done.attempts,
        },
    )


def restore(
    source: Annotated[Path, typer.Option("--from", help="The directory of a backup.")],
    data_dir: Annotated[
        Path,
        typer.Option("--data-dir", help="The new store's data dir: absent or empty."),
    ],
    as_json: Json = False,
) -> None:
    """Restore a backup into a new data dir, checking every file against its manifest; then
    `dingstore serve --data-dir` it (which upgrades an older schema)."""
    try:
        done = backups.restore(source, data_dir)
    except backups.BackupError as exc:
        fail(str(exc))
    emit(
        as_json,
        {
            "dataDir": str(data_dir),
            "revision": done.revision,
            "files": done.files,
            "bytes": done.size,
            "tasksResumed": done.tasks_freed,
        },
    )
