"""Every dentry keeps its subtree's size: live descendants and stored bytes.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dentries") as batch:
        batch.add_column(
            sa.Column("descendants", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(
            sa.Column("stored", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )
    _backfill(op.get_bind())


def _backfill(conn: sa.Connection) -> None:
    """Sizes of the existing tree, computed bottom-up in memory (once, at upgrade)."""
    rows = conn.execute(sa.text("SELECT id, parent_id, status FROM dentries")).all()
    if not rows:
        return
    own: dict[int, int] = dict(
        conn.execute(
            sa.text("SELECT dentry_id, SUM(size) FROM dentry_versions GROUP BY dentry_id")
        ).all()
    )
    children: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for node, parent, status in rows:
        children[int(parent)].append((int(node), status))
    sizes: dict[int, tuple[int, int]] = {}
    for node, _, _ in rows:  # iterative post-order from each node not yet sized
        stack = [(int(node), False)]
        while stack:
            current, expanded = stack.pop()
            if current in sizes:
                continue
            kids = children.get(current, [])
            if not expanded:
                stack.append((current, True))
                stack.extend((kid, False) for kid, _ in kids if kid not in sizes)
                continue
            count, size = 0, int(own.get(current) or 0)
            for kid, status in kids:
                if status == "NORMAL":
                    count += 1 + sizes[kid][0]
                    size += sizes[kid][1]
            sizes[current] = (count, size)
    conn.execute(
        sa.text("UPDATE dentries SET descendants = :count, stored = :size WHERE id = :node"),
        [{"node": n, "count": c, "size": s} for n, (c, s) in sizes.items() if c or s],
    )


def downgrade() -> None:
    with op.batch_alter_table("dentries") as batch:
        batch.drop_column("stored")
        batch.drop_column("descendants")
