"""``dingstore get``: files and folders of a space down to local disk.

Each file's bytes go to ``NAME.part`` first and take the file's name only once complete
(the client does it), so an interrupted get leaves no file half-written under its own name;
the ``.part`` files of the files in flight are removed. Running the same ``get`` again skips
the files already there with the same size (``--checksum``: and MD5).
"""

from __future__ import annotations

import functools
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
class Get:
    c: Client
    results: Results
    checksum: bool

    def file(self, remote: models.Dentry, local: Path) -> list[Job]:
        size = remote.size or 0
        shown = f"{remote.space_id}:{remote.path}"

        def work(bar: FileBar) -> dict[str, Any] | None:
            if checksums.unchanged(self.c, local, remote, self.checksum):
                return None
            # the client writes NAME.part and removes it if the download fails or is cut short
            self.c.download(remote, local, progress=lambda done, _: bar.to(done))
            return {"id": remote.id, "version": remote.version}

        self.results.one(str(local), shown, size, work)
        return []

    def tree(self, folder: models.Dentry, local: Path) -> list[Job]:
        """The jobs of everything in the remote ``folder``, going into the directory
        ``local``."""
        try:
            local.mkdir(parents=True, exist_ok=True)
            children = list(self.c.list(folder))
        except DingstoreError as error:
            shown = f"{folder.space_id}:{folder.path}"
            self.results.failure(shown, session.describe(error), error.code)
            return []
        except OSError as error:
            self.results.failure(str(local), error.strerror or str(error))
            return []
        files = [d for d in children if not d.is_folder]
        self.results.bars.add_total(len(files), sum(d.size or 0 for d in files))
        return [
            functools.partial(self.tree, d, local / d.name)
            if d.is_folder
            else functools.partial(self.file, d, local / d.name)
            for d in children
        ]


def _get(
    c: Client,
    out: Output,
    sources: list[RemotePath],
    dest: Path,
    transfers: int,
    checksum: bool,
    recursive: bool,
    dest_is_dir: bool,
) -> None:
    found = [session.resolve(c, s) for s in sources]
    for where, d in zip(sources, found, strict=True):
        if d.is_folder and not recursive:
            raise session.Refused(f"{where} is a folder: use -r")
    single = len(found) == 1 and not found[0].is_folder
    if not single and dest.exists() and not dest.is_dir():
        raise session.Refused(f"{dest} is a file: the destination must be a folder")
    with Transfers(out, "download", 0, 0) as bars:
        get = Get(c, Results(out, "downloaded", bars), checksum)
        jobs: list[Job] = []
        for d in found:
            if d.is_folder:
                jobs.append(functools.partial(get.tree, d, dest))
                continue
            bars.add_total(1, d.size or 0)
            into_dir = dest.is_dir() or not single or dest_is_dir
            if into_dir:
                dest.mkdir(parents=True, exist_ok=True)
            jobs.append(functools.partial(get.file, d, dest / d.name if into_dir else dest))
        run_jobs(c, transfers, jobs)
    get.results.finish()


def get(
    args: Annotated[
        list[str], typer.Argument(metavar="SPACE_ID:/SOURCE... LOCAL", show_default=False)
    ],
    recursive: Recursive = False,
    transfers: Parallel = 4,
    checksum: Checksum = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Download files, and with -r folders, to LOCAL.

    A folder's contents go into the directory LOCAL (made if missing), so running the same
    get again resumes it: files already there with the same size (--checksum: and MD5) are
    skipped. A file is written as NAME.part and renamed when complete: an interrupted get
    leaves no partial file under its name."""
    if len(args) < 2:
        raise typer.BadParameter("give SPACE_ID:/SOURCE... and LOCAL", param_hint="ARGS")
    sources = [paths.argument(a, "SOURCE") for a in args[:-1]]
    dest = Path(args[-1])
    if paths.is_remote(args[-1]):
        raise typer.BadParameter(
            f"{dest} is remote: get writes to a local path", param_hint="LOCAL"
        )
    out = Output(as_json)
    session.run(
        out,
        profile,
        lambda c: _get(
            c, out, sources, dest, transfers, checksum, recursive, args[-1].endswith("/")
        ),
        parallel=transfers,
    )
