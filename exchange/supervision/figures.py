"""The figures of joint supervision (DOMAIN.md, with its Version 1 additions): 整改率, 持续整改,
money by category, supervision acts, referrals by state and recipient body, shared results and
their use, plans, persons held accountable counted once — over what the caller may see, as of a
cut-off day, for one report's scope.

The ledger figures are sums in SQL over each item's latest visible line dated up to the
cut-off (``visibility.seen_items``; the scope in ``scope``): nothing loads the items. A wide
scope reads the whole ledger's cells (``cells``), made once per cut-off by a scan and then
caught up on the lines logged since. Referral cases and share uses are few (one per recipient
of a letter) and are counted from their rows.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

from sqlalchemy import Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from exchange.store.models import ReferralCase, ShareUse, Transition
from exchange.supervision.cells import (
    CELL,
    ITEM_COLUMNS,
    SUMS,
    cell_statement,
    whole_cells,
)
from exchange.supervision.lifecycles.share import parse_decisions
from exchange.supervision.reads import amount_text
from exchange.supervision.scope import (
    LEDGER_FILTERS,
    Period,
    beijing_midnight,
    item_by_item,
    plan_settings,
    reported_within,
    scoped_items,
)
from exchange.supervision.states import REFERRAL_OPEN, ReferralState, ShareState
from schemas import AMOUNT_CATEGORIES, RECTIFICATION_STATUSES, SUPERVISION_KINDS, body_of

_HELD: Final = frozenset({ReferralState.PENDING_REVIEW})


_GROUPS: Final = ("unit_name", "unit_uscc", "problem_category", "owner", "referral_id")
"""The finest grouping the figures need: every one of theirs is a sum over these groups."""

_CELL_FILTERS: Final = tuple(name for name in LEDGER_FILTERS if name in CELL)


@dataclass(frozen=True)
class LedgerGroups:
    """The scoped items' sums per group of ``_GROUPS`` and the supervision acts by kind."""

    groups: list[dict[str, Any]]
    acts: dict[str, int]


def ledger_groups(
    session: Session, partner_id: str | None, period: Period, day: date
) -> LedgerGroups:
    """The scope's sums per group and its acts by kind: a selective filter's items summed in
    one statement; else the cells of what the caller sees whole (``cells.whole_cells``) in
    the scope, and the others' items it was sent, summed in one statement.
    """
    lateral = session.get_bind().dialect.name == "postgresql"
    cells: list[Mapping[str, Any]] = []
    if not item_by_item(period):
        for key, sums in whole_cells(session, period, day).items():
            cell = dict(zip(CELL, key, strict=True))
            if _in_scope(cell, partner_id, period):
                cells.append(cell | sums)
    if item_by_item(period) or partner_id is not None:
        statement = ledger_statement(partner_id, period, day, lateral=lateral)
        with plan_settings(session):
            cells += [dict(row) for row in session.execute(statement).mappings()]
    return _grouped(cells)


def _in_scope(cell: Mapping[str, Any], partner_id: str | None, period: Period) -> bool:
    # A cell of the whole ledger in the caller's scope: its own items (everyone's for the
    # hub), matching the filters a cell is keyed by.
    if partner_id is not None and cell["owner"] != partner_id:
        return False
    return all(
        getattr(period, name) is None or cell[name] == getattr(period, name)
        for name in _CELL_FILTERS
    )


@lru_cache(maxsize=256)
def ledger_statement(
    partner_id: str | None, period: Period, day: date, *, lateral: bool
) -> Select[Any]:
    """The sums per cell of a selective filter's items, or (without one) of the other
    owners' items the partner was sent (built once per ask: building it costs more than
    running it for a report's items).
    """
    items = scoped_items(
        partner_id,
        period,
        day,
        lateral=lateral,
        log_index=False,
        columns=ITEM_COLUMNS,
        received_only=not item_by_item(period),
    )
    return cell_statement(items, day, acts_joined=False)


def _grouped(cells: Iterable[Mapping[str, Any]]) -> LedgerGroups:
    # Cells summed per group of ``_GROUPS``; an amount category no item gave stays None.
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for cell in cells:
        key = tuple(cell[name] for name in _GROUPS)
        group = groups.get(key)
        if group is None:
            groups[key] = dict(cell)
        else:
            for name in SUMS:
                group[name] += cell[name]
    for group in groups.values():
        for category in AMOUNT_CATEGORIES:
            if not group[f"c_{category}"]:
                group[f"a_{category}"] = None
    acts = {k: sum(int(g[f"act_{k}"]) for g in groups.values()) for k in SUPERVISION_KINDS}
    return LedgerGroups(groups=list(groups.values()), acts={k: n for k, n in acts.items() if n})


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
    rows = list(groups)
    totals: dict[str, Any] = {name: sum(row[name] for row in rows) for name in _SUMMED}
    for category in AMOUNT_CATEGORIES:
        given = [row[f"a_{category}"] for row in rows if row[f"a_{category}"] is not None]
        totals[f"a_{category}"] = sum(given) if given else None
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
    """One recipient's case of a referral, in the state it had as of the cut-off day (the
    case's columns the figures read, by name).
    """

    case: Any  # a Row of _CASE_COLUMNS
    state: str
    overdue: bool


_CASE_COLUMNS: Final = (
    "sender",
    "referral_id",
    "recipient",
    "issue_category",
    "sent_at",
    "released_at",
    "first_feedback_at",
    "persons_handled",
    "recovered_amount",
)


def cases_as_of(
    session: Session, partner_id: str | None, period: Period, day: date
) -> list[CaseAsOf]:
    """The referral cases sent by the cut-off day, each in its latest state dated up to it;
    a recipient sees its own once released (as of that day), the sender all of its own.
    Read as columns, filtered in SQL.
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
    case = ReferralCase
    state = Transition.to_state
    query = (
        select(
            *(getattr(case, name) for name in _CASE_COLUMNS),
            state.label("state"),
            and_(state.in_(sorted(REFERRAL_OPEN)), case.feedback_due < day).label("overdue"),
        )
        .join(
            latest,
            and_(
                latest.c.owner == case.sender,
                latest.c.key == case.referral_id,
                latest.c.party == case.recipient,
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
        .where(*reported_within(case.sent_at, period))
    )
    if period.owner is not None:
        query = query.where(case.sender == period.owner)
    if partner_id is not None:
        hidden = state.in_([*sorted(_HELD), ReferralState.REJECTED])
        query = query.where(
            or_(case.sender == partner_id, and_(case.recipient == partner_id, not_(hidden)))
        )
    return [CaseAsOf(row, row.state, bool(row.overdue)) for row in session.execute(query)]


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
        ShareUse.sent_at < beijing_midnight(day + timedelta(days=1)),
    )
    if partner_id is not None:
        query = query.where(or_(ShareUse.sender == partner_id, ShareUse.recipient == partner_id))
    if period.owner is not None:
        query = query.where(ShareUse.sender == period.owner)
    uses = list(session.scalars(query.where(*reported_within(ShareUse.sent_at, period))))
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
