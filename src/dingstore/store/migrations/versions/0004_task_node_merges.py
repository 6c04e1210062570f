"""Task working sets: numbered in walk order (``seq``), each file's size and blob kept, and
which nodes merged into a same-name entry.

Tasks still running when this runs (snapshotted by the previous code, their cursor a
``(depth, node_id)`` key) are carried over: their nodes are numbered, their files' sizes and
blobs read, and their cursor turned into the count of nodes done.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_nodes") as batch:
        batch.add_column(sa.Column("merged", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("size", sa.BigInteger))
        batch.add_column(sa.Column("blob_id", sa.BigInteger))
        batch.add_column(sa.Column("seq", sa.BigInteger))
        batch.drop_index("ix_task_nodes_walk")
        batch.create_index("ix_task_nodes_seq", ["task_id", "seq"])
    _carry_over(op.get_bind())


_tasks = sa.table(
    "tasks", sa.column("id"), sa.column("kind"), sa.column("status"), sa.column("cursor", sa.JSON)
)
_nodes = sa.table("task_nodes", sa.column("task_id"))


def _carry_over(conn: sa.Connection) -> None:
    running = conn.execute(
        sa.select(_tasks.c.id, _tasks.c.kind, _tasks.c.cursor).where(
            _tasks.c.status.in_(("INIT", "IN_PROGRESS")),
            _tasks.c.id.in_(sa.select(_nodes.c.task_id).distinct()),
        )
    ).all()
    for task_id, kind, cursor in running:
        nodes = conn.execute(
            sa.text(
                "SELECT node_id, depth FROM task_nodes WHERE task_id = :t ORDER BY depth, node_id"
            ),
            {"t": task_id},
        ).all()
        conn.execute(
            sa.text("UPDATE task_nodes SET seq = :seq WHERE task_id = :t AND node_id = :n"),
            [{"seq": i + 1, "t": task_id, "n": n} for i, (n, _) in enumerate(nodes)],
        )
        conn.execute(
            sa.text(
                "UPDATE task_nodes SET size = (SELECT size FROM dentries WHERE id = node_id),"
                " blob_id = (SELECT blob_id FROM dentries WHERE id = node_id)"
                " WHERE task_id = :t AND type = 'FILE'"
            ),
            {"t": task_id},
        )
        state: dict[str, Any] = dict(cursor or {})
        after = state.pop("after", None)
        if after is not None:
            key = (int(after[0]), int(after[1]))
            keys = [(int(d), int(n)) for n, d in nodes]
            if kind == "delete":  # deepest first: those at or past the key are done
                state["done"] = sum(1 for k in keys if k >= key)
            else:
                state["done"] = sum(1 for k in keys if k <= key)
        conn.execute(sa.update(_tasks).where(_tasks.c.id == task_id).values(cursor=state))


def downgrade() -> None:
    with op.batch_alter_table("task_nodes") as batch:
        batch.drop_index("ix_task_nodes_seq")
        batch.create_index("ix_task_nodes_walk", ["task_id", "depth", "node_id"])
        batch.drop_column("seq")
        batch.drop_column("blob_id")
        batch.drop_column("size")
        batch.drop_column("merged")
