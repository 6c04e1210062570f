"""Online editing through a WOPI office server: file locks and single-use refresh tokens.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wopi_locks",
        sa.Column("dentry_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("space_id", sa.BigInteger, nullable=False),
        sa.Column("lock_id", sa.String(1024), nullable=False),
        sa.Column("union_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("dentry_id", name="pk_wopi_locks"),
    )
    op.create_index("ix_wopi_locks_expires_at", "wopi_locks", ["expires_at"])
    op.create_table(
        "wopi_refresh_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("union_id", sa.String(64), nullable=False),
        sa.Column("space_id", sa.BigInteger, nullable=False),
        sa.Column("dentry_id", sa.BigInteger, nullable=False),
        sa.Column("access_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_wopi_refresh_tokens"),
    )
    op.create_index("ix_wopi_refresh_tokens_expires_at", "wopi_refresh_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("wopi_refresh_tokens")
    op.drop_table("wopi_locks")
