"""ledger lines; internal webhook destinations

Each accepted ``rectification.status.v1`` line is kept with the state it left its ledger item
in, so that a recipient sees an item as of the latest line it was sent, never more. Items
stored before this revision get one line: their latest, as ``ledger_items`` holds it — seen by
the recipients of that line. Partners gain ``webhook_allow_internal`` (off: pushes to loopback
and link-local addresses are refused).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 00:10:00.000000
"""
from alembic import op
import sqlalchemy as sa
import exchange.store.models


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ledger_lines',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('owner', sa.String(length=80), nullable=False),
    sa.Column('ledger_item_id', sa.String(length=64), nullable=False),
    sa.Column('log_index', sa.BigInteger(), nullable=False),
    sa.Column('received_at', exchange.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('reported_at', exchange.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('source_doc_number', sa.String(length=100), nullable=False),
    sa.Column('unit_name', sa.String(length=200), nullable=False),
    sa.Column('unit_uscc', sa.String(length=18), nullable=True),
    sa.Column('rectification_class', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('milestone_due', sa.Date(), nullable=True),
    sa.Column('amount_involved', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('amount_rectified', sa.Numeric(precision=18, scale=2), nullable=False),
    sa.Column('rules_made', sa.Integer(), nullable=False),
    sa.Column('persons_held_accountable', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('message_id')
    )
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_lines_item', ['owner', 'ledger_item_id', 'log_index'], unique=False)

    op.execute(
        "INSERT INTO ledger_lines (message_id, owner, ledger_item_id, log_index, received_at, "
        "reported_at, source, source_doc_number, unit_name, unit_uscc, rectification_class, "
        "status, deadline, milestone_due, amount_involved, amount_rectified, rules_made, "
        "persons_held_accountable) "
        "SELECT i.last_message_id, i.owner, i.ledger_item_id, m.log_index, m.received_at, "
        "i.reported_at, i.source, i.source_doc_number, i.unit_name, i.unit_uscc, "
        "i.rectification_class, i.status, i.deadline, i.milestone_due, i.amount_involved, "
        "i.amount_rectified, i.rules_made, i.persons_held_accountable "
        "FROM ledger_items i JOIN messages m ON m.id = i.last_message_id"
    )

    with op.batch_alter_table('partners', schema=None) as batch_op:
        # A default only to fill the existing rows; the hub always writes the column itself.
        batch_op.add_column(sa.Column('webhook_allow_internal', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.alter_column('webhook_allow_internal', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('webhook_allow_internal')
    with op.batch_alter_table('ledger_lines', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_lines_item')
    op.drop_table('ledger_lines')
