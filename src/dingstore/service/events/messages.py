"""An event row as its consumers see it, the same whichever way it travels (Stream frame, HTTP
push, pull feed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dingstore.service import names

_ID_DIGITS = 32


def event_id(row_id: int) -> str:
    """The event's id: stable across every delivery of the row (32 hex digits)."""
    return format(row_id, f"0{_ID_DIGITS}x")


def parse_event_id(text: str) -> int | None:
    """The row id of ``event_id``'s answer, or None for a text it could not have given."""
    if len(text) != _ID_DIGITS:
        return None
    try:
        return int(text, 16)
    except ValueError:
        return None


def business_fields(row: Mapping[str, Any]) -> dict[str, Any]:
    """The storage event's fields (storage-api.md §6 J) and dingstore's two of its own:
    ``dingstoreSeq`` (grows with each change of the space, in commit order: a consumer drops an
    event of a dentry older than one it has) and ``dingstoreAction`` (what the change was)."""
    return {
        "spaceId": str(row["space_id"]),
        "dentryId": str(row["dentry_id"]),
        "type": row["dentry_type"],
        "extension": names.extension(row["name"]) if row["dentry_type"] == "FILE" else "",
        "unionId": row["union_id"],
        "eventScope": row["scope"],
        "eventScopeId": row["scope_id"],
        "dingstoreSeq": int(row["id"]),
        "dingstoreAction": row["action"],
    }
