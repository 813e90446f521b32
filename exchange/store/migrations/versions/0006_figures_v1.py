"""figures v1: business dates, grouping fields, money by category, supervision acts

Ledger lines and items gain ``status_date`` (the business date the status held from; filled for
stored lines with the Beijing day they were reported), the grouping fields, a referral followed
up and one amount column per audit-statistics category; each line's co-responsible units and
supervision acts get tables of their own. Transitions gain their business date (the Beijing day
of the step for stored ones), referral cases the date of their latest step, share uses what the
Version 1 figures count (timing, decisions, plan projects, the day of first use).

Revision ID: 0006f
Revises: 0005
Create Date: 2026-12-02 06:53:10.564452
"""
import re

from alembic import op
import sqlalchemy as sa


revision = '0006f'
down_revision = '0005'
branch_labels = None
depends_on = None

_CATEGORIES = (
    'violation', 'irregular', 'revenue_increase_saving', 'recovered', 'loss_avoided',
    'investment_reduced', 'funds_disbursed', 'funds_revitalised', 'remitted_to_treasury',
    'returned_to_source',
)
_YEAR = re.compile(r'〔([0-9]{4})〕')


def _beijing_day(column: str) -> str:
    # The Beijing calendar day of a stored UTC moment, in this backend's SQL.
    if op.get_bind().dialect.name == 'postgresql':
        return f"(({column}) AT TIME ZONE 'Asia/Shanghai')::date"
    return f"date({column}, '+8 hours')"


def upgrade() -> None:
    op.create_table('ledger_line_acts',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('by', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('message_id', 'position')
    )
    op.create_table('ledger_line_units',
    sa.Column('message_id', sa.String(length=64), nullable=False),
    sa.Column('position', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('unit_name', sa.String(length=200), nullable=False),
    sa.Column('unit_uscc', sa.String(length=18), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('message_id', 'position')
    )
    for table in ('ledger_items', 'ledger_lines'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('status_date', sa.Date(), nullable=True))
            batch_op.add_column(sa.Column('source_year', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('source_project', sa.String(length=200), nullable=True))
            batch_op.add_column(sa.Column('problem_category', sa.String(length=100), nullable=True))
            batch_op.add_column(sa.Column('referral_id', sa.String(length=128), nullable=True))
            for category in _CATEGORIES:
                batch_op.add_column(sa.Column(f'amount_{category}', sa.Numeric(precision=18, scale=2), nullable=True))
            batch_op.add_column(sa.Column('co_units_json', sa.Text(), nullable=True))
            batch_op.add_column(sa.Column('acts_json', sa.Text(), nullable=True))
        op.execute(f"UPDATE {table} SET status_date = {_beijing_day('reported_at')}")
        # source_year's default: the 〔YYYY〕 of the source document's number.
        bind = op.get_bind()
        numbers = bind.execute(sa.text(f'SELECT DISTINCT source_doc_number FROM {table}')).scalars()
        for number in list(numbers):
            match = _YEAR.search(number)
            if match:
                bind.execute(
                    sa.text(f'UPDATE {table} SET source_year = :year WHERE source_doc_number = :number'),
                    {'year': int(match[1]), 'number': number},
                )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('status_date', existing_type=sa.Date(), nullable=False)

    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_date', sa.Date(), nullable=True))
    op.execute(f"UPDATE referral_cases SET status_date = {_beijing_day('updated_at')}")

    with op.batch_alter_table('share_uses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audit_timing', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('decisions', sa.String(length=400), nullable=True))
        # Defaults only to fill the existing rows; the hub always writes the columns itself.
        batch_op.add_column(sa.Column('plan_projects', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('plan_joint_projects', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('used_on', sa.Date(), nullable=True))
    with op.batch_alter_table('share_uses', schema=None) as batch_op:
        batch_op.alter_column('plan_projects', server_default=None)
        batch_op.alter_column('plan_joint_projects', server_default=None)
    op.execute(
        f"UPDATE share_uses SET used_on = {_beijing_day('first_feedback_at')} "
        "WHERE first_feedback_at IS NOT NULL"
    )

    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('business_date', sa.Date(), nullable=True))
    op.execute(f"UPDATE transitions SET business_date = {_beijing_day('at')}")


def downgrade() -> None:
    with op.batch_alter_table('transitions', schema=None) as batch_op:
        batch_op.drop_column('business_date')
    with op.batch_alter_table('share_uses', schema=None) as batch_op:
        for column in ('used_on', 'plan_joint_projects', 'plan_projects', 'decisions', 'audit_timing'):
            batch_op.drop_column(column)
    with op.batch_alter_table('referral_cases', schema=None) as batch_op:
        batch_op.drop_column('status_date')
    for table in ('ledger_lines', 'ledger_items'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for category in reversed(_CATEGORIES):
                batch_op.drop_column(f'amount_{category}')
            for column in ('acts_json', 'co_units_json', 'referral_id', 'problem_category', 'source_project', 'source_year', 'status_date'):
                batch_op.drop_column(column)
    op.drop_table('ledger_line_units')
    op.drop_table('ledger_line_acts')
