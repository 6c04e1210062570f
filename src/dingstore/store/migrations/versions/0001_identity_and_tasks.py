"""Identity (orgs, users, apps, suites, tokens), id blocks and tasks.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "id_blocks",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("next_value", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_id_blocks"),
    )
    # Ids start at 10^10 so that they read like DingTalk's ten-digit ids.
    op.execute("INSERT INTO id_blocks (name, next_value) VALUES ('global', 10000000000)")
    op.create_table(
        "orgs",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("corp_id", name="pk_orgs"),
    )
    op.create_table(
        "users",
        sa.Column("union_id", sa.String(64), nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("is_admin", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("union_id", name="pk_users"),
        sa.ForeignKeyConstraint(["corp_id"], ["orgs.corp_id"], name="fk_users_corp_id_orgs"),
        sa.UniqueConstraint("corp_id", "user_id", name="uq_users_corp_id_user_id"),
    )
    op.create_table(
        "suites",
        sa.Column("suite_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("secret_hash", sa.String(128), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("suite_key", name="pk_suites"),
    )
    op.create_table(
        "apps",
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("agent_id", sa.BigInteger, nullable=False),
        sa.Column("app_key", sa.String(64)),
        sa.Column("secret_hash", sa.String(128)),
        sa.Column("suite_key", sa.String(64)),
        sa.Column("suite_ticket", sa.String(128)),
        sa.Column("scopes", sa.Text, nullable=False),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("app_id", name="pk_apps"),
        sa.ForeignKeyConstraint(["corp_id"], ["orgs.corp_id"], name="fk_apps_corp_id_orgs"),
        sa.ForeignKeyConstraint(
            ["suite_key"], ["suites.suite_key"], name="fk_apps_suite_key_suites"
        ),
        sa.UniqueConstraint("app_key", name="uq_apps_app_key"),
        sa.UniqueConstraint("suite_key", "corp_id", name="uq_apps_suite_key_corp_id"),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("reusable", sa.Boolean, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.ForeignKeyConstraint(["app_id"], ["apps.app_id"], name="fk_tokens_app_id_apps"),
        sa.UniqueConstraint("token_hash", name="uq_tokens_token_hash"),
    )
    op.create_index("ix_tokens_app_id", "tokens", ["app_id"])
    op.create_index("ix_tokens_expires_at", "tokens", ["expires_at"])
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger, nullable=False, autoincrement=False),
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("creator_id", sa.String(64), nullable=False),
        sa.Column("app_id", sa.String(64)),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_count", sa.BigInteger),
        sa.Column("success_count", sa.BigInteger, nullable=False),
        sa.Column("fail_count", sa.BigInteger, nullable=False),
        sa.Column("fail_message", sa.String(256)),
        sa.Column("begin_time", sa.BigInteger),
        sa.Column("end_time", sa.BigInteger),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("cursor", sa.JSON),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_expires_at", sa.BigInteger),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.ForeignKeyConstraint(["corp_id"], ["orgs.corp_id"], name="fk_tasks_corp_id_orgs"),
    )
    op.create_index("ix_tasks_end_time", "tasks", ["end_time"])
    op.create_index("ix_tasks_status_lease", "tasks", ["status", "lease_expires_at"])


def downgrade() -> None:
    for table in ("tasks", "tokens", "apps", "suites", "users", "orgs", "id_blocks"):
        op.drop_table(table)
