"""list indexes: every list's plan in index order, whatever the statistics

The referral list reads its two halves (sent, received) newest first along
``ix_referral_cases_sent`` and ``ix_referral_cases_received``; an un-acked pull walks
``ix_deliveries_unacked`` (the backlog only); the intake's ledger-item lookup is answered by
``ix_ledger_items_key`` from the keys, not by every item of the sender.

Revision ID: 0008
Revises: 0006f
Create Date: 2026-12-02 07:40:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0006f'
branch_labels = None
depends_on = None

_UNACKED = "cursor IS NOT NULL AND acked_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index(
            'ix_deliveries_unacked', ['recipient', 'cursor'], unique=False,
            postgresql_where=sa.text(_UNACKED), sqlite_where=sa.text(_UNACKED),
        )
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.create_index(
            'ix_referral_cases_sent', ['sender', 'sent_at', 'message_id', 'recipient'], unique=False
        )
        batch_op.create_index(
            'ix_referral_cases_received', ['recipient', 'sent_at', 'message_id'], unique=False
        )
    with op.batch_alter_table('ledger_items', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_items_key', ['ledger_item_id', 'owner'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_items', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_items_key')
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_cases_received')
        batch_op.drop_index('ix_referral_cases_sent')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_unacked')
