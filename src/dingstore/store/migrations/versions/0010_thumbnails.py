"""Thumbnails: one row per file content (blob) that has or awaits one.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "thumbnails",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("source_blob_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("media_type", sa.String(32)),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("size", sa.BigInteger),
        sa.Column("reason", sa.String(32)),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("corp_id", "source_blob_id", name="pk_thumbnails"),
    )
    op.create_index("ix_thumbnails_source_blob_id", "thumbnails", ["source_blob_id"])


def downgrade() -> None:
    op.drop_table("thumbnails")
