"""Task working sets remember which nodes met a same-name entry and merged into it.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_nodes") as batch:
        batch.add_column(sa.Column("merged", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("task_nodes") as batch:
        batch.drop_column("merged")
