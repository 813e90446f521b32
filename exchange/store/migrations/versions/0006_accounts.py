"""accounts of the console and the review commands; failed sign-ins

People who review, administer or observe sign in with an account (argon2 password hash); a
reviewer is counted by account, so four eyes are two distinct accounts. Failed sign-ins are
kept for throttling, per account name and client address. The console lists messages
newest first by their receiving log entry (``ix_messages_log_index``).

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-02 07:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import exchange.store.models


revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('accounts',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('body', sa.String(length=20), nullable=True),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', exchange.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.Column('password_changed_at', exchange.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name_key')
    )
    op.create_table('login_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name_key', sa.String(length=120), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', exchange.store.models.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_login_attempts_name_at', 'login_attempts', ['name_key', 'at'], unique=False)
    op.create_index('ix_login_attempts_address_at', 'login_attempts', ['address', 'at'], unique=False)
    op.create_index('ix_messages_log_index', 'messages', ['log_index'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_log_index', table_name='messages')
    op.drop_index('ix_login_attempts_address_at', table_name='login_attempts')
    op.drop_index('ix_login_attempts_name_at', table_name='login_attempts')
    op.drop_table('login_attempts')
    op.drop_table('accounts')
