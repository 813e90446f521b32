"""Each partner's own rate limit (issue 14 item 4).

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02 13:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rate_limit', sa.String(length=200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('rate_limit')
