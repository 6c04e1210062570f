"""Permissions: grants of roles on nodes, and users' departments, tags and conversations.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "group_members",
        sa.Column("corp_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("group_id", sa.String(128), nullable=False),
        sa.Column("union_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(
            "corp_id", "kind", "group_id", "union_id", name=op.f("pk_group_members")
        ),
    )
    op.create_index("ix_group_members_user", "group_members", ["union_id"])
    op.create_table(
        "permissions",
        sa.Column("space_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("dentry_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("member", sa.String(256), nullable=False),
        sa.Column("role_id", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("member_type", sa.String(16), nullable=False),
        sa.Column("member_id", sa.String(128), nullable=False),
        sa.Column("member_corp_id", sa.String(64)),
        sa.Column("expires_at", sa.BigInteger),
        sa.Column("operator_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("modified_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(
            "space_id", "dentry_id", "member", "role_id", name=op.f("pk_permissions")
        ),
    )
    op.create_index("ix_permissions_member", "permissions", ["space_id", "member"])
    op.create_index("ix_permissions_expires_at", "permissions", ["expires_at"])


def downgrade() -> None:
    op.drop_table("permissions")
    op.drop_table("group_members")
