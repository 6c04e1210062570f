"""What the client returns: plain dataclasses read from the wire's camelCase JSON (spec §5),
snake_case here, times as aware ``datetime``. Each keeps the JSON it was read from in ``raw``
for fields the server adds later."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypeAlias, TypeVar

M = TypeVar("M")

Conflict: TypeAlias = Literal[
    "AUTO_RENAME", "OVERWRITE", "RETURN_DENTRY_IF_EXISTS", "RETURN_ERROR_IF_EXISTS"
]
Role: TypeAlias = Literal["OWNER", "MANAGER", "EDITOR", "DOWNLOADER", "READER"]

_CAMEL = re.compile(r"_([a-z])")


def _camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def read(cls: type[M], data: dict[str, Any]) -> M:
    """A ``cls`` from wire JSON: each field from its camelCase key (absent: its default);
    fields typed ``datetime`` parsed from ISO times (others, such as ``Event.event_born_time``
    in epoch ms, kept as sent)."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name == "raw":
            values["raw"] = data
            continue
        key = _camel(f.name)
        if key not in data:
            continue
        values[f.name] = _time(data[key]) if "datetime" in str(f.type) else data[key]
    return cls(**values)


class Node(NamedTuple):
    """A file or folder by its ids; ``"0"`` is a space's root folder."""

    space_id: str
    id: str = "0"


@dataclasses.dataclass(frozen=True)
class Space:
    """A space (spec §5.2)."""

    id: str
    name: str | None = None
    corp_id: str = ""
    app_id: str = ""
    owner_type: str = "USER"
    owner_id: str = ""
    quota: int = -1
    """Bytes; -1: no cap of its own."""
    used_quota: int = 0
    status: str = "NORMAL"
    scene: str = ""
    scene_id: str = ""
    creator_id: str = ""
    create_time: datetime | None = None
    modified_time: datetime | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def root(self) -> Node:
        """The space's root folder."""
        return Node(self.id, "0")


@dataclasses.dataclass(frozen=True)
class Dentry:
    """A file or folder (spec §5.1). ``version`` is the file's current version (or, from
    ``versions()``, the version listed)."""

    id: str
    space_id: str
    parent_id: str
    type: str
    name: str
    path: str = ""
    size: int | None = None
    version: int | None = None
    status: str = "NORMAL"
    extension: str | None = None
    uuid: str = ""
    creator_id: str = ""
    modifier_id: str = ""
    create_time: datetime | None = None
    modified_time: datetime | None = None
    category: str | None = None
    app_properties: dict[str, list[dict[str, str]]] = dataclasses.field(default_factory=dict)
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def is_folder(self) -> bool:
        return self.type == "FOLDER"

    @property
    def node(self) -> Node:
        """This entry's ids, as the methods that take a ``Target`` accept them."""
        return Node(self.space_id, self.id)


Target: TypeAlias = Dentry | Space | Node | tuple[str, str]
"""A file or folder: a ``Dentry``, a ``Space`` (its root), or ``(space_id, dentry_id)``."""


def node(target: Target) -> Node:
    """The ids of ``target``."""
    if isinstance(target, Dentry):
        return target.node
    if isinstance(target, Space):
        return target.root
    return Node(*target)


@dataclasses.dataclass(frozen=True)
class Member:
    """Who a grant is for (spec §6 I): a user's unionId (``Member.user``), the org, a
    department or tag (with its ``corp_id``), or a conversation."""

    type: str
    id: str
    corp_id: str | None = None

    @classmethod
    def user(cls, union_id: str) -> Member:
        return cls("USER", union_id)

    def wire(self) -> dict[str, str]:
        member = {"type": self.type, "id": self.id}
        if self.corp_id is not None:
            member["corpId"] = self.corp_id
        return member


@dataclasses.dataclass(frozen=True)
class Permission:
    """A grant of a role on a file, a folder or (``dentry_id`` "0") a space."""

    space_id: str
    dentry_id: str
    member: Member
    role: str
    duration: int | None = None
    operator_id: str = ""
    create_time: datetime | None = None
    modified_time: datetime | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Permission:
        member = data.get("member") or {}
        return cls(
            space_id=data.get("spaceId", ""),
            dentry_id=data.get("dentryId", ""),
            member=Member(member.get("type", ""), member.get("id", ""), member.get("corpId")),
            role=(data.get("role") or {}).get("id", ""),
            duration=data.get("duration"),
            operator_id=data.get("operatorId", ""),
            create_time=_time(data.get("createTime")),
            modified_time=_time(data.get("modifiedTime")),
        )


@dataclasses.dataclass(frozen=True)
class RecycleItem:
    """An entry of the org's recycle bin (spec §5.5)."""

    id: str
    space_id: str = ""
    dentry_id: str = ""
    type: str = ""
    size: int | None = None
    original_name: str = ""
    original_path: str = ""
    operator_id: str = ""
    operator_time: datetime | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """One server task as GetTask answers it (spec §5.7)."""

    id: str
    status: str
    total_count: int | None = None
    success_count: int | None = None
    fail_count: int | None = None
    fail_message: str | None = None
    begin_time: datetime | None = None
    end_time: datetime | None = None
    kind: str | None = None
    """From the task list (``Client.tasks``) only, as the fields below: ``copy``, ``move`` ..."""
    space_id: str | None = None
    creator_id: str | None = None
    create_time: datetime | None = None
    canceled: bool = False
    retry_of: str | None = None
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def finished(self) -> bool:
        return self.status in ("SUCCESS", "FAIL")


@dataclasses.dataclass(frozen=True)
class Event:
    """A change event of the pull feed (docs/events.md). ``cursor`` is the feed's position
    after the page that brought it: reading on from it skips the rest of that page, so resume
    from the cursor of an event with ``last_in_page``."""

    event_id: str
    event_type: str
    event_born_time: int
    """When the change was made, epoch milliseconds (as the feed sends it)."""
    space_id: str
    dentry_id: str
    type: str
    union_id: str
    corp_id: str = ""
    extension: str = ""
    event_scope: str = ""
    event_scope_id: str = ""
    dingstore_seq: int = 0
    dingstore_action: str = ""
    cursor: str = ""
    last_in_page: bool = False
    raw: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclasses.dataclass(frozen=True)
class PlanItem:
    """What a dry run says of one item: the nodes and bytes it would touch, the conflict
    it would meet at the target and the name it would take, or the error it would fail with."""

    dentry_id: str
    nodes: int = 0
    bytes: int = 0
    type: str | None = None
    name: str | None = None
    conflict: str | None = None
    target_name: str | None = None
    error_code: str | None = None


@dataclasses.dataclass(frozen=True)
class Plan:
    """What a bulk operation would do (``dry_run=True``), changing nothing: its items, the
    nodes and bytes in all, and whether the target space's quota takes them
    (``fits``; None when no quota applies)."""

    operation: str
    items: list[PlanItem]
    nodes: int
    bytes: int
    needed_bytes: int = 0
    available_bytes: int | None = None
    fits: bool | None = None

    @classmethod
    def merge(cls, answers: list[dict[str, Any]]) -> Plan:
        """One plan from the answers of the batch calls of one operation."""
        items = [read(PlanItem, i) for a in answers for i in a.get("items") or []]
        quotas = [a["quota"] for a in answers if a.get("quota")]
        needed = sum(int(q["neededBytes"]) for q in quotas)
        available = quotas[0].get("availableBytes") if quotas else None
        fits = None
        if quotas:
            fits = all(q["fits"] for q in quotas) and (available is None or needed <= available)
        return cls(
            operation=str(answers[0]["operation"]) if answers else "",
            items=items,
            nodes=sum(int(a.get("nodes", 0)) for a in answers),
            bytes=sum(int(a.get("bytes", 0)) for a in answers),
            needed_bytes=needed,
            available_bytes=available,
            fits=fits,
        )
