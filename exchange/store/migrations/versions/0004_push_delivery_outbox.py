"""push delivery outbox

The deliveries table becomes the transactional outbox of push delivery (PROTOCOL §7): each
delivery keeps its push state, attempts, last error and timings; a partial index holds only
the pushes still to make. A partner's webhook can be disabled (410 Gone).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 07:04:18.309921
"""
from alembic import op
import sqlalchemy as sa
import exchange.store.models


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivered_via', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('push_state', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('next_attempt_at', exchange.store.models.UtcDateTime(timezone=True), nullable=True))
        # A default only to fill the existing rows; the hub always writes the column itself.
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('last_attempt_at', exchange.store.models.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_duration_ms', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_deliveries_dead_letters', ['recipient'], unique=False, postgresql_where=sa.text("push_state = 'dead'"), sqlite_where=sa.text("push_state = 'dead'"))
        batch_op.create_index('ix_deliveries_outbox', ['next_attempt_at'], unique=False, postgresql_where=sa.text('next_attempt_at IS NOT NULL'), sqlite_where=sa.text('next_attempt_at IS NOT NULL'))

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('attempts', server_default=None)

    # Before push delivery every delivered message was pulled. Messages released before this
    # revision are not pushed: their partners had no webhook that worked.
    op.execute("UPDATE deliveries SET delivered_via = 'pull' WHERE delivered_at IS NOT NULL")

    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.add_column(sa.Column('webhook_disabled_at', exchange.store.models.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('partners', schema=None) as batch_op:
        batch_op.drop_column('webhook_disabled_at')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_deliveries_outbox', postgresql_where=sa.text('next_attempt_at IS NOT NULL'), sqlite_where=sa.text('next_attempt_at IS NOT NULL'))
        batch_op.drop_index('ix_deliveries_dead_letters', postgresql_where=sa.text("push_state = 'dead'"), sqlite_where=sa.text("push_state = 'dead'"))
        batch_op.drop_column('last_error')
        batch_op.drop_column('last_duration_ms')
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('push_state')
        batch_op.drop_column('delivered_via')
