"""List the SQL statements one call of each small write runs: AddFolder, RenameDentry,
CommitFile and AddPermission, through dingstore's services on a fresh store (the admin acting,
as bench/writes.py's load does), each statement as the database gets it.

Every statement a service sends through the seam (``Writer.execute``, and the read connection's
``execute``) is recorded, with the transaction it ran in; ``BEGIN``/``COMMIT`` are the
transaction's own and counted apart. The upload of CommitFile (GetFileUploadInfo and the PUT of
its bytes) runs before and is not counted: only the commit.

Run: ``PYTHONPATH=src .venv/bin/python bench/statements.py [--backend sqlite|postgres]``.
Nothing is timed; it prints the statements of each operation and how many there are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import common
from common import out

OPERATIONS = ("add_folder", "rename_dentry", "commit_file", "add_permission")


class Recorder:
    """The statements sent through the seam while ``recording``."""

    def __init__(self) -> None:
        self.on = False
        self.depth = 0
        self.lines: list[str] = []

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[str]]:
        self.lines, self.on = [], True
        try:
            yield self.lines
        finally:
            self.on = False

    def add(self, where: str, statement: Any, dialect: Any) -> None:
        if not self.on:
            return
        text = str(statement.compile(dialect=dialect)) if hasattr(statement, "compile") else ""
        flat = re.sub(r"\s+", " ", text or str(statement))
        self.lines.append(f"{where}: {flat}")


def instrument(recorder: Recorder) -> None:
    """Wrap the seam's ``execute`` methods so that every statement is recorded."""
    from dingstore.store import base, postgres, sqlite

    def wrap(cls: type, where: str) -> None:
        original = cls.execute  # type: ignore[attr-defined]

        async def execute(self: Any, statement: Any, parameters: Any = None) -> Any:
            if recorder.depth == 0:  # a write's statement runs on a read connection's class
                recorder.add(where, statement, self.dialect)
            recorder.depth += 1
            try:
                return await original(self, statement, parameters)
            finally:
                recorder.depth -= 1

        cls.execute = execute  # type: ignore[attr-defined]

    wrap(base.Writer, "write")
    wrap(sqlite.LoopConnection, "read")
    wrap(postgres.ReadConnection, "read")


async def chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def run(backend: str, url: str | None, data_dir: Path) -> dict[str, list[str]]:
    from dingstore.blobs.keys import blob_key
    from dingstore.service import files, permissions
    from dingstore.service.spaces import NewSpace

    recorder = Recorder()
    instrument(recorder)
    found: dict[str, list[str]] = {}
    async with common.fresh_services(data_dir, common.free_port(), url) as (svc, tenant):
        admin = await common.actor(svc, tenant)
        new = NewSpace(name="statements", scene="bench", scene_id="s")
        space = str((await svc.spaces.add(admin, new)).id)
        target = await svc.dentries.add_folder(admin, space, "0", "target", None)
        # Warm: the first call of each may fill caches (prepared plans) that later calls share.
        for round_ in ("warm", "counted"):
            actor = await common.actor(svc, tenant)
            info = await svc.files.upload_info(
                actor,
                space,
                protocol="HEADER_SIGNATURE",
                multipart=False,
                storage_driver=None,
                check=files.PreCheck(),
            )
            await svc.blobs.write(
                blob_key(int(await _blob_of(svc, info.upload_key))), chunks(b"x" * 10)
            )
            calls = {
                "add_folder": lambda a, r=round_: svc.dentries.add_folder(
                    a, space, "0", f"folder-{r}", "RETURN_ERROR_IF_EXISTS"
                ),
                "rename_dentry": lambda a, r=round_: svc.dentries.rename(
                    a, space, str(target.id), f"renamed-{r}"
                ),
                "commit_file": lambda a, r=round_, k=info.upload_key: svc.files.commit(
                    a,
                    space,
                    files.Commit(
                        k, f"file-{r}.txt", "0", conflict_strategy="RETURN_ERROR_IF_EXISTS"
                    ),
                ),
                # A new grant each time (a department: its id needs no row of its own).
                "add_permission": lambda a, r=round_: svc.permissions.add(
                    a,
                    space,
                    str(target.id),
                    "EDITOR",
                    [permissions.MemberInput("DEPT", f"dept-{r}", tenant.corp_id)],
                    None,
                ),
            }
            for name in OPERATIONS:
                actor = await common.actor(svc, tenant)  # a request's own Actor (and memo)
                with recorder.recording() as lines:
                    await calls[name](actor)
                found[name] = list(lines)
    return found


async def _blob_of(svc: Any, upload_key: str) -> int:
    from dingstore.store import uploads

    async with svc.db.read() as conn:
        row = await uploads.get(conn, upload_key)
    return int(row.blob_id)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_backend_args(parser)
    args = parser.parse_args(argv)
    common.scrub_environment()
    with contextlib.ExitStack() as stack:
        data_dir = common.temp_dir(stack)
        url = (
            stack.enter_context(common.pg_database(args.pg_url))
            if args.backend == "postgres"
            else None
        )
        found = asyncio.run(run(args.backend, url, data_dir))
    for name, lines in found.items():
        out.print(f"[bold]{name}[/bold]: {len(lines)} statements (+ BEGIN/COMMIT)", highlight=False)
        for i, line in enumerate(lines, 1):
            out.print(f"  {i:2}. {line[:300]}", highlight=False, soft_wrap=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
