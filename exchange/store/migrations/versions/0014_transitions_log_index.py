"""The steps logged since a log size, by an index: the kept referral sums read again only the
referrals moved since they were made (issue 15, item 2).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 14:30:00.000000
"""
from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.create_index('ix_transitions_log_index', ['log_index'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.drop_index('ix_transitions_log_index')
