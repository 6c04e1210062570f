"""Task holds name their org: a tree change reads the holds of its own org only, by index,
instead of every running task's.

Holds of tasks still running when this runs take the org of their space.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("task_holds") as batch:
        batch.add_column(sa.Column("corp_id", sa.String(64)))
    op.execute(
        "UPDATE task_holds SET corp_id ="
        " (SELECT spaces.corp_id FROM spaces WHERE spaces.id = task_holds.space_id)"
    )
    op.execute("DELETE FROM task_holds WHERE corp_id IS NULL")  # a space gone: nothing to hold
    with op.batch_alter_table("task_holds") as batch:
        batch.alter_column("corp_id", existing_type=sa.String(64), nullable=False)
        batch.drop_index("ix_task_holds_space")
        batch.create_index("ix_task_holds_corp", ["corp_id"])


def downgrade() -> None:
    with op.batch_alter_table("task_holds") as batch:
        batch.drop_index("ix_task_holds_corp")
        batch.create_index("ix_task_holds_space", ["space_id"])
        batch.drop_column("corp_id")
