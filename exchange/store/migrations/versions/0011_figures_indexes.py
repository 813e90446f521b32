"""The figures' filters drive the line scan: ledger lines by report, project, category and
unit, co-responsible units by USCC and name (issue 13, issue 15 item 2).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 18:30:00.000000
"""
from alembic import op


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

_LINES = ('source_doc_number', 'source_project', 'problem_category', 'unit_uscc', 'unit_name')


def upgrade() -> None:
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        for name in _LINES:
            batch_op.create_index(
                f'ix_ledger_lines_{name}', [name, 'owner', 'ledger_item_id'], unique=False
            )
    with op.batch_alter_table('ledger_line_units', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_line_units_uscc', ['unit_uscc'], unique=False)
        batch_op.create_index('ix_ledger_line_units_name', ['unit_name'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('ledger_line_units', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_line_units_name')
        batch_op.drop_index('ix_ledger_line_units_uscc')
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        for name in reversed(_LINES):
            batch_op.drop_index(f'ix_ledger_lines_{name}')
