"""The log as a stored tree: interior hashes on each entry, and signed checkpoints.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 06:05:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from keys.merkle import CompactTree

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nodes", sa.LargeBinary(), nullable=True))

    # Entries written before this revision get their interior hashes, in index order.
    bind = op.get_bind()
    entries = sa.table(
        "log_entries", sa.column("idx", sa.BigInteger()), sa.column("leaf_hash", sa.LargeBinary())
    )
    nodes = sa.table(
        "log_entries", sa.column("idx", sa.BigInteger()), sa.column("nodes", sa.LargeBinary())
    )
    tree = CompactTree()
    for index, leaf in bind.execute(sa.select(entries.c.idx, entries.c.leaf_hash).order_by("idx")):
        if index != tree.size:
            raise RuntimeError(f"the log has a gap at index {tree.size}; run `exchange log verify`")
        bind.execute(
            nodes.update().where(nodes.c.idx == index).values(nodes=b"".join(tree.append(leaf)))
        )

    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.alter_column("nodes", existing_type=sa.LargeBinary(), nullable=False)

    # Each key points at the entry that registered it.
    with op.batch_alter_table("partner_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("log_index", sa.BigInteger(), nullable=True))
    logged = sa.table(
        "log_entries",
        sa.column("idx", sa.BigInteger()),
        sa.column("action", sa.String()),
        sa.column("entry", sa.LargeBinary()),
    )
    keys = sa.table(
        "partner_keys", sa.column("kid", sa.String()), sa.column("log_index", sa.BigInteger())
    )
    for index, entry in bind.execute(
        sa.select(logged.c.idx, logged.c.entry).where(logged.c.action == "key:added")
    ):
        kid = json.loads(entry)["kid"]
        bind.execute(keys.update().where(keys.c.kid == kid).values(log_index=index))

    op.create_table(
        "checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signed", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size"),
    )
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkpoints_issued_at"), ["issued_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("checkpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkpoints_issued_at"))
    op.drop_table("checkpoints")
    with op.batch_alter_table("partner_keys", schema=None) as batch_op:
        batch_op.drop_column("log_index")
    with op.batch_alter_table("log_entries", schema=None) as batch_op:
        batch_op.drop_column("nodes")
