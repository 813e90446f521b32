"""What partners and reports read of the read models: a case, an item, a timeline."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import LedgerLine, ReferralCase, Transition
from exchange.supervision.visibility import SeenItem, visible_lines


def days_to_first_feedback(case: ReferralCase) -> float | None:
    """Days from release to the first feedback, to two decimals."""
    if case.first_feedback_at is None or case.released_at is None:
        return None
    return round((case.first_feedback_at - case.released_at).total_seconds() / 86400, 2)


def case_view(case: ReferralCase, overdue: bool) -> dict[str, Any]:
    """One recipient's handling of a referral, as partners and reports see it."""
    return {
        "referral_id": case.referral_id,
        "message_id": case.message_id,
        "from": case.sender,
        "recipient": case.recipient,
        "issue_category": case.issue_category,
        "state": case.state,
        "disposition": case.disposition,
        "sent_at": time_text(case.sent_at),
        "released_at": time_text(case.released_at),
        "feedback_due": case.feedback_due.isoformat(),
        "first_feedback_at": time_text(case.first_feedback_at),
        "concluded_at": time_text(case.concluded_at),
        "days_to_first_feedback": days_to_first_feedback(case),
        "overdue": overdue,
        "persons_handled": case.persons_handled,
        "recovered_amount": amount_text(case.recovered_amount),
    }


def item_view(item: SeenItem) -> dict[str, Any]:
    """One ledger line, as partners and reports see it."""
    return {
        "ledger_item_id": item.ledger_item_id,
        "owner": item.owner,
        "source": item.source,
        "source_doc_number": item.source_doc_number,
        "responsible_unit": {"name": item.unit_name, "uscc": item.unit_uscc},
        "rectification_class": item.rectification_class,
        "status": item.status,
        "deadline": item.deadline.isoformat(),
        "milestone_due": item.milestone_due.isoformat() if item.milestone_due else None,
        "overdue": item.overdue,
        "amount_involved": amount_text(item.amount_involved),
        "amount_rectified": amount_text(item.amount_rectified),
        "rules_made": item.rules_made,
        "persons_held_accountable": item.persons_held_accountable,
        "first_reported_at": time_text(item.first_reported_at),
        "reported_at": time_text(item.reported_at),
        "last_message_id": item.last_message_id,
    }


def timeline(
    session: Session, kind: str, owner: str, key: str, parties: Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """The accepted steps of one business key, oldest first (optionally of some parties)."""
    query = (
        select(Transition)
        .where(Transition.kind == kind, Transition.owner == owner, Transition.key == key)
        .order_by(Transition.log_index, Transition.party)
    )
    if parties is not None:
        query = query.where(Transition.party.in_(list(parties)))
    return [
        {
            "at": time_text(t.at),
            "from_state": t.from_state,
            "to_state": t.to_state,
            "party": t.party or None,
            "detail": t.detail,
            "message_id": t.message_id,
            "log_index": t.log_index,
        }
        for t in session.scalars(query)
    ]


def ledger_timeline(
    session: Session, partner_id: str | None, owner: str, key: str
) -> list[dict[str, Any]]:
    """A ledger item's status steps over the lines ``partner_id`` may see, oldest first: a
    step wherever a visible line's status differs from the one before it that it saw.
    """
    query = (
        select(
            LedgerLine.status, LedgerLine.received_at, LedgerLine.message_id, LedgerLine.log_index
        )
        .where(LedgerLine.owner == owner, LedgerLine.ledger_item_id == key)
        .order_by(LedgerLine.log_index)
    )
    if partner_id is not None:
        query = query.where(visible_lines(partner_id))
    steps: list[dict[str, Any]] = []
    before: str | None = None
    for status, received_at, message_id, log_index in session.execute(query):
        if status != before:
            steps.append(
                {
                    "at": time_text(received_at),
                    "from_state": before,
                    "to_state": status,
                    "party": None,
                    "detail": None,
                    "message_id": message_id,
                    "log_index": log_index,
                }
            )
        before = status
    return steps


def amount_text(value: Decimal) -> str:
    """An amount in yuan to the fen, as the API writes it."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def time_text(moment: datetime | None) -> str | None:
    """RFC 3339 UTC with a ``Z``, or None."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
