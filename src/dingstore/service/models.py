"""The dataclasses services hand back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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
