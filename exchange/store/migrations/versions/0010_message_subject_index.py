"""The console's search by business key: messages by subject, newest first (issue 11).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 17:05:00.000000
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_subject_log_index', ['subject', 'log_index'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_subject_log_index')
