from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from Tea.exceptions import TeaException

from dingstore.clock import ManualClock
from dingstore.service.identity import Bootstrap
from dingstore.settings import Settings
from tests import backends, scheduling
from tests.backends import PostgresDatabases
from tests.live import LiveServer, Sdk, bound_socket
from tests.s3 import ENVIRONMENT, MotoS3, share_loader


@pytest.fixture(scope="session")
def pg_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[MotoS3]:
    """An S3 server on loopback for the session, with the credentials stores read set."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in ENVIRONMENT.items():
            env.setenv(name, value)
        share_loader(env)
        server = MotoS3()
        yield server
        server.stop()


@pytest.fixture
def s3_bucket(moto_s3: MotoS3) -> Iterator[str]:
    """A fresh, empty bucket on ``moto_s3``, dropped after the test."""
    bucket = moto_s3.new_bucket()
    yield bucket
    moto_s3.drop(bucket)


def _shapes_for(node: pytest.Item) -> list[str]:
    """The shapes of the run a test is generated for: all, or those its ``shapes`` mark names."""
    mark = node.get_closest_marker("shapes")
    if mark is None:
        return backends.SHAPES
    if not mark.args or not set(mark.args) <= {backends.EMBEDDED, backends.SCALE_OUT}:
        raise ValueError(f"{node.nodeid}: shapes{mark.args} must name embedded and/or scale-out")
    return [s for s in backends.SHAPES if s in mark.args]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test that uses ``shape`` (through ``database_url``, ``blob_url``, ``make_server``,
    ``server``, ...) runs once per shape, or only on those its ``shapes`` mark names. The
    parameter is module-scoped, so a module's tests of one shape run together, on one server."""
    if "shape" in metafunc.fixturenames:
        shapes = _shapes_for(metafunc.definition)
        metafunc.parametrize("shape", shapes, indirect=True, scope="module")


ON_REQUEST = ("wheel", "backup20k")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test whose shapes the run leaves out (``DINGSTORE_TEST_BACKENDS``) is not run, rather
    than reported as skipped; nor is a test marked ``wheel`` or ``backup20k`` unless ``-m``
    names its mark (``make release-test``: each costs tens of seconds of CPU, over the default
    run's budget). Deselected before the heavy tests are placed: their places count."""
    asked = config.option.markexpr or ""
    unshaped = [
        item
        for item in items
        if ("shape" in getattr(item, "fixturenames", ()) and not _shapes_for(item))
        or any(item.get_closest_marker(name) and name not in asked for name in ON_REQUEST)
    ]
    if unshaped:
        config.hook.pytest_deselected(items=unshaped)
        items[:] = [item for item in items if item not in unshaped]
    items[:] = scheduling.heavy_first(items, scheduling.workers(config))


@pytest.fixture(scope="module")
def shape(request: pytest.FixtureRequest) -> str:
    """``embedded`` or ``scale-out`` (``tests.backends``), given by ``pytest_generate_tests``."""
    return str(request.param)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated once per session (per xdist worker); stores are copies."""
    return backends.migrated_sqlite(tmp_path_factory.mktemp("template") / "dingstore.db")


@contextmanager
def _fresh_database(shape: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """A fresh, migrated store's database URL: a copy of the session's SQLite template in
    ``directory``, or a PostgreSQL clone of the session's template, dropped afterwards."""
    if shape == backends.EMBEDDED:
        path = directory / "dingstore.db"
        backends.copy_sqlite(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    pg_databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    url = pg_databases.new()
    yield url
    pg_databases.drop(url)


@pytest.fixture
def database_url(shape: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated store's database URL: SQLite in the test's directory, or a new
    PostgreSQL database dropped after the test."""
    with _fresh_database(shape, request, tmp_path) as url:
        yield url


@pytest.fixture
def empty_database_url(shape: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database no migration has touched: a new SQLite file, or a new PostgreSQL database."""
    if shape == backends.EMBEDDED:
        yield f"sqlite+aiosqlite:///{tmp_path / 'dingstore.db'}"
        return
    pg_databases: PostgresDatabases = request.getfixturevalue("pg_databases")
    url = pg_databases.new(empty=True)
    yield url
    pg_databases.drop(url)


@pytest.fixture
def blob_url(shape: str, request: pytest.FixtureRequest) -> str | None:
    """The shape's ``DINGSTORE_BLOB_URL``: None (local files under the data dir) or a fresh
    bucket on ``moto_s3``."""
    if shape == backends.EMBEDDED:
        return None
    moto: MotoS3 = request.getfixturevalue("moto_s3")
    return moto.url(request.getfixturevalue("s3_bucket"))


def _start(clock: ManualClock, **settings: Any) -> LiveServer:
    """A server with these settings (``port`` a socket of its own) and ``clock``, started."""
    listener = bound_socket()
    port = listener.getsockname()[1]
    settings = {"port": port, "log_json": False, **settings}
    return LiveServer(Settings(**settings), clock, listener).start()


@pytest.fixture
def make_server(
    tmp_path: Path, database_url: str, blob_url: str | None
) -> Iterator[Callable[..., LiveServer]]:
    """Start a server on a fresh store of the test's shape; keyword arguments override settings.
    Several servers made in one test share the store and the clock (``server.clock``), as
    processes of one deployment do."""
    started: list[LiveServer] = []
    clock = ManualClock()

    def make(**overrides: Any) -> LiveServer:
        given = {"data_dir": tmp_path, "database_url": database_url, "blob_url": blob_url}
        server = _start(clock, **{**given, **overrides})
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def module_server(
    shape: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server on a fresh store for a module's tests of one shape; each test brings its own
    org (``tenant``), and every statement of the API is scoped to an org."""
    data_dir = tmp_path_factory.mktemp("module-server")
    with _fresh_database(shape, request, data_dir) as url:
        blob_url = None
        if shape == backends.SCALE_OUT:
            moto: MotoS3 = request.getfixturevalue("moto_s3")
            bucket = moto.new_bucket()
            blob_url = moto.url(bucket)
        server = _start(ManualClock(), data_dir=data_dir, database_url=url, blob_url=blob_url)
        try:
            yield server
        finally:
            server.stop()
            if blob_url is not None:
                moto.drop(bucket)


@pytest.fixture
def server(shape: str, request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """The module's server; a server on a fresh store of the test's own when the test also
    makes servers (``make_server``: they share its store) or is marked ``own_server`` (it
    counts rows across the store, or changes the server for its own ends). A test's moves of
    the shared server's clock end with the test."""
    if "make_server" in request.fixturenames or request.node.get_closest_marker("own_server"):
        make: Callable[..., LiveServer] = request.getfixturevalue("make_server")
        yield make()
        return
    shared = cast(LiveServer, request.getfixturevalue("module_server"))
    yield shared
    shared.clock.reset()


@pytest.fixture
def sdk(server: LiveServer) -> Sdk:
    return Sdk(server.endpoint)


@dataclass
class Tenant:
    """An org with its admin and an internal app holding every scope, and that app's token."""

    boot: Bootstrap
    token: str

    @property
    def corp_id(self) -> str:
        return self.boot.org.corp_id

    @property
    def admin_id(self) -> str:
        return self.boot.admin.union_id


def new_tenant(server: LiveServer, sdk: Sdk) -> Tenant:
    identity = server.services.identity
    org = server.run(identity.create_org("Acme"))
    admin = server.run(identity.create_user(org.corp_id, "alice", admin=True))
    creds = server.run(identity.create_app(org.corp_id, "app"))
    assert creds.app.app_key is not None
    token = sdk.access_token(creds.app.app_key, creds.app_secret).access_token
    return Tenant(Bootstrap(org, admin, creds), token)


@pytest.fixture
def tenant(server: LiveServer, sdk: Sdk) -> Tenant:
    return new_tenant(server, sdk)


def sdk_error(call: Callable[[], object]) -> TeaException:
    """Run an SDK call that must fail; return the SDK's exception (unwrapped from the retry
    layer's ``UnretryableException``, which drops ``accessDeniedDetail``)."""
    with pytest.raises(TeaException) as info:
        call()
    inner = getattr(info.value, "inner_exception", None)
    return inner if isinstance(inner, TeaException) else info.value
