"""Spaces, the dentry tree, blobs, versions, app properties, uploads and recycle items.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "app_properties",
        sa.Column("dentry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("visibility", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("dentry_id", "owner_id", "name", name=op.f("pk_app_properties")),
    )
    op.create_table(
        "blobs",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("refcount", sa.BigInteger(), nullable=False),
        sa.Column("released_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blobs")),
    )
    op.create_index("ix_blobs_released_at", "blobs", ["released_at"], unique=False)
    op.create_table(
        "dentry_versions",
        sa.Column("dentry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("version", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("space_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("blob_id", sa.BigInteger(), nullable=False),
        sa.Column("modifier_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dentry_id", "version", name=op.f("pk_dentry_versions")),
    )
    op.create_table(
        "recycle_items",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.BigInteger(), nullable=False),
        sa.Column("dentry_id", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("original_parent_id", sa.BigInteger(), nullable=False),
        sa.Column("original_name", sa.String(length=1024), nullable=False),
        sa.Column("original_path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("operator_time", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recycle_items")),
        sa.UniqueConstraint("dentry_id", name=op.f("uq_recycle_items_dentry_id")),
    )
    op.create_index(
        "ix_recycle_items_corp_time",
        "recycle_items",
        ["corp_id", "operator_time", "id"],
        unique=False,
    )
    op.create_table(
        "uploads",
        sa.Column("upload_key", sa.String(length=64), nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("space_id", sa.BigInteger(), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("blob_id", sa.BigInteger(), nullable=False),
        sa.Column("multipart_id", sa.String(length=256), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("name", sa.String(length=1024), nullable=True),
        sa.Column("parent_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("upload_key", name=op.f("pk_uploads")),
    )
    op.create_index(op.f("ix_uploads_expires_at"), "uploads", ["expires_at"], unique=False)
    op.create_table(
        "spaces",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("corp_id", sa.String(length=64), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=True),
        sa.Column("owner_type", sa.String(length=8), nullable=False),
        sa.Column("owner_id", sa.String(length=64), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("modifier_id", sa.String(length=64), nullable=False),
        sa.Column("quota", sa.BigInteger(), nullable=True),
        sa.Column("used_quota", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("scene", sa.String(length=128), nullable=False),
        sa.Column("scene_id", sa.String(length=128), nullable=False),
        sa.Column("can_search", sa.Boolean(), nullable=False),
        sa.Column("can_rename", sa.Boolean(), nullable=False),
        sa.Column("can_record_recent_file", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("modified_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["corp_id"], ["orgs.corp_id"], name=op.f("fk_spaces_corp_id_orgs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spaces")),
        sa.UniqueConstraint(
            "corp_id",
            "app_id",
            "scene",
            "scene_id",
            name=op.f("uq_spaces_corp_id_app_id_scene_scene_id"),
        ),
    )
    op.create_table(
        "dentries",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("space_id", sa.BigInteger(), nullable=False),
        sa.Column("parent_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=1024), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("blob_id", sa.BigInteger(), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("uuid", sa.String(length=64), nullable=False),
        sa.Column("creator_id", sa.String(length=64), nullable=False),
        sa.Column("modifier_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("modified_at", sa.BigInteger(), nullable=False),
        sa.Column("deleted_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["space_id"], ["spaces.id"], name=op.f("fk_dentries_space_id_spaces")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dentries")),
        sa.UniqueConstraint("uuid", name=op.f("uq_dentries_uuid")),
    )
    op.create_index(
        "ix_dentries_by_created",
        "dentries",
        ["space_id", "parent_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_dentries_by_modified",
        "dentries",
        ["space_id", "parent_id", "modified_at", "id"],
        unique=False,
    )
    op.create_index(
        "ix_dentries_by_size", "dentries", ["space_id", "parent_id", "size", "id"], unique=False
    )
    op.create_index(
        "ix_dentries_space_modified", "dentries", ["space_id", "modified_at", "id"], unique=False
    )
    op.create_index(
        "uq_dentries_live_name",
        "dentries",
        ["space_id", "parent_id", "name"],
        unique=True,
        sqlite_where=sa.text("status = 'NORMAL'"),
        postgresql_where=sa.text("status = 'NORMAL'"),
    )


def downgrade() -> None:
    for table in (
        "dentries",
        "spaces",
        "uploads",
        "recycle_items",
        "dentry_versions",
        "blobs",
        "app_properties",
    ):
        op.drop_table(table)
