"""The console's dashboard: exactly the figures of ``/v1/stats`` (``supervision.figures.stats``)
over every partner or one, for one period and scope; the cards and charts shown from them, and
the workbook of what is shown.

Nothing here counts anything itself: every number on a card, in a chart and in the workbook
is read from ``stats()`` answers (the status over time is its rectification figures at several
cut-offs, ``figures.rectification``), so the dashboard and the API cannot disagree. Charts are
Apache ECharts options (plain JSON): the page hands them to ``echarts.setOption`` as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any, Final

from sqlalchemy.orm import Session

from exchange.supervision.figures import rectification, stats
from exchange.supervision.reports.reading import context, in_order, money, summary_title
from exchange.supervision.reports.workbook import Block, Cell, Column, Report, Table
from exchange.supervision.scope import Period
from schemas.clue import REFERRAL_STATES
from schemas.rectification import RECTIFICATION_STATUSES

# Cut-offs of the status over time: at most this many, a week apart, ending at the cut-off.
_POINTS: Final = 8
_STEP: Final = timedelta(days=7)

UNIT_COLUMNS: Final = (
    Column("责任单位", 30),
    Column("整改问题数", 12),
    Column("已完成/销号", 12),
    Column("整改率(%)", 12),
    Column("立行立改数", 12),
    Column("立行立改完成率(%)", 16),
    Column("逾期未完成", 12),
)


@dataclass(frozen=True)
class Dashboard:
    """The figures as ``/v1/stats`` answers them, the cards (label, value) and the charts
    (name → ECharts option) shown from them, and the status at each cut-off.
    """

    figures: dict[str, Any]
    cards: list[tuple[str, Cell]]
    units: list[tuple[Cell, ...]]
    over_time: list[tuple[date, dict[str, int]]]
    charts: dict[str, dict[str, Any]]


def dashboard(session: Session, partner_id: str | None, period: Period, now: datetime) -> Dashboard:
    """The dashboard over what ``partner_id`` sent or received (everything when None)."""
    figures = stats(session, partner_id, period, now)
    referrals, ledger = figures["referrals"], figures["rectification"]
    cards: list[tuple[str, Cell]] = [
        ("已放行移送(件次)", referrals["total"]),
        ("逾期未反馈", referrals["overdue"]),
        ("反馈用时中位数(天)", referrals["median_days_to_feedback"]),
        ("整改问题数", ledger["total"]),
        ("整改率(%)", ledger["rectification_rate"]),
        ("立行立改完成率(%)", ledger["immediate_rate"]),
        ("逾期未完成整改", ledger["overdue"]),
        ("涉及金额(元)", money(ledger["amount_involved"])),
    ]
    units = [_unit_row(unit) for unit in ledger["by_unit"]]
    over_time = [
        (
            day,
            rectification(session, partner_id, replace(period, as_of=day), now)["by_status"],
        )
        for day in cut_offs(period, period.day(now))
    ]
    return Dashboard(
        figures=figures,
        cards=cards,
        units=units,
        over_time=over_time,
        charts=_charts(referrals, units, over_time),
    )


def cut_offs(period: Period, day: date) -> list[date]:
    """The days of the status over time: a week apart back from ``day``, none before the
    period's start, oldest first.
    """
    days = [day - _STEP * n for n in range(_POINTS)]
    return sorted(d for d in days if period.start is None or d >= period.start)


def dashboard_report(
    session: Session, dashboard: Dashboard, partner_id: str | None, period: Period, now: datetime
) -> Report:
    """The workbook of what the dashboard shows: the units' table, and on the summary sheet
    the scope, the cards, the referrals by stage and the status over time.
    """
    by_state = [
        (REFERRAL_STATES.get(state, state), count)
        for state, count in in_order(dashboard.figures["referrals"]["by_state"], REFERRAL_STATES)
    ]
    statuses = list(RECTIFICATION_STATUSES)
    over_time: list[tuple[Cell, ...]] = [
        (day, *(counts.get(status, 0) for status in statuses))
        for day, counts in dashboard.over_time
    ]
    return Report(
        name="监督看板",
        ascii_name="dashboard",
        as_of=period.day(now),
        title=summary_title("监督看板", period, now),
        table=Table(UNIT_COLUMNS, dashboard.units),
        summary=[
            context(session, partner_id, period, now, "移送日期、首次报送日期"),
            Block("主要指标", ("项目", "数值"), dashboard.cards),
            Block("移送线索按状态", ("当前状态", "件数"), by_state),
            Block(
                "整改状态变化",
                ("截至日期", *(RECTIFICATION_STATUSES[s] for s in statuses)),
                over_time,
            ),
        ],
    )


def _unit_row(unit: dict[str, Any]) -> tuple[Cell, ...]:
    return (
        unit["unit"]["name"],
        unit["total"],
        unit["completed"] + unit["closed"],
        unit["rectification_rate"],
        unit["immediate_total"],
        unit["immediate_rate"],
        unit["overdue"],
    )


def _charts(
    referrals: dict[str, Any],
    units: list[tuple[Cell, ...]],
    over_time: list[tuple[date, dict[str, int]]],
) -> dict[str, dict[str, Any]]:
    stages = in_order(referrals["by_state"], REFERRAL_STATES)
    days = [day.isoformat() for day, _ in over_time]
    return {
        "referrals_by_stage": _bars(
            [REFERRAL_STATES.get(state, state) for state, _ in stages],
            [("件数", [count for _, count in stages])],
        ),
        "units": _bars(
            [str(row[0]) for row in units],
            [
                ("整改率(%)", [row[3] for row in units]),
                ("立行立改完成率(%)", [row[5] for row in units]),
            ],
        ),
        "status_over_time": {
            "tooltip": {"trigger": "axis"},
            "legend": {},
            "xAxis": {"type": "category", "data": days},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [
                {
                    "name": label,
                    "type": "line",
                    "stack": "status",
                    "areaStyle": {},
                    "data": [counts.get(status, 0) for _, counts in over_time],
                }
                for status, label in RECTIFICATION_STATUSES.items()
            ],
        },
    }


def _bars(categories: list[str], series: list[tuple[str, list[Any]]]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {},
        "xAxis": {"type": "category", "data": categories},
        "yAxis": {"type": "value"},
        "series": [{"name": name, "type": "bar", "data": data} for name, data in series],
    }
