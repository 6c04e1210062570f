"""Seed files: orgs, users, apps, spaces, folders and files, loaded into a store in one go.

The format is documented in docs/testing.md ("Seed files"). A file is YAML (``.yaml``/``.yml``)
or JSON (anything else); it is read and checked whole before anything is written, and every
problem is a ``ConfigError`` that names the entry, e.g. ``seed.yaml: orgs[0] (Acme) spaces[1]
files[2]: give content or source, not both``. ``serve --seed FILE`` reports it in one line and
exits with status 2.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from dingstore import errors
from dingstore.blobs.keys import blob_key
from dingstore.service import files as file_service
from dingstore.service import models, scopes
from dingstore.service.spaces import NewSpace
from dingstore.settings import ConfigError

if TYPE_CHECKING:
    from dingstore.service.container import Services

# --- the format ------------------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class UserEntry(_Entry):
    name: str = Field(min_length=1)
    union_id: str | None = Field(None, alias="unionId", min_length=1, max_length=64)
    admin: bool = False


class AppEntry(_Entry):
    name: str = Field(min_length=1)
    app_key: str | None = Field(None, alias="appKey", min_length=1, max_length=64)
    app_secret: str | None = Field(None, alias="appSecret", min_length=8)
    scopes: list[str] | None = None

    @model_validator(mode="after")
    def _known_scopes(self) -> AppEntry:
        unknown = [s for s in self.scopes or () if s not in scopes.ALL]
        if unknown:
            raise ValueError(f"unknown scopes {unknown}; known: {', '.join(scopes.ALL)}")
        return self


class FileEntry(_Entry):
    path: str = Field(min_length=1)
    content: str | None = None
    source: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> FileEntry:
        if (self.content is None) == (self.source is None):
            raise ValueError("give content (the text itself) or source (a local file), one")
        return self


class SpaceEntry(_Entry):
    name: str = Field(min_length=1)
    app: str | None = None  # the app that owns it: the org's first app when left out
    owner: str | None = None  # the user who creates it: the org's first admin, or first user
    owner_type: str = Field("USER", alias="ownerType", pattern="^(USER|APP)$")
    scene: str = "seed"
    scene_id: str | None = Field(None, alias="sceneId")  # the space's name when left out
    quota: int | None = Field(None, ge=0)
    folders: list[str] = []
    files: list[FileEntry] = []


class OrgEntry(_Entry):
    name: str = Field(min_length=1)
    corp_id: str | None = Field(None, alias="corpId", min_length=1, max_length=64)
    users: list[UserEntry] = []
    apps: list[AppEntry] = []
    spaces: list[SpaceEntry] = []


class SeedFile(_Entry):
    orgs: list[OrgEntry] = Field(min_length=1)


# --- what was made ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SeededApp:
    app_key: str
    app_secret: str


@dataclass(frozen=True)
class SeededSpace:
    space_id: str
    dentries: dict[str, str]  # path ("docs/a.txt") → dentryId


@dataclass(frozen=True)
class SeededOrg:
    corp_id: str
    users: dict[str, str]  # name → unionId
    apps: dict[str, SeededApp]
    spaces: dict[str, SeededSpace]


@dataclass(frozen=True)
class Seeded:
    """What a seed file made, by the names the file gives: ``orgs["Acme"].users["alice"]``."""

    orgs: dict[str, SeededOrg] = field(default_factory=dict)


# --- reading and checking --------------------------------------------------------------------


def _where(document: object, loc: Iterable[object]) -> str:
    """``orgs[0] (Acme) spaces[1] (Team)``: a pydantic location with the entries' names."""
    shown: list[str] = []
    node = document
    for part in loc:
        if isinstance(part, int):
            shown[-1] += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("name") or node.get("path"), str):
                shown[-1] += f" ({node.get('name') or node.get('path')})"
        else:
            shown.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
    return " ".join(shown)


def parse(text: str, *, name: str = "seed", yaml: bool = False) -> SeedFile:
    """Check a seed document; ``ConfigError`` naming the first bad entries."""
    try:
        if yaml:
            import yaml as pyyaml  # PyYAML: only seed files need it

            document = pyyaml.safe_load(text)
        else:
            document = json.loads(text)
    except Exception as exc:
        raise ConfigError(f"{name}: not valid {'YAML' if yaml else 'JSON'}: {exc}") from None
    try:
        seed = SeedFile.model_validate(document)
    except ValidationError as exc:
        problems = [
            f"{_where(document, e['loc']) or 'the top level'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()[:5]
        ]
        raise ConfigError(f"{name}: " + "; ".join(problems)) from None
    _check_references(seed, name)
    return seed


def load(path: str | Path) -> tuple[SeedFile, Path]:
    """Read and check the seed file at ``path``: the seed, and the directory that ``source``
    paths are relative to."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"seed file {path}: {exc.strerror or exc}") from None
    seed = parse(text, name=str(path), yaml=path.suffix.lower() in (".yaml", ".yml"))
    base = path.resolve().parent
    for o, org in enumerate(seed.orgs):
        for s, space in enumerate(org.spaces):
            for f, entry in enumerate(space.files):
                if entry.source is not None and not (base / entry.source).is_file():
                    where = f"orgs[{o}] ({org.name}) spaces[{s}] ({space.name}) files[{f}]"
                    raise ConfigError(f"{path}: {where}: no file {base / entry.source}")
    return seed, base


def _duplicates(names: Iterable[str | None]) -> list[str]:
    seen: set[str] = set()
    twice: set[str] = set()
    for n in names:
        if n is not None:
            (twice if n in seen else seen).add(n)
    return sorted(twice)


def _check_references(seed: SeedFile, name: str) -> None:
    def bad(where: str, why: str) -> ConfigError:
        return ConfigError(f"{name}: {where}: {why}")

    for label, values in (
        ("corpId", [o.corp_id for o in seed.orgs]),
        ("org name", [o.name for o in seed.orgs]),
        ("appKey", [a.app_key for o in seed.orgs for a in o.apps]),
        ("unionId", [u.union_id for o in seed.orgs for u in o.users]),
    ):
        if twice := _duplicates(values):
            raise bad("orgs", f"{label} given twice: {', '.join(twice)}")
    for o, org in enumerate(seed.orgs):
        at = f"orgs[{o}] ({org.name})"
        for kind, names in (
            ("user", [u.name for u in org.users]),
            ("app", [a.name for a in org.apps]),
            ("space", [s.name for s in org.spaces]),
        ):
            if twice := _duplicates(names):
                raise bad(at, f"{kind} name given twice: {', '.join(twice)}")
        users, apps = {u.name for u in org.users}, {a.name for a in org.apps}
        for s, space in enumerate(org.spaces):
            here = f"{at} spaces[{s}] ({space.name})"
            if space.app is not None and space.app not in apps:
                raise bad(here, f"app {space.app!r} is not one of the org's apps")
            if not apps:
                raise bad(here, "a space belongs to an app: give the org an app")
            if space.owner is not None and space.owner not in users:
                raise bad(here, f"owner {space.owner!r} is not one of the org's users")
            if not users:
                raise bad(here, "a space is made by a user: give the org a user")
            paths = [_clean(p, f"{here} folders[{i}]", name) for i, p in enumerate(space.folders)]
            paths += [
                _clean(f.path, f"{here} files[{i}] ({f.path})", name)
                for i, f in enumerate(space.files)
            ]
            if twice := _duplicates(paths):
                raise bad(here, f"path given twice: {', '.join(twice)}")


def _clean(path: str, where: str, name: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise ConfigError(f"{name}: {where}: {path!r} is not a path like docs/a.txt")
    return "/".join(parts)


# --- loading into a store --------------------------------------------------------------------


async def _chunks(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def apply(services: Services, seed: SeedFile, base: Path | None = None) -> Seeded:
    """Make everything ``seed`` lists through ``services`` (a ``container.Services``). An org
    whose corpId exists already, or an appKey or unionId in use, is a ``ConfigError``."""
    identity = services.identity
    existing = {o.corp_id for o in await identity.list_orgs()}
    for org in seed.orgs:
        if org.corp_id in existing:
            raise ConfigError(f"seed: org {org.name!r}: corpId {org.corp_id} exists already")
    made: dict[str, SeededOrg] = {}
    for org in seed.orgs:
        try:
            made[org.name] = await _apply_org(services, org, base or Path.cwd())
        except errors.DingstoreError as exc:  # a fixed appKey or unionId taken, ...
            raise ConfigError(f"seed: org {org.name!r}: {exc.code}: {exc.message}") from None
    return Seeded(made)


async def _apply_org(services: Services, entry: OrgEntry, base: Path) -> SeededOrg:
    identity = services.identity
    org = await identity.create_org(entry.name, corp_id=entry.corp_id)
    users: dict[str, models.User] = {}
    for u in entry.users:
        users[u.name] = await identity.create_user(
            org.corp_id, u.name, admin=u.admin, union_id=u.union_id
        )
    apps: dict[str, tuple[models.App, str]] = {}
    for a in entry.apps:
        creds = await identity.create_app(
            org.corp_id,
            a.name,
            tuple(a.scopes) if a.scopes else scopes.ALL,
            app_key=a.app_key,
            app_secret=a.app_secret,
        )
        apps[a.name] = (creds.app, creds.app_secret)
    default_owner = next((u for u in entry.users if u.admin), entry.users[0] if users else None)
    spaces: dict[str, SeededSpace] = {}
    for s in entry.spaces:
        app = apps[s.app or entry.apps[0].name][0]
        owner = users[s.owner or default_owner.name]  # type: ignore[union-attr]
        principal = models.Principal(app.app_id, org.corp_id, frozenset(scopes.ALL), 0)
        actor = models.Actor(principal, owner, services.clock)
        spaces[s.name] = await _apply_space(services, actor, s, base)
    return SeededOrg(
        corp_id=org.corp_id,
        users={name: user.union_id for name, user in users.items()},
        apps={name: SeededApp(str(app.app_key), secret) for name, (app, secret) in apps.items()},
        spaces=spaces,
    )


async def _apply_space(
    services: Services, actor: models.Actor, entry: SpaceEntry, base: Path
) -> SeededSpace:
    space = await services.spaces.add(
        actor,
        NewSpace(
            name=entry.name,
            quota=entry.quota,
            scene=entry.scene,
            scene_id=entry.scene_id or entry.name,
            owner_type=entry.owner_type,
        ),
    )
    space_id = str(space.id)
    ids: dict[str, str] = {}

    async def folder(path: str) -> str:
        """The id of the folder at ``path`` ("" is the root), made with its parents."""
        if path == "":
            return "0"
        if path not in ids:
            parent, _, name = path.rpartition("/")
            made = await services.dentries.add_folder(
                actor, space_id, await folder(parent), name, None
            )
            ids[path] = str(made.id)
        return ids[path]

    for path in entry.folders:
        await folder(_clean(path, "", ""))
    for f in entry.files:
        path = _clean(f.path, "", "")
        parent, _, name = path.rpartition("/")
        data = f.content.encode() if f.content is not None else (base / str(f.source)).read_bytes()
        ids[path] = await _upload(services, actor, space_id, await folder(parent), name, data)
    return SeededSpace(space_id, ids)


async def _upload(
    services: Services, actor: models.Actor, space_id: str, parent_id: str, name: str, data: bytes
) -> str:
    files = services.files
    check = file_service.PreCheck(size=len(data), parent_id=parent_id, name=name)
    info = await files.upload_info(
        actor, space_id, protocol="HEADER_SIGNATURE", multipart=False, storage_driver=None,
        check=check,
    )  # fmt: skip
    upload = await files._upload(actor, info.upload_key)
    await services.blobs.write(blob_key(int(upload.blob_id)), _chunks(data))
    made = await files.commit(
        actor,
        space_id,
        file_service.Commit(upload_key=info.upload_key, name=name, parent_id=parent_id),
    )
    return str(made.id)


async def seed(services: Services, path: str | Path) -> Seeded:
    """Read, check and load the seed file at ``path`` into the store of ``services``."""
    document, base = load(path)
    return await apply(services, document, base)
