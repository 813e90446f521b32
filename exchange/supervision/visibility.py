"""Who sees what, defined once: a partner sees the referral cases it sent or received once
released, and each ledger item as of the latest line it sent or received — never more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import ColumnElement, Select, Subquery, and_, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from exchange.store.models import LEDGER_STATE, Delivery, LedgerLine, ReferralCase, UtcDateTime
from exchange.supervision.overdue import ledger_overdue, referral_overdue
from exchange.supervision.states import ReferralState

HIDDEN_FROM_RECIPIENT: Final = (ReferralState.PENDING_REVIEW.value, ReferralState.REJECTED.value)
"""States in which a case is its sender's alone (``RECEIVED_VISIBLE`` names them too)."""


def visible_cases(partner_id: str) -> ColumnElement[bool]:
    """Cases the partner sent, or received once released."""
    return or_(
        ReferralCase.sender == partner_id,
        and_(
            ReferralCase.recipient == partner_id,
            ReferralCase.state.not_in(HIDDEN_FROM_RECIPIENT),
        ),
    )


def cases_seen(partner_id: str | None, today: date) -> Select[ReferralCase, bool]:
    """The cases ``partner_id`` may see (all when None), each with whether it is overdue."""
    query = select(ReferralCase, referral_overdue(ReferralCase.__table__.c, today).label("overdue"))
    return query if partner_id is None else query.where(visible_cases(partner_id))


def visible_lines(partner_id: str) -> ColumnElement[bool]:
    """Ledger lines the partner sent, or was sent once released (a delivery with a cursor)."""
    received = exists().where(
        Delivery.message_id == LedgerLine.message_id,
        Delivery.recipient == partner_id,
        Delivery.cursor.is_not(None),
    )
    return or_(LedgerLine.owner == partner_id, received)


@dataclass(frozen=True)
class SeenItem:
    """A ledger item as one partner sees it: as of the latest line it sent or received."""

    owner: str
    ledger_item_id: str
    source: str
    source_doc_number: str
    unit_name: str
    unit_uscc: str | None
    rectification_class: str
    status: str
    deadline: date
    milestone_due: date | None
    amount_involved: Decimal
    amount_rectified: Decimal
    rules_made: int
    persons_held_accountable: int
    status_date: date
    source_year: int | None
    source_project: str | None
    problem_category: str | None
    referral_id: str | None
    amount_violation: Decimal | None
    amount_irregular: Decimal | None
    amount_revenue_increase_saving: Decimal | None
    amount_recovered: Decimal | None
    amount_loss_avoided: Decimal | None
    amount_investment_reduced: Decimal | None
    amount_funds_disbursed: Decimal | None
    amount_funds_revitalised: Decimal | None
    amount_remitted_to_treasury: Decimal | None
    amount_returned_to_source: Decimal | None
    co_units_json: str | None
    acts_json: str | None
    first_reported_at: datetime
    reported_at: datetime
    last_message_id: str
    log_index: int
    overdue: bool


def seen_items(partner_id: str | None, today: date) -> Subquery:
    """Each ledger item as ``partner_id`` sees it (everyone's when None) as of ``today``: its
    latest visible line with a ``status_date`` up to that day, first reported at its earliest
    visible line, overdue as of that day. Keyed by the business key itself, so a line without
    `subject` counts as any other.
    """
    lines = select(
        LedgerLine.owner,
        LedgerLine.ledger_item_id,
        func.max(LedgerLine.log_index).label("log_index"),
        type_coerce(func.min(LedgerLine.reported_at), UtcDateTime()).label("first_reported_at"),
    )
    # Lines of one item are dated in log order (the lifecycle refuses an earlier status_date),
    # so the latest by log index among those dated up to the day is the item as of that day.
    lines = lines.where(LedgerLine.status_date <= today)
    if partner_id is not None:
        lines = lines.where(visible_lines(partner_id))
    latest = lines.group_by(LedgerLine.owner, LedgerLine.ledger_item_id).subquery("latest")
    line = LedgerLine
    return (
        select(
            *(getattr(line, name) for name in (*LEDGER_STATE, "log_index")),
            latest.c.first_reported_at,
            line.message_id.label("last_message_id"),
            ledger_overdue(line, today).label("overdue"),
        )
        .join(
            latest,
            and_(
                line.owner == latest.c.owner,
                line.ledger_item_id == latest.c.ledger_item_id,
                line.log_index == latest.c.log_index,
            ),
        )
        .subquery("seen")
    )


def seen_rows(session: Session, query: Select[Any]) -> list[SeenItem]:
    """Run a query over ``seen_items`` columns and make each row a ``SeenItem``."""
    return [
        SeenItem(**{**row._mapping, "overdue": bool(row.overdue)}) for row in session.execute(query)
    ]
