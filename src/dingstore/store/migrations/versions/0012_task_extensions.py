"""The task extensions (docs/tasks.md "Extensions"): a task's space, its cancel request and the
task it retries; idempotency keys.

Tasks written before have no space (the task list's ``spaceId`` filter passes them over).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("space_id", sa.BigInteger))
        batch.add_column(sa.Column("canceled_by", sa.String(64)))
        batch.add_column(sa.Column("retry_of", sa.BigInteger))
        batch.create_index("ix_tasks_corp_id_created_at", ["corp_id", "created_at"])
        batch.create_index("ix_tasks_retry_of", ["retry_of"], unique=True)
    op.create_table(
        "idempotency_keys",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("key", sa.String(256), nullable=False),
        sa.Column("operation", sa.String(64), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("response", sa.Text),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("corp_id", "app_id", "key", name="pk_idempotency_keys"),
    )
    op.create_index("ix_idempotency_keys_expires_at", "idempotency_keys", ["expires_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_retry_of")
        batch.drop_index("ix_tasks_corp_id_created_at")
        batch.drop_column("retry_of")
        batch.drop_column("canceled_by")
        batch.drop_column("space_id")
