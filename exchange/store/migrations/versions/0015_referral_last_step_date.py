"""Referral cases gain the business date of their last step: the figures' scan as of a day on
or after it takes a case's current state instead of looking up its steps (issue 15, item 2).
Stored cases get it from their last step in log order (NULL where that step is undated: its
steps are read, as before).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 21:20:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_step_date', sa.Date(), nullable=True))
    op.execute(
        "UPDATE referral_cases SET last_step_date = ("
        " SELECT t.business_date FROM transitions t"
        " WHERE t.kind = 'referral' AND t.owner = referral_cases.sender"
        " AND t.key = referral_cases.referral_id AND t.party = referral_cases.recipient"
        " ORDER BY t.log_index DESC LIMIT 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.drop_column('last_step_date')
