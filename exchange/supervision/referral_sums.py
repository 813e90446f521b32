"""The referral cases' sums as of a cut-off day, kept per process and brought up to date from
the transparency log (issue 15, item 2): the referral figures without a row per case.

A case counts in the state of its latest step dated up to the cut-off. Its sums are kept per
sender, recipient, issue category, state, days to first feedback (in hundredths, for the
median) and — for a concluded case that held persons accountable — its referral (persons are
counted once per referral, the larger of its bodies' counts). Each case also says whether it
leads its referral (the first released case of it, by recipient), so that distinct referrals
are a sum too.

The sums are made by one scan (``kept``), and moved on by reading again only the referrals
with steps logged since: every case of such a referral as the log stood at the old size and
at the new. A case's columns that steps set are read as the log stood: its first feedback
only once a feedback step of it lies below that size; its release and outcomes are read only
in states that follow them, and never change after.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    Subquery,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from exchange.store.models import ReferralCase, Transition
from exchange.supervision.days import HUNDREDTH_OF_A_DAY
from exchange.supervision.kept import Kept, Source, Sums, kept_for
from exchange.supervision.scope import Period, plan_settings, reported_within
from exchange.supervision.states import REFERRAL_OPEN, ReferralState
from exchange.supervision.visibility import HIDDEN_FROM_RECIPIENT
from exchange.transparency.tree import NEXT_INDEX

KEY: Final = ("sender", "recipient", "issue_category", "state", "delay", "referral_id")
"""What the sums are keyed by: ``delay`` is the released case's days to first feedback in
hundredths (None without one), ``referral_id`` a concluded case's referral where it held
persons accountable (None otherwise)."""

COUNTS: Final = ("cases", "overdue", "leads", "persons")
AMOUNTS: Final = ("recovered",)
_ZERO: Final = {n: 0 for n in COUNTS} | {n: Decimal(0) for n in AMOUNTS}

PATCH_LIMIT: Final = 2000
"""Referrals with new steps beyond which the sums are made again by a scan."""

_ENTRIES: Final = 32
_KEPT: Final = 250_000
"""Cells kept per engine in all (a cell is about 0.5 KB; a concluded case that held persons
accountable is a cell of its own)."""


def _micros(start: Any, end: Any, dialect: str) -> ColumnElement[int]:
    # The microseconds from one stored moment to another. SQLite keeps them as text,
    # "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's storage format), PostgreSQL as timestamps.
    if dialect == "postgresql":
        return cast(func.extract("epoch", end - start) * 1_000_000, BigInteger)

    def whole(moment: Any) -> ColumnElement[int]:
        return cast(func.strftime("%s", moment), Integer)

    def fraction(moment: Any) -> ColumnElement[int]:
        return cast(func.substr(moment, 21, 6), Integer)

    return (whole(end) - whole(start)) * 1_000_000 + fraction(end) - fraction(start)


def _hundredths(micros: ColumnElement[int]) -> ColumnElement[int]:
    # ``days.hundredths_of_a_day`` in SQL: half up, by floor division (both databases
    # truncate integer division, so a negative span is handled apart).
    unit = HUNDREDTH_OF_A_DAY
    up = micros + unit // 2
    return case((up >= 0, up // unit), else_=-((-up + unit - 1) // unit))


def case_rows(
    period: Period,
    day: date,
    *,
    dialect: str,
    keys: Subquery | None = None,
    before: int | None = None,
) -> Subquery:
    """Each case sent within the period and by the day (of the referrals of ``keys``, else
    all), in its state as of the day, as the log stood below ``before`` (else as it stands).
    """
    c, t = ReferralCase, Transition
    of_case = (
        t.kind == "referral",
        t.owner == c.sender,
        t.key == c.referral_id,
        t.party == c.recipient,
    )
    below = () if before is None else (t.log_index < before,)
    state: ColumnElement[Any] = (
        select(t.to_state)
        .where(*of_case, t.business_date <= day, *below)
        .order_by(t.log_index.desc())
        .limit(1)
        .correlate(c)
        .scalar_subquery()
    )
    if before is None:
        # The case's last step is dated by the day: it is the step the look-up would find, and
        # the case is in its current state (as of today, nearly every case).
        state = case((c.last_step_date <= day, c.state), else_=state)
    micros: ColumnElement[Any] = _micros(c.released_at, c.first_feedback_at, dialect)
    if before is not None:
        # Feedback steps are the recipient's own messages; the hub's steps carry the
        # referral's.
        fed_back = exists().where(*of_case, t.message_id != c.message_id, *below)
        micros = case((fed_back, micros), else_=None)
    rows = select(
        c.sender,
        c.recipient,
        c.referral_id,
        c.issue_category,
        c.feedback_due,
        c.persons_handled,
        c.recovered_amount,
        state.label("state"),
        micros.label("micros"),
    ).where(*reported_within(c.sent_at, period))
    if keys is not None:
        rows = rows.join(keys, and_(keys.c.owner == c.sender, keys.c.key == c.referral_id))
    # OFFSET 0: a fence, so that each case's state is looked up once, not at every use.
    return rows.offset(0).subquery("case_rows")


def sums_statement(rows: Subquery, day: date) -> Select[Any]:
    """The cases' sums per ``KEY``."""
    seen = select(rows).where(rows.c.state.is_not(None)).subquery("seen")
    s = seen.c
    released = s.state.not_in(HIDDEN_FROM_RECIPIENT)
    concluded = s.state == ReferralState.CONCLUDED
    first = func.row_number().over(
        partition_by=(s.sender, s.referral_id),
        order_by=(case((released, 0), else_=1), s.recipient),
    )
    led = select(
        seen,
        case((and_(released, first == 1), 1), else_=0).label("lead"),
        case((and_(released, s.micros.is_not(None)), _hundredths(s.micros))).label("delay"),
        case((and_(concluded, s.persons_handled > 0), s.referral_id)).label("persons_of"),
    ).subquery("led")
    r = led.c
    open_late = and_(r.state.in_(sorted(REFERRAL_OPEN)), r.feedback_due < day)
    is_concluded = r.state == ReferralState.CONCLUDED
    key = (r.sender, r.recipient, r.issue_category, r.state, r.delay, r.persons_of)
    return select(
        *key,
        func.count().label("cases"),
        func.sum(case((open_late, 1), else_=0)).label("overdue"),
        func.sum(r.lead).label("leads"),
        func.sum(case((is_concluded, r.persons_handled), else_=0)).label("persons"),
        func.sum(case((is_concluded, r.recovered_amount), else_=literal(0))).label("recovered"),
    ).group_by(*key)


def _sums_of(rows: Iterable[Any]) -> Sums:
    return {
        tuple(row[:6]): {
            "cases": int(row.cases),
            "overdue": int(row.overdue),
            "leads": int(row.leads),
            "persons": int(row.persons),
            "recovered": Decimal(row.recovered),
        }
        for row in rows
    }


def _scan(session: Session, period: Period, day: date, size: int) -> tuple[Sums, int]:
    # One statement over every case as of the day, and the log's size it saw.
    dialect = session.get_bind().dialect.name
    statement = sums_statement(case_rows(period, day, dialect=dialect), day).add_columns(
        NEXT_INDEX.scalar_subquery().label("log_size")
    )
    with plan_settings(session, item_by_item=False):
        rows = list(session.execute(statement))
    return _sums_of(rows), int(rows[0].log_size) if rows else size


def changed_referrals(start: int, end: int) -> Subquery:
    """The referrals with steps logged at indices ``start`` up to ``end`` (by
    ``ix_transitions_log_index``).
    """
    t = Transition
    # Fenced (OFFSET 0), so that the kind is not matched along the primary key instead,
    # which would read every referral's steps.
    logged = (
        select(t.kind, t.owner, t.key)
        .where(t.log_index >= start, t.log_index < end)
        .offset(0)
        .subquery("logged")
    )
    return (
        select(logged.c.owner, logged.c.key)
        .where(logged.c.kind == "referral")
        .distinct()
        .subquery("changed")
    )


def _sums_before(session: Session, keys: Subquery, period: Period, day: date, before: int) -> Sums:
    # Every case of the changed referrals, summed as the log stood below ``before``.
    dialect = session.get_bind().dialect.name
    rows = case_rows(period, day, dialect=dialect, keys=keys, before=before)
    with plan_settings(session):
        return _sums_of(session.execute(sums_statement(rows, day)))


def _cache() -> Kept:
    return Kept(
        Source(
            scan=lambda *args: _scan(*args),
            changed=changed_referrals,
            before=_sums_before,
            zero=_ZERO,
            count="cases",
            limit=lambda: PATCH_LIMIT,
            derive=_referrals,
        ),
        entries=_ENTRIES,
        budget=lambda: _KEPT,
    )


@dataclass
class Pair:
    """One sender's cases with one recipient, summed as the figures read them."""

    by_state: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)  # released cases
    overdue: int = 0
    leads: int = 0
    persons: int = 0  # of the concluded cases
    recovered: Decimal = Decimal(0)
    delays: Counter[int] = field(default_factory=Counter)
    # Persons per referral of the concluded cases that held any accountable.
    persons_by_referral: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Referrals:
    """Every case as of a day, per sender and recipient, and per sender the most persons any
    of its bodies held accountable on each referral (and their total).
    """

    pairs: dict[tuple[str, str], Pair]
    most_persons: dict[str, dict[str, int]]
    most_persons_total: dict[str, int]


def _referrals(sums: Sums) -> Referrals:
    pairs: dict[tuple[str, str], Pair] = {}
    most: dict[str, dict[str, int]] = {}
    for (sender, recipient, category, state, delay, referral_id), cell in sums.items():
        pair = pairs.setdefault((sender, recipient), Pair())
        pair.by_state[state] += cell["cases"]
        if state not in HIDDEN_FROM_RECIPIENT:
            pair.by_category[category] += cell["cases"]
        if delay is not None:
            pair.delays[delay] += cell["cases"]
        if referral_id is not None:
            pair.persons_by_referral[referral_id] = cell["persons"]
            of_sender = most.setdefault(sender, {})
            of_sender[referral_id] = max(of_sender.get(referral_id, 0), cell["persons"])
        pair.overdue += cell["overdue"]
        pair.leads += cell["leads"]
        pair.persons += cell["persons"]
        pair.recovered += cell["recovered"]
    totals = {sender: sum(persons.values()) for sender, persons in most.items()}
    return Referrals(pairs, most, totals)


def referrals_as_of(session: Session, period: Period, day: date) -> Referrals:
    """Every case as of ``day`` within the period's range, from the cache of the session's
    engine.
    """
    derived = kept_for(session, "referral sums", _cache).entry(session, period, day).derived
    assert isinstance(derived, Referrals)
    return derived
