"""dingstore's Python client (docs/client.md): ``Client`` and ``AsyncClient``, over HTTP only.
It imports nothing of the server (an import-linter contract in pyproject.toml)."""

from __future__ import annotations

from dingstore.client.client import AsyncClient, Client
from dingstore.client.errors import DingstoreError
from dingstore.client.models import (
    Conflict,
    Dentry,
    Event,
    Member,
    Node,
    Permission,
    RecycleItem,
    Role,
    Space,
    Target,
    TaskInfo,
)
from dingstore.client.tasks import AsyncTask, Item, Task, TaskBase

__all__ = [
    "AsyncClient",
    "AsyncTask",
    "Client",
    "Conflict",
    "Dentry",
    "DingstoreError",
    "Event",
    "Item",
    "Member",
    "Node",
    "Permission",
    "RecycleItem",
    "Role",
    "Space",
    "Target",
    "Task",
    "TaskBase",
    "TaskInfo",
]
