"""The task engine's working sets: snapshotted subtrees and held subtrees.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_nodes",
        sa.Column("task_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("node_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.BigInteger, nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("new_id", sa.BigInteger),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "node_id", name=op.f("pk_task_nodes")),
    )
    op.create_index("ix_task_nodes_walk", "task_nodes", ["task_id", "depth", "node_id"])
    op.create_table(
        "task_holds",
        sa.Column("task_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("dentry_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("space_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("task_id", "dentry_id", name=op.f("pk_task_holds")),
    )
    op.create_index("ix_task_holds_space", "task_holds", ["space_id"])


def downgrade() -> None:
    op.drop_table("task_holds")
    op.drop_table("task_nodes")
