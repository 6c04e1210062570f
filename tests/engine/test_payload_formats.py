"""A task written by the previous release runs to its end: each kind's payload, stored exactly
as the untyped dicts of the code before typed payloads wrote it (no ``version``), is read and
run by today's handlers. The request is made as usual with no worker running; its task's
payload is then put back into the previous format, and the workers started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dingstore.service import models
from dingstore.settings import Settings
from dingstore.store import dentries, ids, schema, subtree
from tests import polling
from tests.engine import trees

NODES = 40


class Old:
    """A store whose workers wait to be started, an account, two spaces and a tree in the
    first."""

    def __init__(self, store: trees.Store) -> None:
        self.store = store
        self.services = services = store.services
        self.account = store.run(trees.new_account(services))
        self.actor: models.Actor = self.account.actor
        self.source = store.run(trees.new_space(services, self.account, "from"))
        self.target = store.run(trees.new_space(services, self.account, "to"))
        self.seeded = store.run(
            trees.seed_tree(services, self.account, self.source, "top", NODES, fanout=6)
        )

    @property
    def root(self) -> int:
        return self.seeded.root_id

    def namesake(self) -> int:
        """A folder ``top`` in the target space, with a file of a name the source has too."""
        other = self.store.run(
            trees.seed_tree(self.services, self.account, self.target, "top", 4, fanout=3)
        )
        return other.root_id

    def run_with(
        self, task_id: int | None, payload: dict[str, Any], *, queued: bool = False
    ) -> Any:
        """Store ``payload`` as the task's, start the workers, and wait for the task's end.
        ``queued``: the request now writes the task done (a COUNT); the previous release left
        it INIT for a worker, as it is put back."""
        assert task_id is not None
        t = schema.tasks

        async def rewrite() -> None:
            async with self.services.db.write() as conn:
                row = (await conn.execute(sa.select(t.c.status).where(t.c.id == task_id))).one()
                assert row.status == ("SUCCESS" if queued else "INIT")
                again = {"status": "INIT", "total_count": None, "success_count": 0}
                again |= {"begin_time": None, "end_time": None}
                await conn.execute(
                    sa.update(t)
                    .where(t.c.id == task_id)
                    .values(payload=payload, **(again if queued else {}))
                )

        self.store.run(rewrite())
        return self.finish(task_id)

    def begin_as_before(self, task_id: int | None, *, copy: bool = False) -> None:
        """Begin the task (INIT) as the previous release did: the whole snapshot taken by its
        first step (with the copies' new ids), its size fixed, and a cursor without
        ``walked``."""
        assert task_id is not None
        t = schema.tasks

        async def begin() -> None:
            async with self.services.db.write() as conn:
                row = (await conn.execute(sa.select(t).where(t.c.id == task_id))).one()
                assert row.status == "INIT"
                root, space = int(row.payload["root"]), int(row.payload["space"])
                expected = await dentries.descendants(conn, root)
                first = await ids.reserve_in(conn, expected) if copy else None
                n = await subtree.snapshot(
                    conn, task_id, root, space, first_id=first, every=row.kind != "copy"
                )
                assert n == expected
                await conn.execute(
                    sa.update(t)
                    .where(t.c.id == task_id)
                    .values(
                        status="IN_PROGRESS",
                        total_count=n + 1,
                        success_count=int(row.kind != "delete"),
                        cursor={"done": 0},
                        begin_time=row.created_at,
                    )
                )

        self.store.run(begin())

    def finish(self, task_id: int) -> Any:
        """Start the workers and wait for the task's end, which must be a SUCCESS with exact
        counts, leaving the store whole."""

        async def ended() -> Any:
            self.services.engine.start()
            try:

                async def done() -> Any:
                    row = (await trees.task_rows(self.services.db))[task_id]
                    return row if row.status in ("SUCCESS", "FAIL") else None

                return await polling.until_async(done, timeout=30, what=f"task {task_id}'s end")
            finally:
                await self.services.engine.stop()

        row = self.store.run(ended())
        assert (row.status, row.fail_count) == ("SUCCESS", 0), row
        assert row.success_count == row.total_count
        assert self.store.run(trees.problems(self.services.db)) == []
        return row

    def tree(self, space_id: int) -> list[trees.Entry]:
        return self.store.run(trees.tree(self.services.db, space_id))


@pytest.fixture
def old(tmp_path: Path, database_url: str) -> Iterator[Old]:
    settings = Settings(
        data_dir=tmp_path, database_url=database_url, workers=1, task_poll_interval=0.05
    )
    store = trees.Store(settings)
    try:
        yield Old(store)
    finally:
        store.close()


def test_a_copy_of_the_previous_format_runs(old: Old) -> None:
    copied = old.store.run(
        old.services.dentries.copy(
            old.actor, str(old.source), str(old.root), str(old.target), "0", "AUTO_RENAME"
        )
    )
    assert copied.dentry is not None
    previous = {
        "root": old.root,
        "space": old.source,
        "target_space": old.target,
        "copy_root": int(copied.dentry.id),
    }
    row = old.run_with(copied.task_id, previous)
    assert row.total_count == NODES
    assert old.tree(old.target) == old.tree(old.source)


def test_a_copy_merge_of_the_previous_format_runs(old: Old) -> None:
    into = old.namesake()
    copied = old.store.run(
        old.services.dentries.copy(
            old.actor, str(old.source), str(old.root), str(old.target), "0", "OVERWRITE"
        )
    )
    previous = {
        "root": old.root,
        "space": old.source,
        "target_space": old.target,
        "copy_root": into,
        "merge": True,
    }
    old.run_with(copied.task_id, previous)
    assert set(old.tree(old.source)) <= set(old.tree(old.target))


def test_a_move_across_spaces_of_the_previous_format_runs(old: Old) -> None:
    before = old.tree(old.source)
    moved = old.store.run(
        old.services.dentries.move(
            old.actor, str(old.source), str(old.root), str(old.target), "0", "AUTO_RENAME"
        )
    )
    previous = {
        "root": old.root,
        "space": old.source,
        "target_space": old.target,
        "from_parent": 0,
        "from_name": "top",
    }
    old.run_with(moved.task_id, previous)
    assert old.tree(old.target) == before
    assert old.tree(old.source) == []


def test_a_move_merge_of_the_previous_format_runs(old: Old) -> None:
    into = old.namesake()
    before = old.tree(old.source)
    moved = old.store.run(
        old.services.dentries.move(
            old.actor, str(old.source), str(old.root), str(old.target), "0", "OVERWRITE"
        )
    )
    previous = {
        "root": old.root,
        "space": old.source,
        "target_space": old.target,
        "target_root": into,
        "merge": True,
    }
    old.run_with(moved.task_id, previous)
    assert set(before) <= set(old.tree(old.target))
    assert old.tree(old.source) == []


def test_a_count_of_a_move_in_the_previous_format_runs(old: Old) -> None:
    """A move within one space wrote the keys of a move across spaces."""
    folder = old.store.run(
        old.services.dentries.add_folder(old.actor, str(old.source), "0", "elsewhere", None)
    )
    moved = old.store.run(
        old.services.dentries.move(
            old.actor,
            str(old.source),
            str(old.root),
            str(old.source),
            str(folder.id),
            "AUTO_RENAME",
        )
    )
    previous = {
        "root": old.root,
        "space": old.source,
        "target_space": old.source,
        "from_parent": 0,
        "from_name": "top",
    }
    assert old.run_with(moved.task_id, previous, queued=True).total_count == NODES


def test_a_count_of_a_delete_in_the_previous_format_runs(old: Old) -> None:
    """A delete to the recycle bin (and a restore from it) wrote ``root`` and ``space``."""
    deleted = old.store.run(
        old.services.dentries.delete(old.actor, str(old.source), str(old.root), to_recycle_bin=True)
    )
    row = old.run_with(deleted.task_id, {"root": old.root, "space": old.source}, queued=True)
    assert row.total_count == NODES


def test_a_delete_of_the_previous_format_runs(old: Old) -> None:
    deleted = old.store.run(
        old.services.dentries.delete(
            old.actor, str(old.source), str(old.root), to_recycle_bin=False
        )
    )
    old.run_with(deleted.task_id, {"root": old.root, "space": old.source})
    assert old.tree(old.source) == []
    assert old.store.run(trees.used_quota(old.services.db, old.source)) == 0


# --- tasks the previous release began: snapshotted at start, cursors without ``walked`` ---------


def test_a_copy_begun_by_the_previous_release_runs_on(old: Old) -> None:
    copied = old.store.run(
        old.services.dentries.copy(
            old.actor, str(old.source), str(old.root), str(old.target), "0", "AUTO_RENAME"
        )
    )
    old.begin_as_before(copied.task_id, copy=True)
    assert old.finish(copied.task_id).total_count == NODES
    assert old.tree(old.target) == old.tree(old.source)


def test_a_move_across_spaces_begun_by_the_previous_release_runs_on(old: Old) -> None:
    before = old.tree(old.source)
    moved = old.store.run(
        old.services.dentries.move(
            old.actor, str(old.source), str(old.root), str(old.target), "0", "AUTO_RENAME"
        )
    )
    old.begin_as_before(moved.task_id)
    assert old.finish(moved.task_id).total_count == NODES
    assert (old.tree(old.target), old.tree(old.source)) == (before, [])


def test_a_delete_begun_by_the_previous_release_runs_on(old: Old) -> None:
    deleted = old.store.run(
        old.services.dentries.delete(
            old.actor, str(old.source), str(old.root), to_recycle_bin=False
        )
    )
    old.begin_as_before(deleted.task_id)
    assert old.finish(deleted.task_id).total_count == NODES
    assert old.tree(old.source) == []
