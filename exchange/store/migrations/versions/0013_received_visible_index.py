"""The referral list's received half reads only the cases a recipient may see: a partial index
(not held for review, not rejected), so that cases held by the thousand are not read to find
none (issue 15, item 2).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 12:40:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

_VISIBLE = "state NOT IN ('pending_review', 'rejected')"


def upgrade() -> None:
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.create_index(
            'ix_referral_cases_received_visible',
            ['recipient', 'sent_at', 'message_id'],
            unique=False,
            postgresql_where=sa.text(_VISIBLE),
            sqlite_where=sa.text(_VISIBLE),
        )


def downgrade() -> None:
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_cases_received_visible')
