"""What partners and reports read of the read models: a case, an item, a timeline."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    bindparam,
    func,
    select,
    true,
    tuple_,
    type_coerce,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from exchange.store.models import (
    LEDGER_STATE,
    Delivery,
    LedgerItem,
    LedgerLine,
    ReferralCase,
    Transition,
    UtcDateTime,
)
from exchange.store.plans import read_in_index_order
from exchange.supervision.days import hundredths_of_a_day
from exchange.supervision.overdue import ledger_overdue, referral_overdue
from exchange.supervision.visibility import (
    HIDDEN_FROM_RECIPIENT,
    SeenItem,
    visible_lines,
)


def days_to_first_feedback(case: ReferralCase) -> float | None:
    """Days from release to the first feedback, to two decimals."""
    if case.first_feedback_at is None or case.released_at is None:
        return None
    return hundredths_of_a_day(case.first_feedback_at - case.released_at) / 100


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


REFERRAL_ORDER = ("sent_at", "message_id", "recipient")
"""The referral list's unique sort key, newest first (``ix_referral_cases_sent`` and
``_received`` hold it after the sender and the recipient).
"""

LEDGER_ORDER = ("owner", "ledger_item_id")
"""The ledger list's unique sort key (the primary key of ``ledger_items``)."""


def referral_page(
    session: Session,
    partner_id: str,
    today: date,
    conditions: Sequence[ColumnElement[bool]],
    *,
    before: Sequence[Any] | None,
    limit: int,
) -> list[tuple[ReferralCase, bool]]:
    """Up to ``limit`` cases the partner may see that meet ``conditions`` (over
    ``ReferralCase``), newest first, after the case whose ``REFERRAL_ORDER`` key is ``before``;
    each with whether it is overdue.
    """
    query = referral_page_query(partner_id, today, conditions, before=before, limit=limit)
    read_in_index_order(session)
    return [(row[0], bool(row[1])) for row in session.execute(query)]


def referral_page_query(
    partner_id: str,
    today: date,
    conditions: Sequence[ColumnElement[bool]],
    *,
    before: Sequence[Any] | None,
    limit: int,
) -> Select[ReferralCase, bool]:
    """The statement of ``referral_page``."""
    # What it sent, then what it received, did not send and may see: the disjoint halves of
    # visible_cases, each written as its own condition (under visible_cases' OR the planner
    # would read every case of the partner into a bitmap), each read backwards along its own
    # index for one page at most; only those two pages are then merged, whatever the planner
    # guesses of their sizes.
    halves = (
        ReferralCase.sender == partner_id,
        and_(
            ReferralCase.recipient == partner_id,
            ReferralCase.sender != partner_id,
            # Written out, values inline, so that the planner reads the partial index of
            # the visible received cases (ix_referral_cases_received_visible).
            ReferralCase.state.not_in(
                bindparam("hidden", list(HIDDEN_FROM_RECIPIENT), literal_execute=True)
            ),
        ),
    )
    columns = [getattr(ReferralCase, name) for name in REFERRAL_ORDER]
    after = true() if before is None else tuple_(*columns) < key_bound(columns, before)
    pages = (
        select(ReferralCase)
        .where(half, after, *conditions)
        .order_by(*(column.desc() for column in columns))
        .limit(limit)
        .subquery()
        for half in halves
    )
    # Each page as a subquery: SQLite takes no ORDER BY or LIMIT inside a UNION's member.
    visible = union_all(*(select(*page.c) for page in pages)).subquery("visible")
    case = aliased(ReferralCase, visible)
    return (
        select(case, referral_overdue(visible.c, today).label("overdue"))
        .order_by(*(visible.c[name].desc() for name in REFERRAL_ORDER))
        .limit(limit)
    )


def ledger_page_query(
    seen: Subquery,
    conditions: Sequence[ColumnElement[bool]],
    *,
    after: Sequence[Any] | None,
    limit: int,
) -> Select[Any]:
    """Up to ``limit`` items of ``listed_items`` that meet ``conditions``, by
    ``LEDGER_ORDER``, after the item whose key is ``after``.
    """
    key = [seen.c[name] for name in LEDGER_ORDER]
    query = select(seen).where(*conditions)
    if after is not None:
        query = query.where(tuple_(*key) > key_bound(key, after))
    return query.order_by(*key).limit(limit)


def key_bound(columns: Sequence[Any], key: Sequence[Any]) -> Any:
    """A sort key as a row value to compare ``tuple_(*columns)`` with, each value bound with
    its column's type (``UtcDateTime`` is naive UTC text on SQLite).
    """
    values = (bindparam(None, v, type_=c.type) for c, v in zip(columns, key, strict=True))
    return tuple_(*values)


def listed_items(partner_id: str, today: date, *, lateral: bool) -> Subquery:
    """Each ledger item as ``partner_id`` sees it, with the columns of ``seen_items``, but
    read item by item along the primary key of ``ledger_items``: a keyset page over it (by
    ``LEDGER_ORDER``) reads its own items' lines only, not every line the partner may see.
    ``lateral`` where the database has LATERAL (PostgreSQL; SQLite has not).
    """
    item, line, mine = LedgerItem, aliased(LedgerLine, name="visible_line"), LedgerLine
    # A line is the partner's own (its owner) or was released to it: a left join on the
    # delivery's primary key, which plans as one probe a line where an EXISTS may be hashed
    # over every delivery of the partner (the same rule as visibility.visible_lines).
    delivery = aliased(Delivery, name="received")
    visible = (
        select(line.message_id)
        .outerjoin(
            delivery,
            and_(
                delivery.message_id == line.message_id,
                delivery.recipient == partner_id,
                delivery.cursor.is_not(None),
            ),
        )
        .where(
            line.owner == item.owner,
            line.ledger_item_id == item.ledger_item_id,
            (line.owner == partner_id) | delivery.message_id.is_not(None),
        )
    )
    newest = visible.order_by(line.log_index.desc()).limit(1)
    first = visible.with_only_columns(func.min(line.reported_at)).scalar_subquery()
    query = select(
        # The key from the item itself: the page's order is then its primary key's.
        item.owner,
        item.ledger_item_id,
        *(getattr(mine, name) for name in (*LEDGER_STATE[2:], "log_index")),
        type_coerce(first, UtcDateTime()).label("first_reported_at"),
        mine.message_id.label("last_message_id"),
        ledger_overdue(mine, today).label("overdue"),
    ).select_from(item)
    if lateral:
        # A nested loop: the item, its newest visible line's id, that line by primary key.
        latest = newest.lateral("latest")
        query = query.join(latest, true()).join(mine, mine.message_id == latest.c.message_id)
    else:
        # A correlated scalar subquery; PostgreSQL would hash-join every line on it.
        query = query.join(mine, mine.message_id == newest.scalar_subquery())
    return query.subquery("seen")


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
