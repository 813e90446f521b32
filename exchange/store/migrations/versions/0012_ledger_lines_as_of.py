"""The ledger as of a day by a range condition: each line keeps its item's first report and
the status date of the item's next line; lines by log index, for the figures' cells to catch
up on the log (issue 13, issue 15 item 2).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 11:10:00.000000
"""
import sqlalchemy as sa
from alembic import op

from exchange.store.models import UtcDateTime


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_FIRST = """UPDATE ledger_lines SET first_reported_at = (
    SELECT i.first_reported_at FROM ledger_items i
    WHERE i.owner = ledger_lines.owner AND i.ledger_item_id = ledger_lines.ledger_item_id)"""
_NEXT = """UPDATE ledger_lines SET superseded_on = (
    SELECT n.status_date FROM ledger_lines n
    WHERE n.owner = ledger_lines.owner AND n.ledger_item_id = ledger_lines.ledger_item_id
      AND n.log_index > ledger_lines.log_index
    ORDER BY n.log_index LIMIT 1)"""


def upgrade() -> None:
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.add_column(sa.Column('first_reported_at', UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('superseded_on', sa.Date(), nullable=True))
    op.execute(_FIRST)
    op.execute(_NEXT)
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.alter_column('first_reported_at', existing_type=UtcDateTime(timezone=True), nullable=False)
        batch_op.create_index(
            'ix_ledger_lines_superseded', ['superseded_on', 'status_date'], unique=False
        )
        batch_op.create_index('ix_ledger_lines_log_index', ['log_index'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_lines_log_index')
        batch_op.drop_index('ix_ledger_lines_superseded')
        batch_op.drop_column('superseded_on')
        batch_op.drop_column('first_reported_at')
