"""Backup and restore of an embedded store (SQLite and local files) while it runs
(``dingstore admin backup`` / ``restore``, docs/deploy.md).

A backup is a directory: ``dingstore.db`` (SQLite's online backup: the store as of one commit,
``store/snapshots.py``), the files of the blobs that copy references under ``blobs/`` (the
store's own layout: ``blobs/blobs/<id>``, thumbnails under ``blobs/thumbnails/<id>``),
``secret.key`` when the store keeps its key in its data dir, and ``manifest.json`` last, with
every file's size and SHA-256: a directory without one is not a finished backup.

Why the copy is consistent although the server keeps writing:

* blobs written after the snapshot are not in it and are not copied (no file the copy does
  not reference);
* a blob the snapshot references cannot lose its file while the backup runs: a blob's bytes
  are deleted only ``DINGSTORE_BLOB_GRACE`` seconds (an hour by default) after its last
  reference went, and that reference was still there at the snapshot. A file is read through
  an open descriptor, so a deletion after the open changes nothing. Should a file still be
  missing (a grace shorter than the backup), the backup asks the live database: a blob no
  longer referenced was released and collected after the snapshot, and the backup starts over
  with a new snapshot (``ATTEMPTS`` times at most); a blob still referenced without its file is
  a damaged store, and the backup fails naming it.

A restore refuses a target that is not empty, checks every file against the manifest (size and
SHA-256) as it copies it, refuses a backup made by a later release (a schema revision this one
does not know), and frees the leases the backed-up processes held, so the restored store's
workers resume its tasks at once. The restored store is the embedded default (``DATA_DIR/
dingstore.db``, ``DATA_DIR/blobs``); ``serve`` upgrades its schema if it is older.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dingstore
from dingstore.blobs import stores
from dingstore.blobs.keys import blob_key, thumbnail_key
from dingstore.clock import SYSTEM, Clock
from dingstore.settings import Settings
from dingstore.store import database, snapshots

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = "dingstore.db"
SECRET = "secret.key"
BLOBS = "blobs"
ATTEMPTS = 3
PIECE = 1024 * 1024
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


class BackupError(Exception):
    """A backup or restore that cannot be made; the message says why (the CLI prints it)."""


@dataclass(frozen=True)
class Summary:
    """What a backup or restore copied."""

    revision: str
    files: int
    size: int
    attempts: int = 1
    tasks_freed: int = 0


# --- backup ------------------------------------------------------------------------------------


def backup(
    settings: Settings, target: Path, *, after_snapshot: Callable[[], None] | None = None
) -> Summary:
    """Copy the store ``settings`` select into the new directory ``target``, while it serves.
    ``after_snapshot`` runs between the database's copy and the blobs' (tests race it)."""
    source = snapshots.sqlite_path(settings.resolved_database_url)
    blob_root = stores.local_root(settings)
    if source is None or blob_root is None:
        raise BackupError(
            "admin backup copies an embedded store (SQLite and local files); back up PostgreSQL "
            "and the bucket with their own tools, as docs/deploy.md says"
        )
    if not source.is_file():
        raise BackupError(f"no dingstore store at {source}")
    _new_directory(target)
    for attempt in range(1, ATTEMPTS + 1):
        copied: dict[str, dict[str, Any]] = {}
        (target / DATABASE).unlink(missing_ok=True)
        snapshots.copy_database(source, target / DATABASE)
        os.chmod(target / DATABASE, PRIVATE_FILE)
        copied[DATABASE] = _describe(target / DATABASE)
        wanted = snapshots.referenced(target / DATABASE)
        if after_snapshot is not None:
            after_snapshot()
        keys = [blob_key(i) for i in wanted.blob_ids]
        missing = [i for i, key in zip(wanted.blob_ids, keys, strict=True)
                   if not _copy_key(blob_root, target, key, copied)]  # fmt: skip
        if missing:
            damaged = snapshots.still_referenced(source, missing)
            if damaged:
                raise BackupError(
                    f"the store is damaged: blobs {damaged[:10]} are referenced but their files "
                    f"are missing under {blob_root}"
                )
            shutil.rmtree(target / BLOBS, ignore_errors=True)
            continue  # collected after the snapshot: a new snapshot does not reference them
        # What the snapshot needs less strictly, copied when its file is there: thumbnails (made
        # again when missing), and the bytes of uploads not yet committed.
        for blob_id in wanted.thumbnail_ids:
            _copy_key(blob_root, target, thumbnail_key(blob_id), copied)
        for blob_id, multipart_id in wanted.uploads:
            _copy_key(blob_root, target, blob_key(blob_id), copied)
            if multipart_id is not None:
                _copy_parts(blob_root, target, multipart_id, copied)
        if settings.secret_key is None and (settings.data_dir / SECRET).is_file():
            _copy_file(settings.data_dir / SECRET, target / SECRET, copied, SECRET)
        _finish(target, wanted.revision, copied)
        return Summary(wanted.revision, len(copied), _total(copied), attempts=attempt)
    raise BackupError(
        f"blobs were collected during the backup {ATTEMPTS} times: DINGSTORE_BLOB_GRACE "
        f"({settings.blob_grace} s) must be longer than a backup takes"
    )


def _new_directory(path: Path) -> None:
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise BackupError(f"{path} is not an empty directory; nothing was written")
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def _copy_key(root: Path, target: Path, key: str, copied: dict[str, dict[str, Any]]) -> bool:
    """Copy the blob store's object ``key``; False when it has no file."""
    name = f"{BLOBS}/{key}"
    return _copy_file(root / key, target / name, copied, name)


def _copy_parts(
    root: Path, target: Path, upload_id: str, copied: dict[str, dict[str, Any]]
) -> None:
    folder = root / ".parts" / upload_id
    if not folder.is_dir():
        return
    for path in sorted(folder.iterdir()):
        name = f"{BLOBS}/.parts/{upload_id}/{path.name}"
        _copy_file(path, target / name, copied, name)


def _copy_file(source: Path, to: Path, copied: dict[str, dict[str, Any]], name: str) -> bool:
    """Copy one file, hashing it as it goes; False when ``source`` does not exist."""
    try:
        src = source.open("rb")
    except FileNotFoundError:
        return False
    with src:
        _private_dirs(to.parent)
        digest, size = hashlib.sha256(), 0
        with os.fdopen(os.open(to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE), "wb") as f:
            while piece := src.read(PIECE):
                digest.update(piece)
                f.write(piece)
                size += len(piece)
        _copy_stat(src.fileno(), to)
    copied[name] = {"size": size, "sha256": digest.hexdigest()}
    return True


def _copy_stat(fd: int, to: Path) -> None:
    """The times and extended attributes (the local store keeps a file's ETag in one) of the
    open file ``fd`` onto ``to``; read from the descriptor: the file may be gone by its name."""
    st = os.fstat(fd)
    os.utime(to, ns=(st.st_atime_ns, st.st_mtime_ns))
    with contextlib.suppress(OSError, AttributeError):  # a file system without them
        for name in os.listxattr(fd):
            os.setxattr(to, name, os.getxattr(fd, name))


def _private_dirs(path: Path) -> None:
    """``mkdir -p``, every directory it makes readable by its owner only (``Path.mkdir`` gives
    the parents it makes the default mode)."""
    if path.is_dir():
        return
    _private_dirs(path.parent)
    path.mkdir(mode=PRIVATE_DIR, exist_ok=True)


def _describe(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while piece := f.read(PIECE):
            digest.update(piece)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _total(copied: dict[str, dict[str, Any]]) -> int:
    return sum(int(entry["size"]) for entry in copied.values())


def _finish(target: Path, revision: str, copied: dict[str, dict[str, Any]]) -> None:
    """Make every copied file durable, then write the manifest (fsynced, renamed into place):
    its presence says the backup is whole."""
    os.sync()
    manifest = {
        "format": FORMAT,
        "dingstore": dingstore.__version__,
        "revision": revision,
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "files": copied,
    }
    tmp = target / f".{MANIFEST}.tmp"
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target / MANIFEST)
    _fsync_dir(target)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- restore -----------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of the backup in ``source``, checked for a format and a schema this release
    can restore."""
    try:
        manifest = json.loads((source / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{source} holds no finished backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"{source / MANIFEST} cannot be read: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{source / MANIFEST}: not a backup format this dingstore reads")
    revision = str(manifest.get("revision"))
    if not database.known_revision(revision):
        raise BackupError(
            f"the backup's schema is at revision {revision}, which dingstore "
            f"{dingstore.__version__} does not know: restore it with the release that made it "
            f"({manifest.get('dingstore')}) or a later one"
        )
    if DATABASE not in manifest.get("files", {}):
        raise BackupError(f"{source / MANIFEST} names no {DATABASE}")
    return manifest


def restore(source: Path, data_dir: Path, *, clock: Clock = SYSTEM) -> Summary:
    """Bring the backup in ``source`` back as a new embedded store in ``data_dir`` (absent or
    empty), checking every file against the manifest; on any mismatch nothing is left."""
    manifest = read_manifest(source)
    files: dict[str, dict[str, Any]] = manifest["files"]
    created = not data_dir.exists()
    _new_directory(data_dir)
    try:
        for name, expected in _in_order(files):
            _restore_file(source, data_dir, name, expected)
        os.sync()
        freed, _ = snapshots.free_leases(data_dir / DATABASE, clock.now_ms())
    except BaseException:
        _empty(data_dir, remove=created)
        raise
    return Summary(str(manifest["revision"]), len(files), _total(files), tasks_freed=freed)


def _in_order(files: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name in sorted(files):
        path = Path(name)
        if path.is_absolute() or ".." in path.parts:
            raise BackupError(f"the manifest names {name!r}, outside the backup")
        yield name, files[name]


def _restore_file(source: Path, data_dir: Path, name: str, expected: dict[str, Any]) -> None:
    copied: dict[str, dict[str, Any]] = {}
    if not _copy_file(source / name, data_dir / name, copied, name):
        raise BackupError(f"the backup lacks {name}, which its manifest names")
    got = copied[name]
    if (got["size"], got["sha256"]) != (expected.get("size"), expected.get("sha256")):
        raise BackupError(
            f"{source / name} does not match the manifest (size {got['size']}, expected "
            f"{expected.get('size')}; or its SHA-256 differs): the backup is damaged"
        )


def _empty(data_dir: Path, *, remove: bool) -> None:
    """Undo a failed restore: the target is left as it was found (absent or empty)."""
    if remove:
        shutil.rmtree(data_dir, ignore_errors=True)
        return
    for entry in data_dir.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
