"""Upgrading an empty database (not the tests' migrated template) to head gives exactly the
schema the code describes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dingstore.store import database, schema, task_rows


async def test_migrations_match_the_models(empty_database_url: str) -> None:
    db = await database.open_database(empty_database_url)
    try:
        async with db.read() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), schema.metadata)
            )
            ids = (await conn.execute(sa.select(schema.id_blocks))).all()
        assert diff == []
        assert [tuple(r) for r in ids] == [("global", 10_000_000_000)]
        await database.migrate(db)  # a second run is a no-op
    finally:
        await db.close()


async def test_subtree_sizes_are_filled_in_for_an_existing_tree(empty_database_url: str) -> None:
    """0005 computes every node's live descendants and stored bytes from the rows it finds:
    a recycled folder keeps its own sizes and adds nothing to its parent's."""
    db = database.database_for(empty_database_url)
    await db.open()
    try:
        async with db.write() as conn:
            await conn.run_sync(lambda sync: command.upgrade(database.alembic_config(sync), "head"))
            await conn.run_sync(  # back to before the sizes (this checks their downgrade too)
                lambda sync: command.downgrade(database.alembic_config(sync), "0004")
            )
            await conn.execute(sa.insert(schema.orgs).values(corp_id="c", name="o", created_at=0))
            await conn.execute(
                sa.insert(schema.spaces).values(
                    id=1, corp_id="c", app_id="a", name="s", owner_type="USER", owner_id="u",
                    creator_id="u", modifier_id="u", used_quota=0, status="NORMAL", scene="x",
                    scene_id="x", can_search=True, can_rename=True, can_record_recent_file=True,
                    created_at=0, modified_at=0,
                )
            )  # fmt: skip
            tree = [  # id, parent, type, status
                (10, 0, "FOLDER", "NORMAL"),
                (11, 10, "FILE", "NORMAL"),
                (12, 10, "FOLDER", "NORMAL"),
                (13, 12, "FILE", "NORMAL"),
                (14, 10, "FOLDER", "DELETED"),
                (15, 14, "FILE", "NORMAL"),
            ]
            await conn.execute(
                sa.insert(schema.dentries),
                [
                    {"id": node, "space_id": 1, "parent_id": parent, "name": f"n{node}",
                     "type": kind, "status": status, "uuid": f"n{node}", "creator_id": "u",
                     "modifier_id": "u", "created_at": 0, "modified_at": 0}
                    for node, parent, kind, status in tree
                ],
            )  # fmt: skip
            await conn.execute(
                sa.insert(schema.dentry_versions),
                [
                    {"dentry_id": node, "version": version, "space_id": 1, "name": "f",
                     "size": size, "blob_id": 1, "modifier_id": "u", "created_at": 0}
                    for node, version, size in [(11, 1, 5), (11, 2, 7), (13, 1, 100),
                                                (15, 1, 1000)]
                ],
            )  # fmt: skip
        await database.migrate(db)
        async with db.read() as conn:
            sizes = {
                int(i): (int(n), int(s))
                for i, n, s in await conn.execute(
                    sa.select(schema.dentries.c.id, schema.dentries.c.descendants,
                              schema.dentries.c.stored)
                )
            }  # fmt: skip
        assert sizes == {
            10: (3, 112),
            11: (0, 12),
            12: (1, 100),
            13: (0, 100),
            14: (1, 1000),
            15: (0, 1000),
        }
    finally:
        await db.close()


async def test_tasks_running_across_the_upgrade_keep_their_place(empty_database_url: str) -> None:
    """0004 numbers the snapshot of a task that was running under the previous code and turns
    its (depth, node_id) cursor into the count of nodes done, in the task's own walk order."""
    db = database.database_for(empty_database_url)
    await db.open()
    try:
        async with db.write() as conn:
            await conn.run_sync(lambda sync: command.upgrade(database.alembic_config(sync), "head"))
            await conn.run_sync(
                lambda sync: command.downgrade(database.alembic_config(sync), "0003")
            )
            await conn.execute(sa.insert(schema.orgs).values(corp_id="c", name="o", created_at=0))
            old_nodes = sa.table(
                "task_nodes", *(sa.column(c) for c in
                                ("task_id", "node_id", "parent_id", "depth", "type", "failed"))
            )  # fmt: skip
            for task_id, kind, after in [(1, "copy", [2, 22]), (2, "delete", [2, 22])]:
                await conn.execute(
                    sa.insert(schema.tasks).values(
                        id=task_id, corp_id="c", creator_id="u", kind=kind,
                        status="IN_PROGRESS", total_count=5, success_count=2, fail_count=0,
                        payload={}, cursor={"after": after}, created_at=0, modified_at=0,
                    )
                )  # fmt: skip
                await conn.execute(
                    sa.insert(old_nodes),
                    [
                        {"task_id": task_id, "node_id": n, "parent_id": p, "depth": depth,
                         "type": "FOLDER", "failed": False}
                        for n, p, depth in [(11, 10, 1), (12, 10, 1), (21, 11, 2), (22, 11, 2)]
                    ],
                )  # fmt: skip
        await database.migrate(db)
        async with db.read() as conn:
            tn = schema.task_nodes
            seqs = (
                await conn.execute(
                    sa.select(tn.c.task_id, tn.c.node_id, tn.c.seq).order_by(tn.c.task_id, tn.c.seq)
                )
            ).all()
            cursors = dict(
                (await conn.execute(sa.select(schema.tasks.c.id, schema.tasks.c.cursor))).all()
            )
        assert [(t, n, s) for t, n, s in seqs if t == 1] == [
            (1, 11, 1), (1, 12, 2), (1, 21, 3), (1, 22, 4),
        ]  # fmt: skip
        # a copy walks parents first: (2, 22) is its fourth node; a delete walks back from the
        # deepest: (2, 22) is its first
        assert cursors == {1: {"done": 4}, 2: {"done": 1}}
    finally:
        await db.close()


async def test_running_tasks_holds_take_the_org_of_their_space(empty_database_url: str) -> None:
    """0007 gives each hold of a task running across the upgrade its space's org (a tree change
    reads the holds of its org only)."""
    db = database.database_for(empty_database_url)
    await db.open()
    try:
        async with db.write() as conn:
            await conn.run_sync(lambda sync: command.upgrade(database.alembic_config(sync), "head"))
            await conn.run_sync(
                lambda sync: command.downgrade(database.alembic_config(sync), "0006")
            )
            for corp_id, space_id in (("c1", 1), ("c2", 2)):
                await conn.execute(
                    sa.insert(schema.orgs).values(corp_id=corp_id, name="o", created_at=0)
                )
                await conn.execute(
                    sa.insert(schema.spaces).values(
                        id=space_id, corp_id=corp_id, app_id="a", name="s", owner_type="USER",
                        owner_id="u", creator_id="u", modifier_id="u", used_quota=0,
                        status="NORMAL", scene="x", scene_id="x", can_search=True,
                        can_rename=True, can_record_recent_file=True, created_at=0,
                        modified_at=0,
                    )
                )  # fmt: skip
            old_holds = sa.table("task_holds", *(sa.column(c) for c in ("task_id", "dentry_id",
                                                                      "space_id")))  # fmt: skip
            await conn.execute(
                sa.insert(old_holds),
                [{"task_id": 7, "dentry_id": 10, "space_id": 1},
                 {"task_id": 7, "dentry_id": 20, "space_id": 2}],
            )  # fmt: skip
        await database.migrate(db)
        async with db.read() as conn:
            holds = await task_rows.holds_of(conn, "c2")
        assert [(int(h.task_id), int(h.dentry_id)) for h in holds] == [(7, 20)]
    finally:
        await db.close()
