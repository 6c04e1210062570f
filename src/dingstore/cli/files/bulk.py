"""``dingstore cp``, ``mv`` and ``rm``: the API's bulk operations, batched within its limits (3
ids a copy call, 30 a move, 50 a delete: the client does it), followed to their end."""

from __future__ import annotations

import enum
from typing import Annotated

import typer

from dingstore.cli.files import following, paths, session
from dingstore.cli.files.output import Output
from dingstore.cli.files.paths import RemotePath
from dingstore.cli.files.session import Json, Profile
from dingstore.client import Client, models


class OnConflict(enum.StrEnum):
    fail = "fail"
    rename = "rename"
    overwrite = "overwrite"
    skip = "skip"

    @property
    def strategy(self) -> models.Conflict:
        strategies: dict[str, models.Conflict] = {
            "fail": "RETURN_ERROR_IF_EXISTS",
            "rename": "AUTO_RENAME",
            "overwrite": "OVERWRITE",
            "skip": "RETURN_DENTRY_IF_EXISTS",
        }
        return strategies[self.value]


Sources = Annotated[list[str], typer.Argument(metavar="SPACE_ID:/SOURCE...", show_default=False)]
Dest = Annotated[str, typer.Argument(metavar="SPACE_ID:/DEST", show_default=False)]
Conflict = Annotated[
    OnConflict,
    typer.Option(
        "--conflict",
        help="When DEST already holds that name: fail (that item), rename (name(1)), "
        "overwrite (a file: a new version; a folder: merge), skip.",
    ),
]
NoWait = Annotated[
    bool, typer.Option("--no-wait", help="Print the ids of the server tasks and return at once.")
]


def _sources(c: Client, texts: list[str]) -> tuple[list[models.Dentry], dict[str, str]]:
    found, names = [], {}
    for text in texts:
        where = paths.argument(text, "SOURCE")
        if where.is_root:
            raise session.Refused(f"{where} is the root of a space: name what is in it")
        d = session.resolve(c, where)
        found.append(d)
        names[d.id] = str(where)
    return found, names


def _destination(
    c: Client, dest: RemotePath, sources: list[models.Dentry]
) -> tuple[models.Dentry, str | None]:
    """The folder the sources go into, and the new name of a single source when DEST names
    one not yet there (``cp a SPACE:/b`` makes ``b``)."""
    target = c.resolve(dest.space, dest.path)
    if target is not None and target.is_folder:
        return target, None
    if target is not None:
        raise session.Refused(f"{dest} is a file: the destination must be a folder")
    if dest.trailing_slash or len(sources) > 1:
        raise session.NotFound(f"no such folder: {dest}")
    parent = session.resolve(c, dest.parent)
    if not parent.is_folder:
        raise session.NotFound(f"not a folder: {dest.parent}")
    return parent, dest.name


def cp(
    sources: Sources,
    dest: Dest,
    conflict: Conflict = OnConflict.fail,
    no_wait: NoWait = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Copy files and folders into a folder, in this space or another.

    Folders are copied whole, by the server in the background: a bar shows the task's counts
    (--no-wait prints its id instead). One source may be given a new name: DEST not there
    yet, its parent folder there."""
    _transfer("copy", sources, dest, conflict, no_wait, as_json, profile)


def mv(
    sources: Sources,
    dest: Dest,
    conflict: Conflict = OnConflict.fail,
    no_wait: NoWait = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Move files and folders into a folder, in this space or another; or rename one.

    They keep their ids. A folder with children moves in a server task: a bar shows its
    counts (--no-wait prints its id instead). DEST not there yet, its parent folder there:
    the one source takes that name."""
    _transfer("move", sources, dest, conflict, no_wait, as_json, profile)


def _transfer(
    verb: str,
    texts: list[str],
    dest_text: str,
    conflict: OnConflict,
    no_wait: bool,
    as_json: bool,
    profile: str | None,
) -> None:
    out = Output(as_json)
    dest = paths.argument(dest_text, "DEST")

    def work(c: Client) -> None:
        sources, names = _sources(c, texts)
        folder, new_name = _destination(c, dest, sources)
        if new_name is not None:
            _one_with_new_name(c, out, verb, sources[0], folder, new_name, names, no_wait)
            return
        if verb == "copy":
            task = c.copy(sources, folder, conflict=conflict.strategy)
        else:
            task = c.move(sources, folder, conflict=conflict.strategy)
        following.finish(out, task, verb, names, wait=not no_wait)

    session.run(out, profile, work)


def _one_with_new_name(
    c: Client,
    out: Output,
    verb: str,
    source: models.Dentry,
    folder: models.Dentry,
    new_name: str,
    names: dict[str, str],
    no_wait: bool,
) -> None:
    """Copy or move one source into ``folder`` as ``new_name``: a rename alone when it stays
    in its folder; else the copy or move (under a free name), then, once it is done, a
    rename. Renaming waits for the copy or move to end, so ``--no-wait`` is refused."""
    if verb == "move" and folder.space_id == source.space_id and folder.id == source.parent_id:
        renamed = c.rename(source, new_name)
        _said(out, verb, names[source.id], renamed)
        return
    if no_wait:
        raise session.Refused(
            "--no-wait needs an existing destination folder (a new name is given after the "
            f"{verb} ends)"
        )
    if verb == "copy":
        task = c.copy(source, folder, conflict="AUTO_RENAME")
    else:
        task = c.move(source, folder, conflict="AUTO_RENAME")
    target = task.items[0].target if task.items else None
    following.finish(out, task, verb, names)
    if target is None:
        return
    renamed = c.rename(target, new_name)
    _said(out, "rename", f"{folder.path.rstrip('/')}/{source.name}", renamed)


def _said(out: Output, verb: str, source: str, d: models.Dentry) -> None:
    if out.json:
        out.record(
            {
                "source": source,
                verb: True,
                "targetSpaceId": d.space_id,
                "targetId": d.id,
                "path": d.path,
            }
        )
    else:
        out.say(f"{verb}: {source} → {d.space_id}:{d.path}")


def rm(
    targets: Annotated[list[str], typer.Argument(metavar="SPACE_ID:/PATH...", show_default=False)],
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Folders too, with all they hold.")
    ] = False,
    permanent: Annotated[
        bool,
        typer.Option(
            "--permanent",
            help="Delete for good, bypassing the recycle bin: it cannot be undone.",
        ),
    ] = False,
    no_wait: NoWait = False,
    as_json: Json = False,
    profile: Profile = None,
) -> None:
    """Delete files and folders: to the recycle bin, unless --permanent.

    By default they go to the org's recycle bin, where `dingstore trash restore` gets them
    back (DingTalk's own API deletes for good by default; this command does not). Folders
    need -r; a folder with children is deleted in a server task, with a bar of its counts."""
    out = Output(as_json)

    def work(c: Client) -> None:
        found, names = _sources(c, targets)
        folders = [names[d.id] for d in found if d.is_folder]
        if folders and not recursive:
            raise session.Refused(f"{folders[0]} is a folder: use -r to delete folders")
        task = c.delete(found, permanent=permanent)
        verb = "delete" if permanent else "delete to the recycle bin"
        following.finish(out, task, verb, names, wait=not no_wait)

    session.run(out, profile, work)
