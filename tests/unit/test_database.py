"""The database seam on every backend: reads, writes, rollback, driver errors translated,
prepared statements answering exactly as SQLAlchemy does, and announcements heard by listeners
(PostgreSQL) or left to polling (SQLite)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from dingstore import errors
from dingstore.store import base, database, postgres, schema, sqlite, task_rows
from dingstore.store import events as event_rows
from tests import backends

_t = schema.orgs
_BY_ID = base.prepared(sa.select(_t.c.corp_id, _t.c.name).where(_t.c.corp_id == sa.bindparam("c")))
_PLAIN = sa.select(_t.c.corp_id, _t.c.name).where(_t.c.corp_id == sa.bindparam("c"))
_INSERT = base.prepared(
    sa.insert(_t)
    .values(corp_id=sa.bindparam("c"), name=sa.bindparam("n"), created_at=sa.literal_column("0"))
    .returning(_t.c.corp_id)
)
_RENAME = base.prepared(
    sa.update(_t)
    .where(_t.c.corp_id == sa.bindparam("c"))
    .values(name=sa.literal_column("'z'"))
    .returning(_t.c.corp_id)
)


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[base.BaseDatabase]:
    opened = await database.open_database(database_url)
    yield opened
    await opened.close()


async def test_write_commits_and_rolls_back(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(sa.insert(_t).values(corp_id="ding2", name="two", created_at=2))
            raise RuntimeError("abort")
    async with db.read() as conn:
        names = (await conn.execute(sa.select(_t.c.name).order_by(_t.c.name))).scalars().all()
    assert names == ["one"]


async def test_a_lazy_commit_is_a_commit(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.commit_lazily()
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    async with db.write() as conn:  # and it does not outlive its transaction
        await conn.execute(sa.insert(_t).values(corp_id="ding2", name="two", created_at=2))
        if db.dialect == "postgresql":
            setting = await conn.execute(sa.text("SHOW synchronous_commit"))
            assert setting.scalar() == "on"
    async with db.read() as conn:
        names = (await conn.execute(sa.select(_t.c.name).order_by(_t.c.name))).scalars().all()
    assert names == ["one", "two"]


async def test_unique_violation_is_a_conflict(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    with pytest.raises(errors.Conflict):
        async with db.write() as conn:
            await conn.execute(sa.insert(_t).values(corp_id="ding1", name="again", created_at=2))
    assert await db.ping()


async def test_prepared_statements_answer_as_sqlalchemy_does(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
    async with db.read() as conn:
        for key in ("ding1", "nope"):
            fast = (await conn.execute(_BY_ID, {"c": key})).mappings().first()
            slow = (await conn.execute(_PLAIN, {"c": key})).mappings().first()
            assert (dict(fast) if fast else None) == (dict(slow) if slow else None)
        row = (await conn.execute(_BY_ID, {"c": "ding1"})).mappings().first()
        assert (row.corp_id, row["name"]) == ("ding1", "one")


async def test_a_failed_read_leaves_the_connection_usable(db: base.BaseDatabase) -> None:
    with pytest.raises((sa.exc.DBAPIError, errors.Unavailable)):
        async with db.read() as conn:
            await conn.execute(sa.text("SELECT * FROM no_such_table"))
    assert await db.ping()


async def test_prepared_statements_refuse_type_conversions(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = await database.open_database(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    try:
        converting = base.prepared(sa.select(schema.users.c.is_admin))
        with pytest.raises(TypeError, match="column is_admin"):
            async with db.read() as conn:
                await conn.execute(converting)
        uncounted = base.prepared(sa.delete(_t).where(_t.c.corp_id == sa.bindparam("c")))
        with pytest.raises(TypeError, match="must have RETURNING"):
            async with db.write() as conn:
                await conn.execute(uncounted, {"c": "ding1"})
    finally:
        await db.close()


async def test_writers_naming_one_lock_take_turns(db: base.BaseDatabase) -> None:
    """A writer holding a key's lock keeps another that names it waiting until it commits (on
    SQLite every writer waits: one at a time); another key does not wait on PostgreSQL."""
    order: list[str] = []

    async def second(key: int) -> None:
        async with db.write() as conn:
            await conn.lock(key)
            order.append(f"second {key}")

    async with db.write() as conn:
        await conn.lock(1)
        same = asyncio.create_task(second(1))
        other = asyncio.create_task(second(2))
        if db.dialect == "postgresql":
            await asyncio.wait_for(asyncio.shield(other), 5)
        await asyncio.sleep(0.3)
        assert not same.done()
        order.append("first")
    await asyncio.wait_for(asyncio.gather(same, other), 5)
    assert order.index("first") < order.index("second 1")


async def _announce(db: base.BaseDatabase, *, commit: bool) -> None:
    with contextlib.suppress(RuntimeError):
        async with db.write() as conn:
            await task_rows.announce(conn)
            if not commit:
                raise RuntimeError("roll back")


async def test_listeners_hear_announcements_when_they_commit(db: base.BaseDatabase) -> None:
    heard = asyncio.Event()
    listening = asyncio.create_task(db.listen(task_rows.CHANNEL, heard.set))
    try:
        await asyncio.wait_for(heard.wait(), 5)  # listening began (and said so)
        heard.clear()
        await _announce(db, commit=False)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(heard.wait(), 0.3)
        await _announce(db, commit=True)
        await asyncio.wait_for(heard.wait(), 2)
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


@pytest.mark.shapes(backends.SCALE_OUT)  # PostgreSQL's listener connection
async def test_a_lost_listener_connection_listens_again(database_url: str) -> None:
    db = await database.open_database(database_url)
    heard = asyncio.Event()
    listening = asyncio.create_task(db.listen(task_rows.CHANNEL, heard.set))
    try:
        await asyncio.wait_for(heard.wait(), 5)
        heard.clear()
        async with db.write() as conn:
            killed = await conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": postgres.LISTENER_NAME},
            )
            assert killed.scalars().all() == [True]
        await asyncio.wait_for(heard.wait(), 5)  # listening again, and said so
        heard.clear()
        await _announce(db, commit=True)
        await asyncio.wait_for(heard.wait(), 2)
        assert not listening.done()
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)
        await db.close()


async def _listening_connections(db: base.BaseDatabase) -> list[int]:
    async with db.read() as conn:
        found = await conn.execute(
            sa.text(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = :name"
            ),
            {"name": postgres.LISTENER_NAME},
        )
        return list(found.scalars())


@pytest.mark.shapes(backends.SCALE_OUT)  # libpq's URL parameters
async def test_the_urls_libpq_parameters_hold_for_every_connection(database_url: str) -> None:
    # sslmode is what managed PostgreSQL services ask for; SQLAlchemy's own reading of the URL
    # handed it to asyncpg.connect as a keyword, and opening the store failed with a TypeError
    name = "dingstore-dsn-test"
    db = await database.open_database(f"{database_url}?sslmode=disable&application_name={name}")
    stat = sa.table("pg_stat_ssl", sa.column("pid"), sa.column("ssl"))
    app = sa.literal_column("current_setting('application_name')").label("app")
    now = sa.select(app, stat.c.ssl).where(stat.c.pid == sa.func.pg_backend_pid())
    try:
        async with db.write() as conn:  # the SQLAlchemy engine's connections
            await conn.execute(sa.insert(_t).values(corp_id="ding1", name="one", created_at=1))
            written = (await conn.execute(now)).mappings().first()
        async with db.read() as conn:  # the read pool's (prepared statements), and the engine's
            pooled = (await conn.execute(base.prepared(now), {})).mappings().first()
            row = (await conn.execute(_PLAIN, {"c": "ding1"})).first()
    finally:
        await db.close()
    assert row is not None and tuple(row) == ("ding1", "one")
    assert written is not None and pooled is not None
    assert dict(written) == dict(pooled) == {"app": name, "ssl": False}


@pytest.mark.shapes(backends.SCALE_OUT)  # PostgreSQL's listener connection
async def test_every_listener_of_a_process_shares_one_connection(database_url: str) -> None:
    db = await database.open_database(database_url)
    heard = {name: asyncio.Event() for name in ("tasks 1", "tasks 2", "events 1", "events 2")}
    channels = {"tasks": task_rows.CHANNEL, "events": event_rows.CHANNEL}
    listening: list[asyncio.Task[None]] = []

    async def listen(name: str) -> None:
        listening.append(asyncio.create_task(db.listen(channels[name[:-2]], heard[name].set)))
        await asyncio.wait_for(heard[name].wait(), 5)  # listening began, for this one too

    async def announced(channel: str, names: list[str]) -> None:
        for name in heard:
            heard[name].clear()
        async with db.write() as conn:
            await conn.notify(channel)
        await asyncio.gather(*(asyncio.wait_for(heard[name].wait(), 2) for name in names))
        for name in set(heard) - set(names):
            assert not heard[name].is_set(), f"{name} heard {channel}"

    try:
        await listen("tasks 1")
        await listen("tasks 2")  # the connection listens already
        await listen("events 1")  # a new channel on the live connection
        await listen("events 2")
        first = await _listening_connections(db)
        assert len(first) == 1
        # Another process's NOTIFY reaches each channel's listeners, and only theirs.
        other = await database.open_database(database_url)
        try:
            await announced_by(other, task_rows.CHANNEL, heard, ["tasks 1", "tasks 2"])
            await announced_by(other, event_rows.CHANNEL, heard, ["events 1", "events 2"])
        finally:
            await other.close()
        await announced(event_rows.CHANNEL, ["events 1", "events 2"])

        # Lost: one new connection listens on both channels again, and every listener is told.
        for name in heard:
            heard[name].clear()
        async with db.write() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": first[0]})
        await asyncio.gather(*(asyncio.wait_for(event.wait(), 5) for event in heard.values()))
        again = await _listening_connections(db)
        assert len(again) == 1 and again != first
        other = await database.open_database(database_url)
        try:
            await announced_by(other, task_rows.CHANNEL, heard, ["tasks 1", "tasks 2"])
            await announced_by(other, event_rows.CHANNEL, heard, ["events 1", "events 2"])
        finally:
            await other.close()

        # The last listener gone, the connection is closed.
        for task in listening:
            task.cancel()
        await asyncio.gather(*listening, return_exceptions=True)
        for _ in range(250):  # its backend ends once it sees the socket closed
            if not await _listening_connections(db):
                break
            await asyncio.sleep(0.02)
        assert await _listening_connections(db) == []
    finally:
        for task in listening:
            task.cancel()
        await asyncio.gather(*listening, return_exceptions=True)
        await db.close()


async def announced_by(
    other: base.BaseDatabase, channel: str, heard: dict[str, asyncio.Event], names: list[str]
) -> None:
    """``other`` (another process's database) announces on ``channel``: exactly ``names`` hear
    it (through NOTIFY, as ``other``'s commit reaches no listener here directly)."""
    for event in heard.values():
        event.clear()
    async with other.write() as conn:
        await conn.notify(channel)
    await asyncio.gather(*(asyncio.wait_for(heard[name].wait(), 2) for name in names))
    await asyncio.sleep(0.1)
    for name in set(heard) - set(names):
        assert not heard[name].is_set(), f"{name} heard {channel}"


@pytest.mark.shapes(backends.SCALE_OUT)  # one writer at a time: SQLite never deadlocks
async def test_a_deadlock_victim_is_told_to_retry(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        for n in (1, 2):
            await conn.execute(sa.insert(_t).values(corp_id=f"ding{n}", name="x", created_at=n))
    both_hold = asyncio.Barrier(2)

    async def rename(first: str, second: str) -> None:
        async with db.write() as conn:
            await conn.execute(sa.update(_t).where(_t.c.corp_id == first).values(name=first))
            await both_hold.wait()
            await conn.execute(sa.update(_t).where(_t.c.corp_id == second).values(name=first))

    outcomes = await asyncio.gather(
        rename("ding1", "ding2"), rename("ding2", "ding1"), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "Unavailable"], outcomes


async def test_prepared_statements_in_a_write_answer_as_sqlalchemy_does(
    db: base.BaseDatabase,
) -> None:
    """A write runs prepared statements and others in one transaction: each sees what the other
    wrote, a changed-rows count is told, and a rollback undoes both."""
    async with db.write() as conn:
        await conn.execute(_INSERT, {"c": "ding1", "n": "one"})
        await conn.execute(sa.insert(_t).values(corp_id="ding2", name="two", created_at=2))
        assert (await conn.execute(_BY_ID, {"c": "ding2"})).mappings().first()["name"] == "two"
        assert (await conn.execute(_PLAIN, {"c": "ding1"})).mappings().first()["name"] == "one"
        assert (await conn.execute(_RENAME, {"c": "ding1"})).rowcount == 1
        assert (await conn.execute(_RENAME, {"c": "nope"})).rowcount == 0
    with pytest.raises(RuntimeError):
        async with db.write() as conn:
            await conn.execute(_INSERT, {"c": "ding3", "n": "three"})
            await conn.execute(sa.delete(_t).where(_t.c.corp_id == "ding2"))
            raise RuntimeError("abort")
    with pytest.raises(errors.Conflict):
        async with db.write() as conn:
            await conn.execute(_INSERT, {"c": "ding1", "n": "again"})
    async with db.read() as conn:
        rows = (await conn.execute(sa.select(_t.c.corp_id, _t.c.name).order_by(_t.c.corp_id))).all()
    assert [tuple(r) for r in rows] == [("ding1", "z"), ("ding2", "two")]


@pytest.mark.shapes(backends.SCALE_OUT)  # PostgreSQL's pooled connections
async def test_connections_the_server_closed_are_replaced(db: base.BaseDatabase) -> None:
    """A restart (here: every other connection of the database killed) closes the pooled
    connections; the next reads and writes open others instead of failing."""
    async with db.write() as a, db.write() as b:  # two pooled write connections
        await a.execute(_INSERT, {"c": "ding1", "n": "one"})
        await b.execute(_INSERT, {"c": "ding2", "n": "two"})
    async with db.read() as conn:
        await conn.execute(_PLAIN, {"c": "ding1"})  # and a read's SQLAlchemy connection
    kill = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
    kill += "WHERE datname = current_database() AND pid <> pg_backend_pid()"
    async with db.write() as conn:
        await conn.execute(sa.text(kill))
    await asyncio.sleep(0.2)  # the closed sockets seen
    for n in range(3):
        async with db.write() as conn:
            await conn.execute(_INSERT, {"c": f"ding{n + 3}", "n": "new"})
        async with db.read() as conn:
            assert (await conn.execute(_PLAIN, {"c": f"ding{n + 3}"})).first() is not None
            assert (await conn.execute(_BY_ID, {"c": "ding1"})).first() is not None


@pytest.mark.shapes(backends.SCALE_OUT)  # one writer at a time: SQLite never deadlocks
async def test_a_deadlock_in_prepared_statements_is_told_to_retry(db: base.BaseDatabase) -> None:
    async with db.write() as conn:
        for n in (1, 2):
            await conn.execute(_INSERT, {"c": f"ding{n}", "n": "x"})
    both_hold = asyncio.Barrier(2)

    async def rename(first: str, second: str) -> None:
        async with db.write() as conn:
            await conn.execute(_RENAME, {"c": first})
            await both_hold.wait()
            await conn.execute(_RENAME, {"c": second})

    outcomes = await asyncio.gather(
        rename("ding1", "ding2"), rename("ding2", "ding1"), return_exceptions=True
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "Unavailable"], outcomes


async def test_a_long_write_answers_as_a_short_one(db: base.BaseDatabase) -> None:
    """``write(long=True)``: the same statements and results, rollback, errors translated."""
    async with db.write(long=True) as conn:
        for n in (1, 2):
            await conn.execute(sa.insert(_t).values(corp_id=f"ding{n}", name="x", created_at=n))
        renamed = await conn.execute(sa.update(_t).values(name="y"))
        assert renamed.rowcount == 2
        rows = (await conn.execute(sa.select(_t.c.corp_id).order_by(_t.c.corp_id))).all()
        assert [r.corp_id for r in rows] == ["ding1", "ding2"]
        fast = (await conn.execute(_BY_ID, {"c": "ding2"})).mappings().first()
        assert fast is not None and fast["name"] == "y"
        tables = await conn.run_sync(lambda c: sa.inspect(c).has_table("orgs"))
        assert tables
    with pytest.raises(RuntimeError):
        async with db.write(long=True) as conn:
            await conn.execute(sa.delete(_t))
            raise RuntimeError("abort")
    with pytest.raises(errors.Conflict):
        async with db.write(long=True) as conn:
            await conn.execute(sa.insert(_t).values(corp_id="ding1", name="again", created_at=3))
    async with db.read() as conn:
        names = (await conn.execute(sa.select(_t.c.name).order_by(_t.c.name))).scalars().all()
    assert names == ["y", "y"]


async def _insert(db: base.BaseDatabase, corp_id: str, *, fail: bool = False) -> str:
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id=corp_id, name="x", created_at=1))
        if fail:
            raise RuntimeError(f"{corp_id} fails")
    return corp_id


async def _stored(db: base.BaseDatabase) -> list[str]:
    async with db.read() as conn:
        return list((await conn.execute(sa.select(_t.c.corp_id).order_by(_t.c.corp_id))).scalars())


async def test_concurrent_writes_fail_alone(db: base.BaseDatabase) -> None:
    """Writes at once (on SQLite: one batch, one commit): one that fails takes nothing of the
    others with it, and those that answered are committed."""
    outcomes = await asyncio.gather(
        *(_insert(db, f"ding{n}", fail=n == 2) for n in range(1, 5)), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes] == ["str", "RuntimeError", "str", "str"]
    assert await _stored(db) == ["ding1", "ding3", "ding4"]


async def test_long_and_short_writes_at_once_all_commit(db: base.BaseDatabase) -> None:
    """A long write among short ones (on SQLite it commits the open batch first and runs
    alone): each answers once committed, in any order."""

    async def long_insert(corp_id: str) -> str:
        async with db.write(long=True) as conn:
            await conn.execute(sa.insert(_t).values(corp_id=corp_id, name="x", created_at=1))
        return corp_id

    done = await asyncio.gather(
        _insert(db, "ding1"), long_insert("ding2"), _insert(db, "ding3"), long_insert("ding4")
    )
    assert done == ["ding1", "ding2", "ding3", "ding4"]
    assert await _stored(db) == done


# --- SQLite's writer: statements on the loop, a long transaction's on the writer's thread ---


@pytest.fixture
async def embedded(tmp_path: Path) -> AsyncIterator[sqlite.SQLiteDatabase]:
    opened = await database.open_database(f"sqlite:///{tmp_path / 'w.db'}")
    assert isinstance(opened, sqlite.SQLiteDatabase)
    yield opened
    await opened.close()


def _other_process(path: Path) -> sqlite3.Connection:
    """A connection as another process (the admin CLI) would hold one."""
    return sqlite3.connect(path / "w.db", isolation_level=None, check_same_thread=False)


async def _reads_answer(db: base.BaseDatabase) -> None:
    for _ in range(3):
        async with db.read() as conn:
            await conn.execute(sa.select(_t.c.corp_id))
        await asyncio.sleep(0.01)


async def test_a_long_write_leaves_the_loop_to_reads(embedded: sqlite.SQLiteDatabase) -> None:
    """A long transaction's statement, held here until reads have answered, runs off the loop:
    were it on the loop, no read could answer until the statement gave up waiting."""
    release = threading.Event()

    async def long_step() -> bool:
        async with embedded.write(long=True) as conn:
            await conn.run_sync(
                lambda c: c.connection.dbapi_connection.create_function(
                    "held", 0, lambda: int(release.wait(10))
                )
            )
            return bool((await conn.execute(sa.text("SELECT held()"))).scalar_one())

    step = asyncio.create_task(long_step())
    await asyncio.sleep(0.05)
    await asyncio.wait_for(_reads_answer(embedded), 5)
    release.set()
    assert await asyncio.wait_for(step, 5)  # released, not timed out


async def test_a_write_waits_off_the_loop_for_another_process(
    embedded: sqlite.SQLiteDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``BEGIN IMMEDIATE`` behind another process's write waits on the writer's thread, up to
    the busy timeout (then 503), and leaves the connection ready for the next transaction."""
    other = _other_process(tmp_path)
    other.execute("BEGIN IMMEDIATE")

    async def insert(corp_id: str) -> None:
        async with embedded.write() as conn:
            await conn.execute(sa.insert(_t).values(corp_id=corp_id, name="x", created_at=1))

    waiting = asyncio.create_task(insert("ding1"))
    await asyncio.wait_for(_reads_answer(embedded), 5)
    assert not waiting.done()
    other.rollback()
    await asyncio.wait_for(waiting, 5)

    monkeypatch.setattr(sqlite, "BUSY_TIMEOUT_MS", 50)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(errors.Unavailable):
        await insert("ding2")
    cancelled = asyncio.create_task(insert("ding3"))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.gather(cancelled, return_exceptions=True)
    other.rollback()
    other.close()
    await insert("ding4")
    async with embedded.read() as conn:
        ids = (await conn.execute(sa.select(_t.c.corp_id).order_by(_t.c.corp_id))).scalars()
        assert ids.all() == ["ding1", "ding4"]


async def test_a_batch_sqlite_ended_fails_every_writer_in_it(
    embedded: sqlite.SQLiteDatabase,
) -> None:
    """When SQLite ends the batch's transaction itself (as on a full disk), the writers of the
    batch that already answered their part are told to retry; nothing of theirs is kept, and
    the next write begins a new batch."""

    async def ended_by_sqlite() -> None:
        async with embedded.write() as conn:
            await conn.execute(sa.insert(_t).values(corp_id="ding2", name="x", created_at=1))
            await conn.run_sync(lambda c: c.connection.dbapi_connection.rollback())

    outcomes = await asyncio.gather(
        _insert(embedded, "ding1"), ended_by_sqlite(), return_exceptions=True
    )
    assert [type(o).__name__ for o in outcomes] == ["Unavailable", "Unavailable"]
    await _insert(embedded, "ding3")
    assert await _stored(embedded) == ["ding3"]


_SLOW = sa.text(  # ~0.1-0.5 s on either backend
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000) "
    "SELECT count(*) FROM c"
)


async def test_a_write_cancelled_in_a_statement_is_cancelled(db: base.BaseDatabase) -> None:
    """asyncpg closes a connection whose statement a cancel interrupts, and leaving the
    transaction then raised "the underlying connection is closed": the seam made it a "retry"
    error, the cancel was lost, and housekeeping's loop, told to stop, went on (CI: a server
    that never ended on SIGTERM). Cancelled anywhere in the write, the task is cancelled, and
    the store serves on. (A cancel that lands in the commit may find it done: either outcome.)"""
    for n, delay in enumerate((0.0, 0.005, 0.02, 0.05, 0.1)):

        async def write(corp_id: str = f"ding{n}") -> None:
            async with db.write() as conn:
                await conn.execute(_SLOW)
                await conn.execute(sa.insert(_t).values(corp_id=corp_id, name="x", created_at=1))

        task = asyncio.create_task(write())
        await asyncio.sleep(delay)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    async with db.write() as conn:
        await conn.execute(sa.insert(_t).values(corp_id="after", name="x", created_at=1))
    async with db.read() as conn:
        assert (await conn.execute(_PLAIN, {"c": "after"})).all() == [("after", "x")]
