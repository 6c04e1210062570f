"""The services container: one per process, shared by endpoints and background workers."""

from __future__ import annotations

from dataclasses import dataclass

from dingstore.service.housekeeping import Housekeeper
from dingstore.service.identity import IdentityService
from dingstore.service.tasks import TaskService
from dingstore.service.tokens import TokenService
from dingstore.settings import Settings
from dingstore.store import base, database, ids


@dataclass
class Services:
    settings: Settings
    db: base.BaseDatabase
    ids: ids.IdAllocator
    identity: IdentityService
    tokens: TokenService
    tasks: TaskService
    housekeeper: Housekeeper

    async def close(self) -> None:
        await self.db.close()


async def open_services(settings: Settings) -> Services:
    """Open the database (migrating it to head) and build every service on it."""
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = await database.open_database(
        settings.resolved_database_url, pool_size=settings.db_pool_size
    )
    allocator = ids.IdAllocator(db)
    tokens = TokenService(
        db,
        allocator,
        secret_key=settings.resolved_secret_key(),
        ttl=settings.token_ttl,
        cache_ttl=settings.auth_cache_ttl,
        cache_size=settings.auth_cache_size,
    )
    tasks = TaskService(db, allocator, retention_days=settings.task_retention_days)
    return Services(
        settings=settings,
        db=db,
        ids=allocator,
        identity=IdentityService(
            db,
            allocator,
            cache_ttl=settings.auth_cache_ttl,
            cache_size=settings.auth_cache_size,
        ),
        tokens=tokens,
        tasks=tasks,
        housekeeper=Housekeeper(tokens, tasks, interval=settings.housekeeping_interval),
    )
