"""The figures of joint supervision (DOMAIN.md, with its Version 1 additions): 整改率, 持续整改,
money by category, supervision acts, referrals by state and recipient body, shared results and
their use, plans, persons held accountable counted once — over what the caller may see, as of a
cut-off day, for one report's scope.

The ledger figures are sums in SQL over each item's latest visible line dated up to the
cut-off (``visibility.seen_items``; the scope in ``scope``): nothing loads the items. A wide
scope reads the whole ledger's cells (``cells``), made once per cut-off by a scan and then
caught up on the lines logged since. The referral figures are sums too, kept the same way
(``referral_sums``); share uses are few (one per recipient of a result) and are counted from
their rows.
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

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from exchange.store.models import ShareUse
from exchange.supervision.cells import (
    CELL,
    ITEM_COLUMNS,
    SUMS,
    cell_statement,
    whole_cells,
)
from exchange.supervision.lifecycles.share import parse_decisions
from exchange.supervision.reads import amount_text
from exchange.supervision.referral_sums import Pair, Referrals, referrals_as_of
from exchange.supervision.scope import (
    LEDGER_FILTERS,
    Period,
    beijing_midnight,
    item_by_item,
    plan_settings,
    reported_within,
    scoped_items,
)
from exchange.supervision.states import ReferralState, ShareState
from exchange.supervision.visibility import HIDDEN_FROM_RECIPIENT
from schemas import AMOUNT_CATEGORIES, RECTIFICATION_STATUSES, SUPERVISION_KINDS, body_of

_HELD: Final = frozenset({ReferralState.PENDING_REVIEW})
_HIDDEN: Final = frozenset(HIDDEN_FROM_RECIPIENT)


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
class ReferralView:
    """The cases a caller sees as of a day, per sender and recipient: its own (everyone's for
    the hub) in every state, and the others' sent to it once released.
    """

    referrals: Referrals
    sent: list[tuple[tuple[str, str], Pair]]
    received: list[tuple[tuple[str, str], Pair]]
    senders: frozenset[str]

    def persons(self, key: tuple[str, str]) -> int:
        """Persons held accountable on one referral, once: the most any body concluding it
        held (the same persons, handled by each body), as far as the caller sees it.
        """
        sender, referral_id = key
        if sender in self.senders:
            return self.referrals.most_persons.get(sender, {}).get(referral_id, 0)
        return sum(
            pair.persons_by_referral.get(referral_id, 0)
            for (s, _), pair in self.received
            if s == sender
        )

    def all_persons(self) -> int:
        """Persons held accountable on every referral the caller sees, each once."""
        totals = self.referrals.most_persons_total
        received = sum(pair.persons for _, pair in self.received)
        return sum(totals.get(s, 0) for s in self.senders) + received


def referral_view(
    session: Session, partner_id: str | None, period: Period, day: date
) -> ReferralView:
    """The referral cases sent by the cut-off day, each in its latest state dated up to it;
    a recipient sees its own once released (as of that day), the sender all of its own.
    """
    referrals = referrals_as_of(session, period, day)
    sent, received = [], []
    for (sender, recipient), pair in referrals.pairs.items():
        if period.owner is not None and sender != period.owner:
            continue
        if partner_id is None or sender == partner_id:
            sent.append(((sender, recipient), pair))
        elif recipient == partner_id:
            received.append(((sender, recipient), pair))
    return ReferralView(referrals, sent, received, frozenset(s for (s, _), _ in sent))


def _released(pair: Pair) -> int:
    return sum(n for state, n in pair.by_state.items() if state not in _HIDDEN)


def referral_figures(view: ReferralView) -> dict[str, Any]:
    """Released referrals per recipient case (``total``) and per referral (``referrals``);
    rejected and held ones apart; counts by state, category and recipient body; overdue as of
    the cut-off; persons and money of the cases concluded by then.
    """
    pairs = [pair for _, pair in (*view.sent, *view.received)]
    by_state: Counter[str] = Counter()
    by_category: Counter[str] = Counter()
    by_body: Counter[str] = Counter()
    delays: Counter[int] = Counter()
    for (_, recipient), pair in (*view.sent, *view.received):
        by_state.update({s: n for s, n in pair.by_state.items() if s not in _HIDDEN})
        by_category.update(pair.by_category)
        by_body[body_of(recipient)] += _released(pair)
        delays.update(pair.delays)
    held = sum(pair.by_state[s] for _, pair in view.sent for s in _HELD)
    return {
        "total": sum(_released(p) for p in pairs),
        "referrals": sum(p.leads for _, p in view.sent)
        + sum(_released(p) for _, p in view.received),
        "rejected": sum(pair.by_state[ReferralState.REJECTED] for _, pair in view.sent),
        "held": held,
        "by_state": dict(sorted((s, n) for s, n in by_state.items() if n)),
        "by_category": dict(sorted((c, n) for c, n in by_category.items() if n)),
        "by_recipient_body": dict(sorted((b, n) for b, n in by_body.items() if n)),
        "overdue": sum(p.overdue for p in pairs),
        "with_feedback": sum(delays.values()),
        "median_days_to_feedback": _median_days(delays),
        "concluded": by_state[ReferralState.CONCLUDED],
        "persons_handled": sum(p.persons for p in pairs),
        "recovered_amount": amount_text(sum((p.recovered for p in pairs), Decimal(0))),
    }


def _median_days(delays: Counter[int]) -> float | None:
    # The median of days in hundredths, each counted as often as given: for an even count
    # the mean of the middle two, to two decimals, as ``statistics.median`` would give.
    count = sum(delays.values())
    if not count:
        return None
    middle = []
    seen = 0
    wanted = [(count - 1) // 2, count // 2]
    for hundredths, n in sorted(delays.items()):
        while wanted and wanted[0] < seen + n:
            middle.append(hundredths / 100)
            wanted.pop(0)
        seen += n
    return round(statistics.median(middle), 2)


def accountability(
    groups: Sequence[Mapping[str, Any]], view: ReferralView, ledger_scoped: bool
) -> dict[str, Any]:
    """追责问责 persons counted once: the referrals' outcomes, plus what each ledger item adds
    beyond the referral it cites (grouped per cited referral). With a ledger scope, only the
    referrals its items cite count.
    """
    uncited = sum(int(g["persons_held_accountable"]) for g in groups if g["referral_id"] is None)
    cited: Counter[tuple[str, str]] = Counter()
    for g in groups:
        if g["referral_id"] is not None:
            cited[(g["owner"], g["referral_id"])] += int(g["persons_held_accountable"])
    by_referral = {key: view.persons(key) for key in cited}
    from_referrals = sum(by_referral.values()) if ledger_scoped else view.all_persons()
    beyond = sum(max(0, n - by_referral[key]) for key, n in cited.items())
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


def rectification(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> dict[str, Any]:
    """``stats()``'s rectification figures alone (the referrals and shares not read)."""
    day = period.day(now)
    return rectification_figures(ledger_groups(session, partner_id, period, day))


def stats(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> dict[str, Any]:
    """The figures over what ``partner_id`` sent or received (everything when None), as of
    ``period.as_of`` (default today), within the period's scope.
    """
    day = period.day(now)
    ledger = ledger_groups(session, partner_id, period, day)
    cases = referral_view(session, partner_id, period, day)
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
