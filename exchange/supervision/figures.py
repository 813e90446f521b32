"""The figures of joint supervision (DOMAIN.md, with its Version 1 additions): 整改率, 持续整改,
money by category, supervision acts, referrals by state and recipient body, shared results and
their use, plans, persons held accountable counted once — over what the caller may see, as of a
cut-off day, for one report's scope.

The ledger figures are aggregates in SQL over each item's latest visible line dated up to the
cut-off (``visibility.seen_items``): nothing loads the items. Referral cases and share uses are
few (one per recipient of a letter) and are counted from their rows.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Select,
    Subquery,
    and_,
    case,
    exists,
    func,
    join,
    not_,
    null,
    or_,
    select,
    text,
    true,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from exchange.store.models import (
    LEDGER_STATE,
    LedgerItem,
    LedgerLine,
    LedgerLineAct,
    LedgerLineUnit,
    Message,
    ReferralCase,
    ShareUse,
    Transition,
    UtcDateTime,
)
from exchange.supervision.days import CHINA, china_date, china_today
from exchange.supervision.lifecycles.share import parse_decisions
from exchange.supervision.overdue import ledger_overdue
from exchange.supervision.reads import amount_text
from exchange.supervision.states import LEDGER_DONE, REFERRAL_OPEN, ReferralState, ShareState
from exchange.supervision.visibility import visible_lines
from schemas import AMOUNT_CATEGORIES, RECTIFICATION_STATUSES, body_of

LEDGER_FILTERS: Final = (
    "owner",
    "source",
    "source_doc_number",
    "source_year",
    "source_project",
    "problem_category",
)
"""Filters that equal one column of a ledger item's state (``unit`` also matches co-units)."""

_HELD: Final = frozenset({ReferralState.PENDING_REVIEW})


@dataclass(frozen=True)
class Period:
    """Which figures count: referrals by the day sent and ledger items by the day first
    reported (``start``/``end``, Beijing dates), as of ``as_of`` (default: today), within one
    report's scope (owner, source, source document, year, project, unit, problem category).
    """

    start: date | None = None
    end: date | None = None
    as_of: date | None = None
    owner: str | None = None
    source: str | None = None
    source_doc_number: str | None = None
    source_year: int | None = None
    source_project: str | None = None
    unit: str | None = None
    problem_category: str | None = None

    def holds(self, moment: datetime) -> bool:
        """Whether a moment's Beijing date lies in the period (both ends included)."""
        day = china_date(moment)
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def day(self, now: datetime) -> date:
        """The cut-off day: ``as_of``, or today in Beijing."""
        return self.as_of or china_today(now)

    def ledger_scoped(self) -> bool:
        """Whether a filter narrows the ledger beyond owner and period."""
        return any(getattr(self, name) is not None for name in (*LEDGER_FILTERS[1:], "unit"))

    def filters(self) -> dict[str, Any]:
        """The filters given, by their query names (for the answer and the report titles)."""
        named = {"from": self.start, "to": self.end, "as_of": self.as_of}
        named.update({name: getattr(self, name) for name in (*LEDGER_FILTERS, "unit")})
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in named.items()
            if value is not None
        }


_PLAN_SETTINGS: Final = ("jit", "enable_hashjoin", "enable_mergejoin", "enable_bitmapscan")


@contextmanager
def plan_settings(session: Session) -> Iterator[None]:
    """For one statement on PostgreSQL: nested loops along the indexes whatever the
    statistics say (no hash or merge join over a whole table, no bitmap), and no JIT (its
    compilation costs more than the statement).
    """
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql:
        for name in _PLAN_SETTINGS:
            session.execute(text(f"SET LOCAL {name} = off"))
    yield
    # Not after an error: the transaction is then over, and so are its settings.
    if postgresql:
        for name in _PLAN_SETTINGS:
            session.execute(text(f"SET LOCAL {name} TO DEFAULT"))


def _beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), CHINA)


_DRIVERS: Final = ("source_doc_number", "source_project", "problem_category")
"""Filters selective enough to drive the line scan, each by an index of ``ledger_lines``
led by it (``unit`` too, by its own indexes)."""

_ITEM_COLUMNS: Final = (*LEDGER_STATE, "first_reported_at", "last_message_id", "overdue")


def _candidates(period: Period, day: date) -> Select[str, str] | CompoundSelect[str, str] | None:
    """The keys of the items one of whose lines dated up to ``day`` matches every filter on
    a line's own columns, read by the index of a selective filter given; None when no such
    filter is given (every item is a candidate). The item's latest line as of ``day`` must
    match them all, so the candidates hold every item in scope (and are checked again).
    """
    line = LedgerLine
    conditions = [line.status_date <= day]
    for name in LEDGER_FILTERS:
        value = getattr(period, name)
        if value is not None:
            conditions.append(getattr(line, name) == value)
    keys = select(line.owner, line.ledger_item_id)
    if period.unit is not None:
        co = keys.join(LedgerLineUnit, LedgerLineUnit.message_id == line.message_id)
        return union(
            keys.where(line.unit_uscc == period.unit, *conditions),
            keys.where(line.unit_name == period.unit, *conditions),
            co.where(LedgerLineUnit.unit_uscc == period.unit, *conditions),
            co.where(LedgerLineUnit.unit_name == period.unit, *conditions),
        )
    if any(getattr(period, name) is not None for name in _DRIVERS):
        return keys.where(*conditions).distinct()
    return None


def _seen_in_scope(
    partner_id: str | None, period: Period, day: date, *, lateral: bool, log_index: bool
) -> Subquery:
    """Each candidate item as ``partner_id`` sees it as of ``day`` (the rule of
    ``visibility.seen_items``): the item row itself when the caller sees all its lines (its
    owner, or everyone) and it is dated up to ``day``; else its latest visible line dated up
    to ``day``, read item by item along ``ix_ledger_lines_item``. First reported at its first
    visible line.
    """
    item = LedgerItem
    candidates = _candidates(period, day)
    source: Any = item
    if candidates is not None:
        found = candidates.subquery("candidate")
        source = join(
            found,
            item,
            and_(item.owner == found.c.owner, item.ledger_item_id == found.c.ledger_item_id),
        )
    whole = true() if partner_id is None else item.owner == partner_id
    shortcut = and_(whole, item.status_date <= day)
    entry = select(Message.log_index).where(Message.id == item.last_message_id)
    itself = select(
        *(getattr(item, name) for name in LEDGER_STATE),
        item.first_reported_at,
        item.last_message_id,
        ledger_overdue(item, day).label("overdue"),
        *([entry.scalar_subquery().label("log_index")] if log_index else []),
    ).select_from(source)

    line, mine = LedgerLine, aliased(LedgerLine, name="latest_line")
    visible = (
        select(line.message_id)
        .where(line.owner == item.owner, line.ledger_item_id == item.ledger_item_id)
        .where(true() if partner_id is None else visible_lines(partner_id))
    )
    newest = visible.where(line.status_date <= day).order_by(line.log_index.desc()).limit(1)
    first = visible.with_only_columns(line.reported_at).order_by(line.log_index).limit(1)
    by_line = select(
        item.owner,
        item.ledger_item_id,
        *(getattr(mine, name) for name in LEDGER_STATE[2:]),
        type_coerce(first.scalar_subquery(), UtcDateTime()).label("first_reported_at"),
        mine.message_id.label("last_message_id"),
        ledger_overdue(mine, day).label("overdue"),
        *([mine.log_index] if log_index else []),
    ).select_from(source)
    if lateral:
        latest = newest.lateral("latest")
        by_line = by_line.join(latest, true()).join(mine, mine.message_id == latest.c.message_id)
    else:
        by_line = by_line.join(mine, mine.message_id == newest.scalar_subquery())
    branches = [itself.where(shortcut), by_line.where(not_(shortcut))]
    if period.owner is not None:
        branches = [b.where(item.owner == period.owner) for b in branches]
    return union_all(*branches).subquery("seen")


def scoped_items(
    partner_id: str | None, period: Period, day: date, *, lateral: bool, log_index: bool = True
) -> CTE:
    """The ledger items in scope, each as ``partner_id`` sees it as of ``day``: only the
    lines of the scope's candidate items are read (``lateral`` where the database has it).
    """
    seen = _seen_in_scope(partner_id, period, day, lateral=lateral, log_index=log_index)
    query = select(seen)
    for name in LEDGER_FILTERS:
        value = getattr(period, name)
        if value is not None:
            query = query.where(seen.c[name] == value)
    if period.unit is not None:
        co_unit = exists().where(
            LedgerLineUnit.message_id == seen.c.last_message_id,
            or_(LedgerLineUnit.unit_uscc == period.unit, LedgerLineUnit.unit_name == period.unit),
        )
        query = query.where(
            or_(seen.c.unit_uscc == period.unit, seen.c.unit_name == period.unit, co_unit)
        )
    if period.start is not None:
        query = query.where(seen.c.first_reported_at >= _beijing_midnight(period.start))
    if period.end is not None:
        end = _beijing_midnight(period.end + timedelta(days=1))
        query = query.where(seen.c.first_reported_at < end)
    return query.cte("scoped")


def _ledger_columns(items: CTE) -> list[ColumnElement[Any]]:
    c = items.c

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    return [
        func.count().label("total"),
        *(count(c.status == status).label(f"n_{status}") for status in RECTIFICATION_STATUSES),
        count(c.overdue).label("overdue"),
        count(c.rectification_class == "immediate").label("immediate_total"),
        count(and_(c.rectification_class == "immediate", c.status.in_(sorted(LEDGER_DONE)))).label(
            "immediate_done"
        ),
        func.coalesce(func.sum(c.amount_involved), 0).label("amount_involved"),
        func.coalesce(func.sum(c.amount_rectified), 0).label("amount_rectified"),
        func.coalesce(func.sum(c.rules_made), 0).label("rules_made"),
        func.coalesce(func.sum(c.persons_held_accountable), 0).label("persons_held_accountable"),
        *(
            func.sum(c[f"amount_{category}"]).label(f"a_{category}")
            for category in AMOUNT_CATEGORIES
        ),
    ]


_GROUPS: Final = ("unit_name", "unit_uscc", "problem_category", "owner", "referral_id")
"""The finest grouping the figures need: every one of theirs is a sum over these groups."""


@dataclass(frozen=True)
class LedgerGroups:
    """The scoped items' sums per group of ``_GROUPS`` and the supervision acts by kind,
    from one statement.
    """

    groups: list[dict[str, Any]]
    acts: dict[str, int]


def ledger_groups(
    session: Session, partner_id: str | None, period: Period, day: date
) -> LedgerGroups:
    """One statement over the scope: its items' sums per group, and its acts by kind."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    statement = ledger_statement(partner_id, period, day, lateral=postgresql)
    with plan_settings(session):
        result: Any = session.execute(statement)
        rows = [dict(r._mapping) for r in result]
    return LedgerGroups(
        groups=[row for row in rows if row["act"] is None],
        acts={row["act"]: int(row["total"]) for row in rows if row["act"] is not None},
    )


def ledger_statement(
    partner_id: str | None, period: Period, day: date, *, lateral: bool
) -> CompoundSelect[Any]:
    """The scope's sums per group of ``_GROUPS`` (``act`` null), then its acts by kind."""
    items = scoped_items(partner_id, period, day, lateral=lateral, log_index=False)
    keys = [items.c[name] for name in _GROUPS]
    sums = _ledger_columns(items)
    grouped = select(null().label("act"), *keys, *sums).group_by(*keys)
    acts = (
        select(
            LedgerLineAct.kind.label("act"),
            *(null().label(name) for name in _GROUPS),
            func.count().label("total"),
            *(null().label(column.name) for column in sums[1:]),
        )
        .select_from(items)
        .join(LedgerLineAct, LedgerLineAct.message_id == items.c.last_message_id)
        .where(LedgerLineAct.day <= day)
        .group_by(LedgerLineAct.kind)
    )
    return union_all(grouped, acts)


_SUMMED: Final = (
    "total",
    *(f"n_{status}" for status in RECTIFICATION_STATUSES),
    "overdue",
    "immediate_total",
    "immediate_done",
    "amount_involved",
    "amount_rectified",
    "rules_made",
    "persons_held_accountable",
)


def _summed(groups: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    # The sums over several groups; an amount category stays None where no group gave it.
    totals: dict[str, Any] = dict.fromkeys(_SUMMED, 0)
    totals.update({f"a_{category}": None for category in AMOUNT_CATEGORIES})
    for group in groups:
        for name in totals:
            value = group[name]
            if value is not None:
                totals[name] = value if totals[name] is None else totals[name] + value
    return totals


def _ledger_figures(row: Mapping[str, Any]) -> dict[str, Any]:
    total = int(row["total"])
    statuses = {s: int(row[f"n_{s}"]) for s in RECTIFICATION_STATUSES}
    done = statuses["completed"] + statuses["closed"]
    return {
        "total": total,
        "by_status": {s: n for s, n in sorted(statuses.items()) if n},
        "completed": statuses["completed"],
        "closed": statuses["closed"],
        "ongoing": statuses["ongoing"],
        "not_rectified": statuses["not_rectified"],
        "in_progress": statuses["in_progress"] + statuses["submitted"] + statuses["pending"],
        "overdue": int(row["overdue"]),
        "rectification_rate": _rate(done, total),
        "ongoing_rate": _rate(statuses["ongoing"], total),
        "immediate_total": int(row["immediate_total"]),
        "immediate_rate": _rate(int(row["immediate_done"]), int(row["immediate_total"])),
        "amount_involved": amount_text(Decimal(row["amount_involved"])),
        "amount_rectified": amount_text(Decimal(row["amount_rectified"])),
        "amounts_by_category": {
            category: amount_text(Decimal(row[f"a_{category}"]))
            for category in AMOUNT_CATEGORIES
            if row[f"a_{category}"] is not None
        },
        "rules_made": int(row["rules_made"]),
        "persons_held_accountable": int(row["persons_held_accountable"]),
    }


def _grouped_by(
    groups: Iterable[dict[str, Any]], *names: str
) -> dict[tuple[Any, ...], list[dict[str, Any]]]:
    # Groups by some of their keys, ordered as the database orders them (nulls last).
    found: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for group in groups:
        found.setdefault(tuple(group[name] for name in names), []).append(group)
    return dict(sorted(found.items(), key=lambda kv: [(v is None, v or "") for v in kv[0]]))


def rectification_figures(ledger: LedgerGroups) -> dict[str, Any]:
    """整改率 and the rest over the scoped items, overall, by unit and by problem category."""
    units = _grouped_by(ledger.groups, "unit_name", "unit_uscc")
    categories = _grouped_by(
        (g for g in ledger.groups if g["problem_category"] is not None), "problem_category"
    )
    return {
        **_ledger_figures(_summed(ledger.groups)),
        "by_unit": [
            {"unit": {"name": name, "uscc": uscc}, **_ledger_figures(_summed(groups))}
            for (name, uscc), groups in units.items()
        ],
        "by_category": {
            category: _ledger_figures(_summed(groups)) for (category,), groups in categories.items()
        },
        "supervision": dict(sorted(ledger.acts.items())),
    }


@dataclass(frozen=True)
class CaseAsOf:
    """One recipient's case of a referral, in the state it had as of the cut-off day."""

    case: ReferralCase
    state: str
    overdue: bool


def cases_as_of(
    session: Session, partner_id: str | None, period: Period, day: date
) -> list[CaseAsOf]:
    """The referral cases sent by the cut-off day, each in its latest state dated up to it;
    a recipient sees its own once released (as of that day), the sender all of its own.
    """
    latest = (
        select(
            Transition.owner,
            Transition.key,
            Transition.party,
            func.max(Transition.log_index).label("log_index"),
        )
        .where(Transition.kind == "referral", Transition.business_date <= day)
        .group_by(Transition.owner, Transition.key, Transition.party)
        .subquery("latest")
    )
    query = (
        select(ReferralCase, Transition.to_state)
        .join(
            latest,
            and_(
                latest.c.owner == ReferralCase.sender,
                latest.c.key == ReferralCase.referral_id,
                latest.c.party == ReferralCase.recipient,
            ),
        )
        .join(
            Transition,
            and_(
                Transition.kind == "referral",
                Transition.owner == latest.c.owner,
                Transition.key == latest.c.key,
                Transition.party == latest.c.party,
                Transition.log_index == latest.c.log_index,
            ),
        )
    )
    if period.owner is not None:
        query = query.where(ReferralCase.sender == period.owner)
    found: list[CaseAsOf] = []
    for referral_case, state in session.execute(query):
        if not period.holds(referral_case.sent_at):
            continue
        hidden = state in _HELD or state == ReferralState.REJECTED
        theirs = partner_id is None or referral_case.sender == partner_id
        if not theirs and (referral_case.recipient != partner_id or hidden):
            continue
        overdue = state in REFERRAL_OPEN and referral_case.feedback_due < day
        found.append(CaseAsOf(referral_case, state, overdue))
    return found


def referral_figures(cases: Sequence[CaseAsOf]) -> dict[str, Any]:
    """Released referrals per recipient case (``total``) and per referral (``referrals``);
    rejected and held ones apart; counts by state, category and recipient body; overdue as of
    the cut-off; persons and money of the cases concluded by then.
    """
    released = [c for c in cases if c.state not in _HELD and c.state != ReferralState.REJECTED]
    concluded = [c for c in released if c.state == ReferralState.CONCLUDED]
    delays = [
        round((c.case.first_feedback_at - c.case.released_at).total_seconds() / 86400, 2)
        for c in released
        if c.case.first_feedback_at is not None and c.case.released_at is not None
    ]
    return {
        "total": len(released),
        "referrals": len({(c.case.sender, c.case.referral_id) for c in released}),
        "rejected": sum(c.state == ReferralState.REJECTED for c in cases),
        "held": sum(c.state in _HELD for c in cases),
        "by_state": dict(sorted(Counter(c.state for c in released).items())),
        "by_category": dict(sorted(Counter(c.case.issue_category for c in released).items())),
        "by_recipient_body": dict(
            sorted(Counter(body_of(c.case.recipient) for c in released).items())
        ),
        "overdue": sum(c.overdue for c in released),
        "with_feedback": len(delays),
        "median_days_to_feedback": round(statistics.median(delays), 2) if delays else None,
        "concluded": len(concluded),
        "persons_handled": sum(c.case.persons_handled for c in concluded),
        "recovered_amount": amount_text(
            sum((c.case.recovered_amount for c in concluded), Decimal(0))
        ),
    }


def referral_persons(cases: Sequence[CaseAsOf]) -> dict[tuple[str, str], int]:
    """Persons held accountable per referral, once: a clue two bodies concluded counts the
    larger of their counts (the same persons, handled by each body), not their sum.
    """
    persons: dict[tuple[str, str], int] = {}
    for c in cases:
        if c.state == ReferralState.CONCLUDED:
            key = (c.case.sender, c.case.referral_id)
            persons[key] = max(persons.get(key, 0), c.case.persons_handled)
    return persons


def accountability(
    groups: Sequence[Mapping[str, Any]], cases: Sequence[CaseAsOf], ledger_scoped: bool
) -> dict[str, Any]:
    """追责问责 persons counted once: the referrals' outcomes, plus what each ledger item adds
    beyond the referral it cites (grouped per cited referral). With a ledger scope, only the
    referrals its items cite count.
    """
    by_referral = referral_persons(cases)
    uncited = sum(int(g["persons_held_accountable"]) for g in groups if g["referral_id"] is None)
    cited: Counter[tuple[str, str]] = Counter()
    for g in groups:
        if g["referral_id"] is not None:
            cited[(g["owner"], g["referral_id"])] += int(g["persons_held_accountable"])
    from_referrals = sum(n for key, n in by_referral.items() if not ledger_scoped or key in cited)
    beyond = sum(max(0, n - by_referral.get(key, 0)) for key, n in cited.items())
    return {
        "persons": from_referrals + uncited + beyond,
        "from_referrals": from_referrals,
        "from_ledger": uncited + beyond,
    }


def share_figures(
    session: Session, partner_id: str | None, period: Period, day: date
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Shared results released by the cut-off (per recipient use), their use and decisions
    reported by then, and the annual plans' projects.
    """
    query = select(ShareUse).where(
        ShareUse.state.in_([ShareState.RELEASED, ShareState.USED]),
        ShareUse.sent_at < _beijing_midnight(day + timedelta(days=1)),
    )
    if partner_id is not None:
        query = query.where(or_(ShareUse.sender == partner_id, ShareUse.recipient == partner_id))
    if period.owner is not None:
        query = query.where(ShareUse.sender == period.owner)
    uses = [u for u in session.scalars(query) if period.holds(u.sent_at)]
    used = [u for u in uses if u.used_on is not None and u.used_on <= day]
    used_for: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    for use in used:
        used_for.update((use.used_for or "").split())
        decisions.update(parse_decisions(use.decisions))
    plans = {u.message_id: u for u in uses if u.share_type == "annual_plan"}
    shares = {
        "total": len(uses),
        "by_type": dict(sorted(Counter(u.share_type for u in uses).items())),
        "econ_resp_by_timing": dict(
            sorted(Counter(u.audit_timing for u in uses if u.audit_timing).items())
        ),
        "used": len(used),
        "used_for": dict(sorted(used_for.items())),
        "decisions": dict(sorted(decisions.items())),
        "awaiting_use": len(uses) - len(used),
    }
    return shares, {
        "projects": sum(p.plan_projects for p in plans.values()),
        "joint_projects": sum(p.plan_joint_projects for p in plans.values()),
    }


def stats(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> dict[str, Any]:
    """The figures over what ``partner_id`` sent or received (everything when None), as of
    ``period.as_of`` (default today), within the period's scope.
    """
    day = period.day(now)
    ledger = ledger_groups(session, partner_id, period, day)
    cases = cases_as_of(session, partner_id, period, day)
    shares, plans = share_figures(session, partner_id, period, day)
    return {
        "from": period.start.isoformat() if period.start else None,
        "to": period.end.isoformat() if period.end else None,
        "as_of": day.isoformat(),
        "filters": period.filters(),
        "referrals": referral_figures(cases),
        "rectification": rectification_figures(ledger),
        "accountability": accountability(ledger.groups, cases, period.ledger_scoped()),
        "shares": shares,
        "plans": plans,
    }


def _rate(part: int, whole: int) -> float | None:
    # A percentage to 0.01 (half up), as the reports print it.
    if whole == 0:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.01"), "ROUND_HALF_UP"))
