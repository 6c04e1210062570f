"""The services container: one per process, shared by endpoints and background workers."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dingstore.blobs import stores as blob_stores
from dingstore.blobs.base import BaseBlobStore
from dingstore.clock import SYSTEM, Clock
from dingstore.engine.worker import WorkerPool
from dingstore.service import bulk, ephemeral, tree
from dingstore.service.console import ConsoleService
from dingstore.service.dentries import DentryService
from dingstore.service.events.callbacks import CallbackService
from dingstore.service.events.feed import FeedService
from dingstore.service.events.gateway import Gateway
from dingstore.service.events.push import PushDispatcher
from dingstore.service.events.retention import EventRetention
from dingstore.service.events.stream import StreamHub
from dingstore.service.events.subscriptions import SubscriptionService
from dingstore.service.events.wakeups import Bell
from dingstore.service.files import FileService
from dingstore.service.housekeeping import Housekeeper
from dingstore.service.idempotency import IdempotencyService
from dingstore.service.identity import IdentityService
from dingstore.service.org_admin import OrgAdminService
from dingstore.service.permissions import PermissionService
from dingstore.service.previews import PreviewService
from dingstore.service.properties import PropertyService
from dingstore.service.recycle import RecycleService
from dingstore.service.spaces import SpaceService
from dingstore.service.tasks import TaskService
from dingstore.service.thumbnails import queries as thumbnails
from dingstore.service.thumbnails import sandbox
from dingstore.service.tokens import TokenService
from dingstore.service.versions import VersionService
from dingstore.service.weboffice import tokens as weboffice_tokens
from dingstore.service.weboffice.discovery import DiscoveryCache
from dingstore.service.weboffice.host import WopiHost
from dingstore.service.weboffice.opener import WopiOpener
from dingstore.service.weboffice.sessions import SessionService
from dingstore.settings import Settings
from dingstore.store import base, database, ids

if TYPE_CHECKING:
    from dingstore.service.testmode.controls import TestControls


@dataclass
class Services:
    settings: Settings
    clock: Clock
    db: base.BaseDatabase
    ids: ids.IdAllocator
    identity: IdentityService
    tokens: TokenService
    tasks: TaskService
    idempotency: IdempotencyService
    housekeeper: Housekeeper
    blobs: BaseBlobStore
    spaces: SpaceService
    dentries: DentryService
    files: FileService
    versions: VersionService
    properties: PropertyService
    recycle: RecycleService
    permissions: PermissionService
    subscriptions: SubscriptionService
    feed: FeedService
    thumbnails: thumbnails.ThumbnailService
    previews: PreviewService
    weboffice: SessionService
    wopi: WopiHost
    engine: WorkerPool
    callbacks: CallbackService
    push: PushDispatcher  # started beside the task workers (api/app.py, cli/worker.py)
    stream: StreamHub
    console: ConsoleService  # the web console's sign-in (api/console/)
    org_admin: OrgAdminService  # the console's admin pages
    # An ephemeral store's directory (service/ephemeral.py), removed on close.
    ephemeral_dir: Path | None = None
    # ``serve --test-mode`` only (service/testmode/, docs/testing.md); None otherwise.
    test_controls: TestControls | None = None

    def clear_caches(self) -> None:
        """Forget what the services cached of the store (tokens, operators): the store under
        them was reset or restored (test mode)."""
        self.tokens.forget_cached()
        self.identity.forget_cached()

    async def close(self) -> None:
        await self.tasks.close()
        await self.feed.close()
        await self.push.close()
        await self.blobs.close()
        await self.db.close()
        if self.ephemeral_dir is not None:
            ephemeral.remove(self.ephemeral_dir)


async def open_services(settings: Settings, *, clock: Clock = SYSTEM) -> Services:
    """Open the database (migrating it to head) and the blob store, and build every service on
    them, reading the time from ``clock`` (a test passes a ``ManualClock``). With
    ``settings.ephemeral`` the store is a new throwaway one (service/ephemeral.py), and
    ``settings`` are changed to point at it."""
    throwaway = ephemeral.prepare(settings) if settings.ephemeral else None
    database.check_url(settings.resolved_database_url)  # before anything is made
    settings.check_test_mode()
    blobs = blob_stores.blob_store_for(settings, clock=clock)
    if settings.database_url is None:
        settings.make_data_dir()
    await blobs.open()
    db = await database.open_database(
        settings.resolved_database_url,
        pool_size=settings.db_pool_size,
        durable=throwaway is None,
        fresh=throwaway is not None,
    )
    allocator = ids.IdAllocator(db)
    secret_key = settings.resolved_secret_key()
    tokens = TokenService(
        db,
        allocator,
        secret_key=secret_key,
        ttl=settings.token_ttl,
        cache_ttl=settings.auth_cache_ttl,
        cache_size=settings.auth_cache_size,
        clock=clock,
    )
    tasks = TaskService(db, retention_days=settings.task_retention_days, clock=clock)
    idempotency = IdempotencyService(db, clock=clock)
    limits = sandbox.Limits(
        max_bytes=settings.thumbnail_max_bytes,
        max_pixels=settings.thumbnail_max_pixels,
        memory=settings.thumbnail_memory,
        timeout=settings.thumbnail_timeout,
    )
    engine = WorkerPool(
        db,
        {
            **tree.tree_locked(
                bulk.handlers(version_retention=settings.version_retention, clock=clock)
            ),
            # no tree lock: the task changes no tree, only its thumbnail's row
            **thumbnails.handlers(
                db,
                blobs,
                limits,
                concurrency=settings.thumbnail_concurrency,
                # a throwaway server starts no helper before a file needs one (~0.15 s of CPU)
                prestart=throwaway is None,
                clock=clock,
            ),
        },
        concurrency=settings.workers,
        chunk=settings.task_chunk,
        step_s=settings.task_step_time,
        lease_ms=int(settings.task_lease * 1000),
        poll_interval=settings.task_poll_interval,
        clock=clock,
    )
    files = FileService(
        db,
        allocator,
        blobs,
        version_retention=settings.version_retention,
        upload_ttl=settings.upload_ttl,
        transfer_expiry=settings.transfer_expiry,
        blob_grace=settings.blob_grace,
        clock=clock,
    )
    recycle = RecycleService(
        db, allocator, retention_days=settings.recycle_retention_days, clock=clock
    )
    grants = PermissionService(db, clock=clock)
    identity = IdentityService(
        db,
        allocator,
        cache_ttl=settings.auth_cache_ttl,
        cache_size=settings.auth_cache_size,
        clock=clock,
    )
    previews = PreviewService(
        db,
        identity,
        secret_key=secret_key,
        public_url=settings.resolved_public_url,
        clock=clock,
    )
    discovery = None
    if settings.wopi_discovery_url:
        discovery = DiscoveryCache(
            settings.wopi_discovery_url, ttl=settings.wopi_discovery_ttl, timer=clock.monotonic
        )
    wopi_signer = weboffice_tokens.Signer(settings.resolved_secret_key())
    weboffice = SessionService(
        db,
        discovery,
        wopi_signer,
        host_url=settings.resolved_wopi_host_url,
        public_url=settings.resolved_public_url,
        token_ttl=settings.wopi_token_ttl,
        refresh_ttl=settings.wopi_refresh_ttl,
        clock=clock,
    )
    previews.add_provider(WopiOpener(weboffice))  # GetDentryOpenInfo's editor, when configured
    stream = StreamHub(
        db,
        Gateway(db, secret_key=secret_key, clock=clock),
        ack_timeout=settings.event_ack_timeout,
        window=settings.stream_window,
        ping_interval=settings.stream_ping_interval,
        poll_interval=settings.stream_poll_interval,
        clock=clock,
    )
    console = ConsoleService(db, identity, secret_key=secret_key, clock=clock)
    callbacks = CallbackService(db, clock=clock)
    made = Services(
        settings=settings,
        clock=clock,
        db=db,
        ids=allocator,
        identity=identity,
        tokens=tokens,
        tasks=tasks,
        idempotency=idempotency,
        housekeeper=Housekeeper(
            tokens,
            tasks,
            files,
            recycle,
            grants,
            EventRetention(db, retention_days=settings.event_retention_days, clock=clock),
            interval=settings.housekeeping_interval,
            previews=previews,
            weboffice=weboffice,
            console=console,
            idempotency=idempotency,
        ),
        blobs=blobs,
        spaces=SpaceService(db, allocator, org_quota=settings.org_quota, clock=clock),
        dentries=DentryService(
            db, allocator, version_retention=settings.version_retention, clock=clock
        ),
        files=files,
        versions=VersionService(db, retention=settings.version_retention, clock=clock),
        properties=PropertyService(db, clock=clock),
        recycle=recycle,
        permissions=grants,
        subscriptions=SubscriptionService(db, clock=clock),
        feed=FeedService(db, Bell(db), request_timeout=settings.request_timeout),
        thumbnails=thumbnails.ThumbnailService(
            db, blobs, limits=limits, url_expiry=settings.transfer_expiry, clock=clock
        ),
        previews=previews,
        weboffice=weboffice,
        wopi=WopiHost(
            db,
            allocator,
            blobs,
            identity,
            discovery,
            wopi_signer,
            check_proof=settings.wopi_proof,
            version_retention=settings.version_retention,
            max_size=settings.blob_max_object_size,
            clock=clock,
        ),
        engine=engine,
        callbacks=callbacks,
        push=PushDispatcher(db, clock=clock, poll_interval=settings.task_poll_interval),
        stream=stream,
        console=console,
        org_admin=OrgAdminService(identity, callbacks),
        ephemeral_dir=throwaway,
    )
    if settings.test_mode:
        from dingstore.service.testmode.controls import TestControls

        made.test_controls = TestControls(made)
    return made
