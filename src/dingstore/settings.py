"""Settings, read from flags and ``DINGSTORE_*`` environment variables.

Every setting is documented in ``docs/configuration.md``; keep the two in step. A setting that
cannot work raises ``ConfigError``, whichever check finds it: ``load`` here (a value of the
wrong type or out of range), or the seam that reads it at start-up (the database URL, the blob
URL, the object store's credentials and bucket).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError


class ConfigError(Exception):
    """A setting (flag, ``DINGSTORE_*`` or ``AWS_*`` variable) that cannot work. The command
    line reports it in one line and exits with status 2 (cli/main.py)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DINGSTORE_", extra="ignore")

    data_dir: Path = Path("./data")
    # A throwaway store for tests (docs/testing.md): SQLite on tmpfs (/dev/shm when there is
    # one) without fsync, file bytes in memory, everything removed when the server stops.
    # ``data_dir``, ``database_url`` and ``blob_url`` are then chosen by the server.
    ephemeral: bool = False
    # A seed file (YAML or JSON, docs/testing.md) loaded into the store at start-up.
    seed: Path | None = None
    database_url: str | None = None
    public_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080

    # A key for signing tokens and URLs; generated into the data dir when not given.
    secret_key: str | None = None

    # Where file bytes live: unset = DATA_DIR/blobs, ``file:///path``, ``memory://`` (tests),
    # or ``s3://BUCKET?endpoint=http://HOST:PORT&region=REGION`` (credentials: AWS_* variables).
    blob_url: str | None = None
    # The largest body one data-plane PUT may carry: a whole file, or one multipart part.
    blob_max_object_size: int = Field(5 * 1024**3, gt=0)
    blob_max_part_size: int = Field(5 * 1024**3, gt=0)

    token_ttl: int = Field(7200, gt=0)
    auth_cache_ttl: float = Field(30.0, ge=0)
    auth_cache_size: int = Field(10_000, gt=0)

    request_timeout: float = Field(30.0, gt=0)
    # The largest body of an API request (every one but the data plane's PUTs, limited by the
    # blob_max_* sizes): the largest legitimate one, a batch of 50 ids, is a few KiB.
    max_body_size: int = Field(1024**2, gt=0)
    # Per-app, per-operation QPS limit; 0 = off. ``rate_limits`` overrides it per operation,
    # e.g. ``{"GetTask": 50}`` (as JSON in the environment).
    rate_limit_qps: float = Field(0.0, ge=0)
    rate_limits: dict[str, float] = Field(default_factory=dict)

    task_retention_days: float = Field(7.0, gt=0)
    # Items of the recycle bin older than this are purged for good by housekeeping.
    recycle_retention_days: float = Field(30.0, gt=0)
    # Change events older than this are deleted by housekeeping, delivered or not.
    event_retention_days: float = Field(7.0, gt=0)
    # The task engine: workers in this process (0 = none), nodes a step settles (0 = as many as
    # fit in about ``task_step_time`` seconds), how long a worker's lease on a task lasts without
    # renewal, and how often idle workers look for work.
    workers: int = Field(2, ge=0)
    task_chunk: int = Field(0, ge=0)
    task_step_time: float = Field(0.25, gt=0)
    task_lease: float = Field(30.0, gt=0)
    task_poll_interval: float = Field(1.0, gt=0)
    housekeeping_interval: float = Field(300.0, gt=0)
    # Files: versions kept per file, how long an uploadKey and a transfer URL live, how long an
    # unreferenced blob's bytes stay before collection, and the org's capacity (None = no cap).
    version_retention: int = Field(100, ge=1)
    upload_ttl: int = Field(86_400, gt=0)
    transfer_expiry: int = Field(900, gt=0)
    blob_grace: int = Field(3_600, ge=0)
    org_quota: int | None = Field(None, ge=0)
    # Change events in Stream mode: how long a sent event waits for its ack before it is sent
    # again (on any connection of the app), how many events one connection has unacked at most,
    # how often a connection gets a SYSTEM ping, and how often it looks for events unwoken.
    event_ack_timeout: float = Field(30.0, gt=0)
    stream_window: int = Field(500, gt=0)
    stream_ping_interval: float = Field(30.0, gt=0)
    stream_poll_interval: float = Field(1.0, gt=0)
    # Thumbnails (docs/previews.md): the largest file one is made of, the most pixels an image
    # may decode to, the address space and the wall time of one rendering, and how many render
    # at once in a process (each in a helper process of its own).
    thumbnail_max_bytes: int = Field(64 * 1024**2, gt=0)
    thumbnail_max_pixels: int = Field(50_000_000, gt=0)
    thumbnail_memory: int = Field(1536 * 1024**2, ge=256 * 1024**2)
    thumbnail_timeout: float = Field(20.0, gt=0)
    thumbnail_concurrency: int = Field(1, ge=1)
    # Online editing through a WOPI office server (Collabora Online, OnlyOffice): its discovery
    # XML (None = editing off), how long it is cached, the address the office server reaches
    # dingstore's WOPI endpoints at (None = the public URL), the lives of the access and refresh
    # tokens GetWebOfficeUrl hands out, and whether WOPI calls must carry a valid proof
    # (X-WOPI-Proof) when the discovery publishes a proof key.
    wopi_discovery_url: str | None = None
    wopi_discovery_ttl: float = Field(3_600.0, gt=0)
    wopi_host_url: str | None = None
    wopi_token_ttl: int = Field(1_800, gt=0)
    wopi_refresh_ttl: int = Field(86_400, gt=0)
    wopi_proof: bool = True
    db_pool_size: int = Field(8, gt=0)
    log_level: str = "INFO"
    # JSON lines, or readable ones; None = readable on a terminal, JSON otherwise.
    log_json: bool | None = None
    # One line per request: request id, operation, status, duration.
    access_log: bool = True
    # Test mode (docs/testing.md): the /_dingstore/ controls (reset, faults, task control,
    # events, snapshots). Off by default; refused on a non-loopback bind unless
    # ``test_mode_force``.
    test_mode: bool = False
    test_mode_force: bool = False
    # Unknown body fields and query parameters answer 400 paramError (DingTalk ignores them).
    strict: bool = False

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        if level.upper() not in logging.getLevelNamesMapping():
            raise ValueError("not a log level: DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level

    @field_validator("wopi_discovery_url", "wopi_host_url")
    @classmethod
    def _http_url(cls, url: str | None) -> str | None:
        if url and not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", url):
            raise ValueError("must be an http:// or https:// URL")
        return url or None

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'dingstore.db').resolve()}"

    @property
    def resolved_public_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        # Bound to every interface: loopback is the one address sure to reach it; set
        # DINGSTORE_PUBLIC_URL for clients on other machines.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def resolved_wopi_host_url(self) -> str:
        return (self.wopi_host_url or self.resolved_public_url).rstrip("/")

    def check_test_mode(self) -> None:
        """``ConfigError`` for test mode on an address other machines may reach: its controls
        take no token (``test_mode_force`` allows it)."""
        if self.test_mode and not self.test_mode_force and not is_loopback(self.host):
            raise ConfigError(
                f"--test-mode serves unauthenticated controls; it binds loopback only, not "
                f"{self.host!r} (use --host 127.0.0.1, or --test-mode-force / "
                "DINGSTORE_TEST_MODE_FORCE=1 to expose it anyway)"
            )

    def make_data_dir(self) -> Path:
        """The data dir, created readable by its owner only (0700) if it does not exist yet."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.data_dir

    def resolved_secret_key(self) -> str:
        """The configured key, or the one kept in ``DATA_DIR/secret.key`` (created on first use,
        readable by its owner only)."""
        if self.secret_key:
            return self.secret_key
        import os
        import secrets

        path = self.data_dir / "secret.key"
        if not path.exists():
            self.make_data_dir()
            # Written aside, then linked into place: two processes starting at once agree.
            tmp = self.data_dir / f".secret.key.{os.getpid()}"
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                f.write(secrets.token_urlsafe(48))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text().strip()


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is reachable from this machine only."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load(**overrides: Any) -> Settings:
    """The settings: ``overrides`` (from flags) over the environment, or ``ConfigError``."""
    try:
        settings = Settings(**overrides)
        settings.check_test_mode()
        return settings
    except ValidationError as exc:
        raise ConfigError("; ".join(_problem(e) for e in exc.errors())) from None
    except SettingsError as exc:  # a DINGSTORE_* value that does not parse as JSON
        field = re.search(r'field "(\w+)"', str(exc))
        name = f"DINGSTORE_{field.group(1).upper()}" if field else "a DINGSTORE_* variable"
        raise ConfigError(f"{name}: not valid JSON ({exc.__cause__})") from None


def _problem(error: Any) -> str:
    """``DINGSTORE_TOKEN_TTL (got '-1'): Input should be greater than 0``."""
    field, *inside = [str(part) for part in error["loc"]] or ["?"]
    where = f"DINGSTORE_{field.upper()}" + "".join(f"[{part}]" for part in inside)
    given = error.get("input")
    shown = f" (got {given!r})" if isinstance(given, str | int | float) else ""
    return f"{where}{shown}: {error['msg'].removeprefix('Value error, ')}"
