"""Ephemeral stores (``serve --ephemeral``, the pytest plugin): made for one server's life.

The metadata is SQLite in a fresh directory on tmpfs (``/dev/shm`` where there is one, else the
system's temporary directory) with ``synchronous = OFF``; file bytes live in memory
(``memory://``); the signing key is made in memory. The schema is created from the models
rather than migrated to (``store.database.create_schema``). The directory is removed when the
services close, or at the latest when the process exits normally; a process killed with
SIGKILL leaves a ``dingstore-*`` directory behind in ``/dev/shm``.
"""

from __future__ import annotations

import atexit
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from dingstore.settings import ConfigError, Settings

TMPFS = Path("/dev/shm")


def _base_dir() -> str | None:
    if TMPFS.is_dir() and os.access(TMPFS, os.W_OK | os.X_OK):
        return str(TMPFS)
    return None  # tempfile's choice


def prepare(settings: Settings) -> Path:
    """Point ``settings`` (changed in place: the app shares them) at a new throwaway store and
    return its directory. ``ConfigError`` if a database or blob URL was given as well."""
    given = [
        name
        for name, value in (
            ("DINGSTORE_DATABASE_URL", settings.database_url),
            ("DINGSTORE_BLOB_URL", settings.blob_url),
        )
        if value
    ]
    if given:
        raise ConfigError(
            f"--ephemeral (DINGSTORE_EPHEMERAL) keeps its store in memory; unset {', '.join(given)}"
        )
    directory = Path(tempfile.mkdtemp(prefix="dingstore-", dir=_base_dir()))
    atexit.register(remove, directory)
    settings.data_dir = directory
    settings.blob_url = "memory://"
    if settings.secret_key is None:
        settings.secret_key = secrets.token_urlsafe(48)
    return directory


def remove(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
