"""Change events: subscriptions, HTTP push callbacks, and the outbox that is also the delivery
log.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_subscriptions",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("scope_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "corp_id", "scope", "scope_id", "app_id", name="pk_event_subscriptions"
        ),
    )
    op.create_table(
        "app_callbacks",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("token", sa.String(128), nullable=False),
        sa.Column("aes_key", sa.String(43), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", name="pk_app_callbacks"),
    )
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer, "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("space_id", sa.BigInteger, nullable=False),
        sa.Column("dentry_id", sa.BigInteger, nullable=False),
        sa.Column("dentry_type", sa.String(8), nullable=False),
        sa.Column("name", sa.String(1024), nullable=False),
        sa.Column("union_id", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(8), nullable=False),
        sa.Column("scope_id", sa.String(64), nullable=False),
        sa.Column("born_at", sa.BigInteger, nullable=False),
        sa.Column("tx", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("due_at", sa.BigInteger, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.BigInteger),
        sa.Column("last_error", sa.String(256)),
        sa.Column("delivered_at", sa.BigInteger),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_events_due", "events", ["corp_id", "app_id", "status", "due_at", "id"])
    op.create_index("ix_events_dentry", "events", ["corp_id", "app_id", "dentry_id", "id"])
    op.create_index("ix_events_feed", "events", ["corp_id", "app_id", "tx", "id"])
    op.create_index("ix_events_born_at", "events", ["born_at"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("app_callbacks")
    op.drop_table("event_subscriptions")
