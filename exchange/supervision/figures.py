"""What the read models answer: referrals and ledger items a partner may see, their
timelines, and the figures of joint supervision (整改率, 立行立改完成率, overdue counts …)."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, Subquery, and_, exists, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from exchange.store.models import (
    LEDGER_STATE,
    Delivery,
    LedgerLine,
    ReferralCase,
    Transition,
    UtcDateTime,
)

# The bodies keep Beijing time: a deadline passes at midnight in China Standard Time.
CHINA = timezone(timedelta(hours=8), "CST")
# A referral still awaits feedback in these states (rejected, returned, transferred and
# concluded ones are done; held ones have not reached the recipient).
REFERRAL_OPEN = frozenset({"released", "delivered", "acked", "accepted", "disposed"})
LEDGER_DONE = frozenset({"completed", "closed"})


def china_today(now: datetime) -> date:
    """The calendar date in Beijing at ``now``."""
    return now.astimezone(CHINA).date()


def china_date(moment: datetime) -> date:
    """The Beijing calendar date of a stored UTC moment."""
    return moment.astimezone(CHINA).date()


def referral_overdue(case: ReferralCase, today: date) -> bool:
    """逾期未反馈: past the feedback date and not yet done (DOMAIN.md)."""
    return case.state in REFERRAL_OPEN and today > case.feedback_due


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
    first_reported_at: datetime
    reported_at: datetime
    last_message_id: str
    log_index: int


def ledger_overdue(item: SeenItem, today: date) -> bool:
    """逾期: past the deadline or a phased milestone's due date, and not completed."""
    if item.status in LEDGER_DONE:
        return False
    return today > item.deadline or (item.milestone_due is not None and today > item.milestone_due)


def days_to_first_feedback(case: ReferralCase) -> float | None:
    """Days from release to the first feedback, to two decimals."""
    if case.first_feedback_at is None or case.released_at is None:
        return None
    return round((case.first_feedback_at - case.released_at).total_seconds() / 86400, 2)


# --- who sees what ----------------------------------------------------------------------------


def visible_cases(partner_id: str) -> ColumnElement[bool]:
    """Cases the partner sent, or received once released."""
    return or_(
        ReferralCase.sender == partner_id,
        and_(
            ReferralCase.recipient == partner_id,
            ReferralCase.state.not_in(["pending_review", "rejected"]),
        ),
    )


def visible_lines(partner_id: str) -> ColumnElement[bool]:
    """Ledger lines the partner sent, or was sent once released (a delivery with a cursor)."""
    received = exists().where(
        Delivery.message_id == LedgerLine.message_id,
        Delivery.recipient == partner_id,
        Delivery.cursor.is_not(None),
    )
    return or_(LedgerLine.owner == partner_id, received)


def seen_items(partner_id: str | None) -> Subquery:
    """Each ledger item as ``partner_id`` sees it (everyone's when None): its latest visible
    line, first reported at its earliest visible line. Keyed by the business key itself, so a
    line without `subject` counts as any other."""
    lines = select(
        LedgerLine.owner,
        LedgerLine.ledger_item_id,
        func.max(LedgerLine.log_index).label("log_index"),
        type_coerce(func.min(LedgerLine.reported_at), UtcDateTime()).label("first_reported_at"),
    )
    if partner_id is not None:
        lines = lines.where(visible_lines(partner_id))
    latest = lines.group_by(LedgerLine.owner, LedgerLine.ledger_item_id).subquery("latest")
    line = LedgerLine
    return (
        select(
            *(getattr(line, name) for name in (*LEDGER_STATE, "log_index")),
            latest.c.first_reported_at,
            line.message_id.label("last_message_id"),
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
    return [SeenItem(**row._mapping) for row in session.execute(query)]


def ledger_overdue_sql(seen: Subquery, today: date) -> ColumnElement[bool]:
    """逾期, as SQL over ``seen_items`` columns (the same rule as ``ledger_overdue``)."""
    return and_(
        seen.c.status.not_in(LEDGER_DONE),
        or_(
            seen.c.deadline < today,
            and_(seen.c.milestone_due.is_not(None), seen.c.milestone_due < today),
        ),
    )


# --- views ------------------------------------------------------------------------------------


def case_view(case: ReferralCase, today: date) -> dict[str, Any]:
    """One recipient's handling of a referral, as partners and reports see it."""
    return {
        "referral_id": case.referral_id,
        "message_id": case.message_id,
        "from": case.sender,
        "recipient": case.recipient,
        "issue_category": case.issue_category,
        "state": case.state,
        "disposition": case.disposition,
        "sent_at": _time(case.sent_at),
        "released_at": _time(case.released_at),
        "feedback_due": case.feedback_due.isoformat(),
        "first_feedback_at": _time(case.first_feedback_at),
        "concluded_at": _time(case.concluded_at),
        "days_to_first_feedback": days_to_first_feedback(case),
        "overdue": referral_overdue(case, today),
        "persons_handled": case.persons_handled,
        "recovered_amount": _amount(case.recovered_amount),
    }


def item_view(item: SeenItem, today: date) -> dict[str, Any]:
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
        "overdue": ledger_overdue(item, today),
        "amount_involved": _amount(item.amount_involved),
        "amount_rectified": _amount(item.amount_rectified),
        "rules_made": item.rules_made,
        "persons_held_accountable": item.persons_held_accountable,
        "first_reported_at": _time(item.first_reported_at),
        "reported_at": _time(item.reported_at),
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
            "at": _time(t.at),
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
    step wherever a visible line's status differs from the one before it that it saw."""
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
                    "at": _time(received_at),
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


# --- the figures ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Which referrals (by the day sent) and ledger items (by the day first reported) count."""

    start: date | None = None
    end: date | None = None

    def holds(self, moment: datetime) -> bool:
        """Whether a moment's Beijing date lies in the period (both ends included)."""
        day = china_date(moment)
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def referral_figures(cases: Sequence[ReferralCase], today: date) -> dict[str, Any]:
    """Counts by state and category, overdue, median days to the first feedback."""
    delays = [d for d in (days_to_first_feedback(c) for c in cases) if d is not None]
    return {
        "total": len(cases),
        "by_state": dict(sorted(Counter(c.state for c in cases).items())),
        "by_category": dict(sorted(Counter(c.issue_category for c in cases).items())),
        "overdue": sum(referral_overdue(c, today) for c in cases),
        "with_feedback": len(delays),
        "median_days_to_feedback": round(statistics.median(delays), 2) if delays else None,
        "concluded": sum(c.state == "concluded" for c in cases),
        "persons_handled": sum(c.persons_handled for c in cases),
        "recovered_amount": _amount(sum((c.recovered_amount for c in cases), Decimal(0))),
    }


def rectification_figures(items: Sequence[SeenItem], today: date) -> dict[str, Any]:
    """整改率 and the rest over some ledger items (DOMAIN.md's definitions)."""
    statuses = Counter(i.status for i in items)
    done = statuses["completed"] + statuses["closed"]
    immediate = [i for i in items if i.rectification_class == "immediate"]
    immediate_done = sum(i.status in LEDGER_DONE for i in immediate)
    return {
        "total": len(items),
        "by_status": dict(sorted(statuses.items())),
        "completed": statuses["completed"],
        "closed": statuses["closed"],
        "ongoing": statuses["ongoing"],
        "not_rectified": statuses["not_rectified"],
        "in_progress": statuses["in_progress"] + statuses["submitted"] + statuses["pending"],
        "overdue": sum(ledger_overdue(i, today) for i in items),
        "rectification_rate": _rate(done, len(items)),
        "immediate_total": len(immediate),
        "immediate_rate": _rate(immediate_done, len(immediate)),
        "amount_involved": _amount(sum((i.amount_involved for i in items), Decimal(0))),
        "amount_rectified": _amount(sum((i.amount_rectified for i in items), Decimal(0))),
        "rules_made": sum(i.rules_made for i in items),
        "persons_held_accountable": sum(i.persons_held_accountable for i in items),
    }


def stats(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> dict[str, Any]:
    """The figures over what ``partner_id`` sent or received (everything when None)."""
    today = china_today(now)
    cases_query = select(ReferralCase)
    if partner_id is not None:
        cases_query = cases_query.where(visible_cases(partner_id))
    cases = [c for c in session.scalars(cases_query) if period.holds(c.sent_at)]
    seen = seen_items(partner_id)
    items = [i for i in seen_rows(session, select(seen)) if period.holds(i.first_reported_at)]
    units: dict[tuple[str, str | None], list[SeenItem]] = {}
    for item in items:
        units.setdefault((item.unit_name, item.unit_uscc), []).append(item)
    return {
        "from": period.start.isoformat() if period.start else None,
        "to": period.end.isoformat() if period.end else None,
        "as_of": today.isoformat(),
        "referrals": referral_figures(cases, today),
        "rectification": {
            **rectification_figures(items, today),
            "by_unit": [
                {"unit": {"name": name, "uscc": uscc}, **rectification_figures(group, today)}
                for (name, uscc), group in sorted(units.items(), key=lambda u: u[0][0])
            ],
        },
    }


def _rate(part: int, whole: int) -> float | None:
    # A percentage to 0.01 (half up), as the reports print it.
    if whole == 0:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.01"), "ROUND_HALF_UP"))


def _amount(value: Decimal) -> str:
    return str(Decimal(value).quantize(Decimal("0.01")))


def _time(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None
