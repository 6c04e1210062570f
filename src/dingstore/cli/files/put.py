"""``dingstore put``: local files and folders up into a space.

A file is committed only once all its bytes are stored (CommitFile after the PUTs), so a
transfer cut short — Ctrl-C, a lost connection — leaves no file half-written: its upload is
never committed and the server collects it. Running the same ``put`` again skips what is
already there (same name and size; ``--checksum``: same MD5 too) and sends the rest, a file
that differs becoming a new version of the one there.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from dingstore.cli.files import checksums, paths, session
from dingstore.cli.files.output import Output
from dingstore.cli.files.paths import RemotePath
from dingstore.cli.files.progress import FileBar, Transfers
from dingstore.cli.files.session import Json, Profile
from dingstore.cli.files.transfers import Checksum, Job, Parallel, Recursive, Results, run_jobs
from dingstore.client import Client, DingstoreError, models


@dataclass
class Put:
    c: Client
    results: Results
    checksum: bool

    def file(
        self, local: Path, folder: models.Dentry, name: str, there: models.Dentry | None
    ) -> list[Job]:
        size = local.stat().st_size
        remote = f"{folder.space_id}:{folder.path.rstrip('/')}/{name}"

        def work(bar: FileBar) -> dict[str, Any] | None:
            if there is not None:
                if there.is_folder:
                    raise DingstoreError("dentryAlreadyExist", f"{remote} is a folder")
                if checksums.unchanged(self.c, local, there, self.checksum):
                    return None
            made = self.c.upload(
                local, folder, name, conflict="OVERWRITE", progress=lambda done, _: bar.to(done)
            )
            return {"id": made.id, "version": made.version}

        self.results.one(str(local), remote, size, work)
        return []

    def tree(self, local: Path, folder: models.Dentry, fresh: bool = False) -> list[Job]:
        """The jobs of the contents of the local folder ``local``, going into the remote
        ``folder`` (``fresh``: just made, so nothing is there to compare)."""
        try:
            there = {} if fresh else {d.name: d for d in self.c.list(folder)}
        except DingstoreError as error:
            self.results.failure(str(local), session.describe(error), error.code)
            return []
        jobs: list[Job] = []
        for entry in sorted(os.scandir(local), key=lambda e: e.name):
            path, found = Path(entry.path), there.get(entry.name)
            if entry.is_dir():
                jobs.append(functools.partial(self.folder, path, folder, found))
            elif entry.is_file():
                jobs.append(functools.partial(self.file, path, folder, entry.name, found))
        return jobs

    def folder(self, local: Path, parent: models.Dentry, there: models.Dentry | None) -> list[Job]:
        if there is not None and not there.is_folder:
            self.results.failure(str(local), f"{there.path} is a file", "dentryAlreadyExist")
            return []
        if there is not None:
            return self.tree(local, there)
        try:
            made = self.c.create_folder(parent, local.name, conflict="RETURN_DENTRY_IF_EXISTS")
        except DingstoreError as error:
            self.results.failure(str(local), session.describe(error), error.code)
            return []
        return self.tree(local, made, fresh=True)


def _local_totals(sources: list[Path]) -> tuple[int, int]:
    files = size = 0
    for source in sources:
        if source.is_file():
            files, size = files + 1, size + source.stat().st_size
            continue
        for top, _, names in os.walk(source):
            for name in names:
                path = Path(top, name)
                if path.is_file():
                    files, size = files + 1, size + path.stat().st_size
    return files, size


def _put(
    c: Client, out: Output, sources: list[Path], dest: RemotePath, transfers: int, checksum: bool
) -> None:
    files, size = _local_totals(sources)
    target = c.resolve(dest.space, dest.path)
    single = len(sources) == 1 and sources[0].is_file()
    name: str | None = None
    there: models.Dentry | None = None
    if target is not None and not target.is_folder:
        if not single:
            raise session.Refused(f"{dest} is a file: the destination must be a folder")
        folder, name, there = session.resolve(c, dest.parent), dest.name, target
    elif target is None and single and not dest.trailing_slash:
        folder, name = session.resolve(c, dest.parent), dest.name  # put a.txt SPACE:/b.txt
        if not folder.is_folder:
            raise session.NotFound(f"not a folder: {dest.parent}")
    else:
        folder = target or c.make_folders(dest.space, dest.path)
    with Transfers(out, "upload", files, size) as bars:
        put = Put(c, Results(out, "uploaded", bars), checksum)
        jobs: list[Job] = []
        if name is not None:
            jobs.append(functools.partial(put.file, sources[0], folder, name, there))
        else:
            listing = {d.name: d for d in c.list(folder)}
            for source in sources:
                if source.is_dir():
                    jobs.append(functools.partial(put.tree, source, folder))
                else:
                    found = listing.get(source.name)
                    jobs.append(functools.partial(put.file, source, folder, source.name, found))
        run_jobs(c, transfers, jobs)
    put.results.finish()


def put(
    args: Annotated[
        list[str], typer.Argument(metavar="LOCAL... SPACE_ID:/DEST", show_default=False)
    ],
    recursive: Recursive = False,
    transfers: Parallel = 4,
    checksum: Checksum = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Upload files, and with -r folders, to DEST.

    A folder's contents go into the folder DEST (made if missing), so running the same put
    again resumes it: files already there with the same size (--checksum: and MD5) are
    skipped, others sent (a changed file becomes a new version). One file may be given a new
    name (DEST not an existing folder, no trailing /). A file is only committed once all its
    bytes are stored: an interrupted put leaves no partial file."""
    if len(args) < 2:
        raise typer.BadParameter("give LOCAL... and SPACE_ID:/DEST", param_hint="ARGS")
    dest = paths.argument(args[-1], "DEST")
    sources = [Path(a) for a in args[:-1]]
    out = Output(as_json)
    for source in sources:
        if paths.is_remote(str(source)):
            raise typer.BadParameter(
                f"{source} is remote: put sends local files", param_hint="LOCAL"
            )
        if not source.exists():
            with session.guarded(out):
                raise session.NotFound(f"no such local file or folder: {source}")
        if source.is_dir() and not recursive:
            raise typer.BadParameter(f"{source} is a folder: use -r", param_hint="LOCAL")
    session.run(
        out,
        profile,
        lambda c: _put(c, out, sources, dest, transfers, checksum),
        parallel=transfers,
    )
