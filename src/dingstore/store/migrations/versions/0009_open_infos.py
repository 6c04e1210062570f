"""Open info: the URLs apps register to open a file with (RegisterOpenInfo), and the browser
session each preview link was first opened in (GetDentryOpenInfo's once-per-session links).

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "open_infos",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("dentry_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("open_type", sa.String(16), nullable=False),
        sa.Column("space_id", sa.BigInteger, nullable=False),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("union_id", sa.String(64), nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "corp_id", "dentry_id", "app_id", "open_type", name="pk_open_infos"
        ),
    )
    op.create_table(
        "preview_sessions",
        sa.Column("link_id", sa.String(32), nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("session_hash", sa.String(64), nullable=False),
        sa.Column("claimed_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("link_id", name="pk_preview_sessions"),
    )
    op.create_index("ix_preview_sessions_expires_at", "preview_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("preview_sessions")
    op.drop_table("open_infos")
