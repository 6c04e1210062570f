"""The dataclasses services hand back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dingstore.clock import Clock


@dataclass(frozen=True, slots=True)
class Org:
    corp_id: str
    name: str
    created_at: int


@dataclass(frozen=True, slots=True)
class User:
    union_id: str
    corp_id: str
    user_id: str
    name: str
    is_admin: bool

    @classmethod
    def from_row(cls, row: Any) -> User:
        return cls(row.union_id, row.corp_id, row.user_id, row.name, bool(row.is_admin))


@dataclass(frozen=True, slots=True)
class GroupMember:
    """A user in a department, tag or conversation (``kind`` DEPT, TAG or CONVERSATION)."""

    corp_id: str
    kind: str
    group_id: str
    union_id: str


@dataclass(frozen=True, slots=True)
class App:
    app_id: str
    corp_id: str
    kind: str
    name: str
    agent_id: int
    app_key: str | None
    suite_key: str | None
    scopes: tuple[str, ...]
    disabled: bool
    created_at: int
    modified_at: int

    @classmethod
    def from_row(cls, row: Any) -> App:
        return cls(
            app_id=row.app_id,
            corp_id=row.corp_id,
            kind=row.kind,
            name=row.name,
            agent_id=int(row.agent_id),
            app_key=row.app_key,
            suite_key=row.suite_key,
            scopes=tuple(s for s in row.scopes.split(",") if s),
            disabled=bool(row.disabled),
            created_at=int(row.created_at),
            modified_at=int(row.modified_at),
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a valid access token speaks for: one app acting in one org."""

    app_id: str
    corp_id: str
    scopes: frozenset[str]
    expires_at: int


@dataclass(frozen=True, slots=True)
class AccessToken:
    access_token: str
    expire_in: int


@dataclass(frozen=True, slots=True)
class Task:
    id: int
    status: str
    total_count: int | None
    success_count: int
    fail_count: int
    fail_message: str | None
    begin_time: int | None
    end_time: int | None

    @classmethod
    def from_row(cls, row: Any) -> Task:
        """A ``tasks`` row as GetTask shows it."""
        return cls(
            id=int(row.id),
            status=row.status,
            total_count=row.total_count,
            success_count=int(row.success_count),
            fail_count=int(row.fail_count),
            fail_message=row.fail_message,
            begin_time=row.begin_time,
            end_time=row.end_time,
        )


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: the app behind the token, in its org, for the operator named by unionId; and
    the clock their grants' expiry is read on."""

    principal: Principal
    operator: User
    clock: Clock = field(compare=False, repr=False)
    # What one request has worked out about the operator (service/access.py: their member keys,
    # their role on nodes); an Actor lives for one request or one task step.
    memo: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def corp_id(self) -> str:
        return self.principal.corp_id

    @property
    def app_id(self) -> str:
        return self.principal.app_id

    @property
    def union_id(self) -> str:
        return self.operator.union_id


@dataclass(frozen=True, slots=True)
class Space:
    id: int
    corp_id: str
    app_id: str
    name: str | None
    owner_type: str
    owner_id: str
    creator_id: str
    modifier_id: str
    quota: int | None
    used_quota: int
    status: str
    scene: str
    scene_id: str
    can_search: bool
    can_rename: bool
    can_record_recent_file: bool
    created_at: int
    modified_at: int

    @classmethod
    def from_row(cls, row: Any) -> Space:
        return cls(**{name: row[name] for name in cls.__slots__})  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class AppProperty:
    name: str
    value: str
    visibility: str


@dataclass(frozen=True, slots=True)
class Dentry:
    id: int
    space_id: int
    parent_id: int
    type: str
    name: str
    path: str
    size: int | None
    version: int | None
    status: str
    extension: str | None
    uuid: str
    creator_id: str
    modifier_id: str
    created_at: int
    modified_at: int
    app_properties: dict[str, list[AppProperty]]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a listing; ``next_token`` is None on the last."""

    items: list[Any]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class RecycleBin:
    id: str
    scope: str
    scope_id: str


@dataclass(frozen=True, slots=True)
class RecycleItem:
    """An entry in the recycle bin: where it was, who sent it there and when, and the bytes it
    keeps in its space's quota until purged (every stored version of it and under it)."""

    id: int
    space_id: int
    dentry_id: int
    type: str
    size: int
    original_name: str
    original_path: str
    operator_id: str
    operator_time: int

    @classmethod
    def from_row(cls, row: Any) -> RecycleItem:
        return cls(**{name: row[name] for name in cls.__slots__})  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Permission:
    """A grant set on a node (``dentry_id`` 0: the whole space). ``duration``: the seconds left
    before a temporary grant expires, -1 for a permanent one."""

    space_id: int
    dentry_id: int
    member_type: str
    member_id: str
    member_corp_id: str | None
    role_id: str
    duration: int
    operator_id: str
    created_at: int
    modified_at: int
