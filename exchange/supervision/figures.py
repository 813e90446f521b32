"""The figures of joint supervision (DOMAIN.md): 整改率, 立行立改完成率, referrals by state and
category, overdue counts, days to feedback — over what the caller may see.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import ReferralCase
from exchange.supervision.days import china_date, china_today
from exchange.supervision.reads import amount_text, days_to_first_feedback
from exchange.supervision.states import LEDGER_DONE
from exchange.supervision.visibility import SeenItem, cases_seen, seen_items, seen_rows


@dataclass(frozen=True)
class Period:
    """Which referrals (by the day sent) and ledger items (by the day first reported) count."""

    start: date | None = None
    end: date | None = None

    def holds(self, moment: datetime) -> bool:
        """Whether a moment's Beijing date lies in the period (both ends included)."""
        day = china_date(moment)
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


def referral_figures(seen: Sequence[tuple[ReferralCase, bool]]) -> dict[str, Any]:
    """Counts by state and category, overdue, median days to the first feedback, over
    (case, overdue) pairs.
    """
    overdue = sum(late for _, late in seen)
    cases = [case for case, _ in seen]
    delays = [d for d in (days_to_first_feedback(c) for c in cases) if d is not None]
    return {
        "total": len(cases),
        "by_state": dict(sorted(Counter(c.state for c in cases).items())),
        "by_category": dict(sorted(Counter(c.issue_category for c in cases).items())),
        "overdue": overdue,
        "with_feedback": len(delays),
        "median_days_to_feedback": round(statistics.median(delays), 2) if delays else None,
        "concluded": sum(c.state == "concluded" for c in cases),
        "persons_handled": sum(c.persons_handled for c in cases),
        "recovered_amount": amount_text(sum((c.recovered_amount for c in cases), Decimal(0))),
    }


def rectification_figures(items: Sequence[SeenItem]) -> dict[str, Any]:
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
        "overdue": sum(i.overdue for i in items),
        "rectification_rate": _rate(done, len(items)),
        "immediate_total": len(immediate),
        "immediate_rate": _rate(immediate_done, len(immediate)),
        "amount_involved": amount_text(sum((i.amount_involved for i in items), Decimal(0))),
        "amount_rectified": amount_text(sum((i.amount_rectified for i in items), Decimal(0))),
        "rules_made": sum(i.rules_made for i in items),
        "persons_held_accountable": sum(i.persons_held_accountable for i in items),
    }


def stats(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> dict[str, Any]:
    """The figures over what ``partner_id`` sent or received (everything when None)."""
    today = china_today(now)
    cases = [
        (case, bool(late))
        for case, late in session.execute(cases_seen(partner_id, today))
        if period.holds(case.sent_at)
    ]
    seen = seen_items(partner_id, today)
    items = [i for i in seen_rows(session, select(seen)) if period.holds(i.first_reported_at)]
    units: dict[tuple[str, str | None], list[SeenItem]] = {}
    for item in items:
        units.setdefault((item.unit_name, item.unit_uscc), []).append(item)
    return {
        "from": period.start.isoformat() if period.start else None,
        "to": period.end.isoformat() if period.end else None,
        "as_of": today.isoformat(),
        "referrals": referral_figures(cases),
        "rectification": {
            **rectification_figures(items),
            "by_unit": [
                {"unit": {"name": name, "uscc": uscc}, **rectification_figures(group)}
                for (name, uscc), group in sorted(units.items(), key=lambda u: u[0][0])
            ],
        },
    }


def _rate(part: int, whole: int) -> float | None:
    # A percentage to 0.01 (half up), as the reports print it.
    if whole == 0:
        return None
    return float((Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.01"), "ROUND_HALF_UP"))
