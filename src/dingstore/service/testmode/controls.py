"""``TestControls``: what a test suite arranges on a running server (``serve --test-mode``).

The pytest plugin calls these in process, on the server's loop; ``api/routes/testmode.py``
serves them over HTTP under ``/_dingstore/`` for suites in any language (docs/testing.md).
They reuse the services: an org is made by ``IdentityService``, tasks are held and stepped by
the engine's ``WorkerPool``, events are read from the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dingstore import errors
from dingstore.blobs import keys
from dingstore.service import scopes as known_scopes
from dingstore.service.testmode import faults, snapshots
from dingstore.store import events as event_rows
from dingstore.store import resets, uploads

if TYPE_CHECKING:
    from dingstore.service.container import Services


@dataclass(frozen=True, slots=True)
class OrgCredentials:
    """A fresh org: its admin user's unionId and an internal app holding every scope."""

    corp_id: str
    union_id: str
    app_key: str
    app_secret: str


class TestControls:
    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, services: Services) -> None:
        self._svc = services
        self.faults = faults.FaultTable()
        # Run after a whole-store reset (the seed file of ``serve --seed``, set by whoever
        # loaded it).
        self.reseed: Callable[[], Awaitable[None]] | None = None
        self._snapshots = snapshots.Snapshots(services)

    # --- orgs, users, apps ------------------------------------------------------------------

    async def create_org(self, name: str | None = None) -> OrgCredentials:
        """A new org with an admin user and an internal app holding every scope."""
        identity = self._svc.identity
        org = await identity.create_org(name or "test org")
        admin = await identity.create_user(org.corp_id, "admin", admin=True)
        made = await identity.create_app(org.corp_id, "test app")
        assert made.app.app_key is not None  # an internal app always has one
        return OrgCredentials(org.corp_id, admin.union_id, made.app.app_key, made.app_secret)

    async def add_user(self, corp_id: str, name: str, admin: bool = False) -> str:
        """A new user of the org; its unionId."""
        user = await self._svc.identity.create_user(corp_id, name, admin=admin)
        return user.union_id

    async def add_app(
        self,
        corp_id: str,
        name: str,
        scopes: list[str] | None = None,
        app_key: str | None = None,
        app_secret: str | None = None,
    ) -> tuple[str, str]:
        """A new internal app of the org with ``scopes`` (None: every one), and given key and
        secret if any; its ``(appKey, appSecret)``."""
        chosen = known_scopes.ALL if scopes is None else tuple(scopes)
        unknown = [s for s in chosen if s not in known_scopes.ALL]
        if unknown:
            raise errors.param_error("scopes", f"unknown scopes: {', '.join(unknown)}")
        made = await self._svc.identity.create_app(
            corp_id, name, chosen, app_key=app_key, app_secret=app_secret
        )
        assert made.app.app_key is not None  # an internal app always has one
        return made.app.app_key, made.app_secret

    # --- reset ------------------------------------------------------------------------------

    async def reset(self, corp_id: str | None = None) -> None:
        """``corp_id``: empty that org's storage (spaces, the tree, the recycle bin,
        permissions, properties, tasks, events, subscriptions; its faults and a pause of its
        tasks are lifted) and keep the org, its users and apps. None: the whole store back to
        empty (every org gone with its files' bytes, every fault and pause lifted), then the
        seed applied again if there is one."""
        svc = self._svc
        if corp_id is not None:
            async with svc.db.write(long=True) as conn:
                if not await resets.org_exists(conn, corp_id):
                    raise errors.ORG_NOT_EXIST.error(f"no organization with corpId {corp_id}")
                pending = await uploads.of_org(conn, corp_id)
                await resets.empty_org(conn, corp_id, svc.clock.now_ms())
            for upload in pending:  # their rows are gone: the collector would never find them
                await svc.files.discard_upload_bytes(upload)
            self.faults.clear(corp_id)
            svc.engine.resume(corp_id)
        else:
            async with svc.db.write(long=True) as conn:
                pending = await uploads.of_every_org(conn)
                await resets.empty_store(conn)
            # No row names these bytes any more: the collector would never find them. Open
            # multipart uploads are no objects: each is aborted on its own.
            for upload in pending:
                await svc.files.discard_upload_bytes(upload)
            for prefix in keys.PREFIXES:
                await svc.blobs.delete_prefix(prefix)
            self.faults.clear()
            svc.engine.resume()
        svc.clear_caches()
        if corp_id is None and self.reseed is not None:
            await self.reseed()

    # --- faults -----------------------------------------------------------------------------

    def inject_fault(
        self,
        operation: str,
        code: str | None,
        status: int = 400,
        message: str | None = None,
        times: int | None = 1,
        delay_ms: int = 0,
        probability: float | None = None,
        seed: int | None = None,
        corp_id: str | None = None,
        after: int = 0,
    ) -> str:
        """Let the next ``after`` calls of ``operation`` (the SDK action, e.g. ``AddFolder``)
        through untouched, then make the following ``times`` calls (None: every call) answer
        ``status`` with DingTalk's error body ``{code, message, requestid}``, after waiting
        ``delay_ms``; only calls by ``corp_id``'s apps when given; each call past ``after`` with
        chance ``probability`` (drawn from a generator seeded by ``seed``) when given. ``code``
        None with a delay: the call waits, then runs. Returns the fault's id."""
        try:
            return self.faults.add(
                operation,
                code,
                status=status,
                message=message,
                times=times,
                after=after,
                delay_ms=delay_ms,
                probability=probability,
                seed=seed,
                corp_id=corp_id,
            )
        except ValueError as exc:
            raise errors.PARAM_ERROR.error(str(exc)) from None

    def clear_faults(self, corp_id: str | None = None) -> None:
        """Remove every fault, or those of ``corp_id``."""
        self.faults.clear(corp_id)

    def list_faults(self, corp_id: str | None = None) -> list[dict[str, Any]]:
        return [f.describe() for f in self.faults.list(corp_id)]

    def remove_fault(self, fault_id: str) -> None:
        if not self.faults.remove(fault_id):
            raise errors.FAULT_NOT_EXIST.error(f"no fault {fault_id}")

    # --- tasks ------------------------------------------------------------------------------

    def pause_tasks(self, corp_id: str | None = None) -> None:
        """This process's workers claim no task of ``corp_id`` (None: no task at all) until
        ``resume_tasks``; a task being run stops after its current step."""
        self._svc.engine.pause(corp_id)

    def resume_tasks(self, corp_id: str | None = None) -> None:
        """Undo ``pause_tasks(corp_id)``; None resumes everything."""
        self._svc.engine.resume(corp_id)

    async def step_tasks(self, steps: int = 1, corp_id: str | None = None) -> int:
        """Run up to ``steps`` steps now, one after another, of the oldest runnable tasks (of
        ``corp_id`` when given), paused or not; returns how many ran (fewer when no task is
        left to run)."""
        if steps < 1:
            raise errors.param_error("steps", "steps must be at least 1")
        return await self._svc.engine.step_now(steps, corp_id)

    def fail_next_step(self, task_id: int | str, message: str | None = None) -> None:
        """The task's next step fails it: it ends FAIL with ``message`` as its failMessage."""
        try:
            number = int(task_id)
        except ValueError:
            raise errors.param_error("taskId", f"not a task id: {task_id}") from None
        self._svc.engine.fail_next_step(number, message or "injected failure")

    # --- events -----------------------------------------------------------------------------

    async def events(
        self, corp_id: str, after: int | None = None, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """The change events written for the org's apps, in the order they were written, each
        with its delivery (status, attempts, deliveredAt, lastError)."""
        if not 1 <= limit <= 10_000:
            raise errors.param_error("limit", "limit must be between 1 and 10000")
        async with self._svc.db.read() as conn:
            rows = await event_rows.emitted(conn, corp_id, after=after, limit=limit)
        return [_event(row) for row in rows]

    async def wait_events_delivered(self, corp_id: str, timeout: float) -> bool:
        """Wait until no event of the org is still pending delivery (each delivered or given
        up), at most ``timeout`` seconds; whether that happened."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            async with self._svc.db.read() as conn:
                pending = await event_rows.pending_count(conn, corp_id)
            if not pending:
                return True
            left = deadline - loop.time()
            if left <= 0:
                return False
            await asyncio.sleep(min(0.01, left))

    # --- snapshots --------------------------------------------------------------------------

    async def snapshot(self, name: str) -> None:
        """Copy the whole store (database and blobs) aside under ``name``."""
        await self._snapshots.take(name)

    def snapshots(self) -> list[str]:
        """The names of the snapshots held, sorted."""
        return self._snapshots.names()

    def drop_snapshot(self, name: str) -> None:
        """Forget snapshot ``name`` and free the memory it holds."""
        self._snapshots.drop(name)

    async def restore(self, name: str) -> None:
        """Put the store back as snapshot ``name`` found it (faults and pauses are kept: they
        are not in the store)."""
        await self._snapshots.restore(name)
        self._svc.clear_caches()


def _event(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "appId": row.app_id,
        "eventType": row.event_type,
        "action": row.action,
        "spaceId": str(row.space_id),
        "dentryId": str(row.dentry_id),
        "dentryType": row.dentry_type,
        "name": row.name,
        "unionId": row.union_id,
        "scope": row.scope,
        "scopeId": row.scope_id,
        "bornAt": int(row.born_at),
        "status": row.status,
        "attempts": int(row.attempts),
        "deliveredAt": None if row.delivered_at is None else int(row.delivered_at),
        "lastError": row.last_error,
    }
