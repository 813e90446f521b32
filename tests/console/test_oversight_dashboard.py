"""The console's dashboard (issues 11 and 13), read side: its figures are ``/v1/stats``'s for
the same filters (asked over HTTP of the real hub, as the partner), its cards and charts are
read from them, and its workbook holds what it shows.
"""

from __future__ import annotations

import io
import json
import uuid
from datetime import date
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser

from exchange.api.figures import period_of
from exchange.api.schemas import StatsSchema
from exchange.console.oversight.dashboard import dashboard, dashboard_report
from exchange.hub import Hub
from exchange.supervision.figures import stats as figures_stats
from exchange.supervision.scope import Period
from schemas.rectification import RECTIFICATION_STATUSES

# The module's one Chromium (a fixture, used by name).
from tests.console.test_oversight_log_verify import STATIC, Site
from tests.exchange.test_api_docs_page import browser  # noqa: F401
from tests.exchange.test_figures_scenario import (
    YEAR,
    Item,
    concluded_referral,
    send_line,
    stats,
)
from tests.exchange.test_reports import figures, summary_blocks
from tests.support import PartnerKeys

Partners = dict[str, PartnerKeys]
AUDIT = "audit.yanliang"
QUERIES: list[dict[str, date]] = [
    {},
    {"as_of": date(YEAR, 6, 30)},
    {"from_": date(YEAR, 1, 1), "to": date(YEAR, 3, 31), "as_of": date(YEAR, 4, 30)},
]


def query_of(args: dict[str, date]) -> str:
    """The /v1/stats query of the same filters."""
    return "&".join(f"{name.rstrip('_')}={day.isoformat()}" for name, day in args.items())


@pytest.fixture
def seeded(base_url: str, hub: Hub, partners: Partners) -> None:
    """A concluded referral audit → discipline; six ledger items of audit, sent in February
    and May, two completed and one ongoing by June.
    """
    concluded_referral(base_url, hub, partners)
    audit = partners["audit"].client(base_url)
    tag = uuid.uuid4().hex[:6]
    for n in range(6):
        item = Item(f"D{tag}-{n:02d}")
        first = date(YEAR, 2 if n % 2 else 5, 10)
        send_line(audit, AUDIT, item, first, "in_progress")
        if n < 3:
            send_line(audit, AUDIT, item, date(YEAR, 5, 20), "submitted")
            status = "ongoing" if n == 2 else "completed"
            send_line(audit, AUDIT, item, date(YEAR, 6, 1), status)


@pytest.mark.parametrize("args", QUERIES, ids=["today", "as-of", "period"])
def test_the_dashboard_shows_the_stats_figures(
    base_url: str, hub: Hub, partners: Partners, seeded: None, args: dict[str, date]
) -> None:
    period = period_of(args)
    with hub.readers() as session:
        shown = dashboard(session, AUDIT, period, hub.now())
        everyone = dashboard(session, None, period, hub.now())
        assert everyone.figures == figures_stats(session, None, period, hub.now())
    answered = stats(base_url, partners["audit"], query_of(args))
    assert StatsSchema().dump(shown.figures) == answered
    cards = dict(shown.cards)
    assert cards["整改问题数"] == answered["rectification"]["total"]
    assert cards["整改率(%)"] == answered["rectification"]["rectification_rate"]
    assert cards["立行立改完成率(%)"] == answered["rectification"]["immediate_rate"]
    assert cards["逾期未反馈"] == answered["referrals"]["overdue"]
    assert cards["反馈用时中位数(天)"] == answered["referrals"]["median_days_to_feedback"]
    units = {row[0]: row for row in shown.units}
    for unit in answered["rectification"]["by_unit"]:
        assert units[unit["unit"]["name"]][3] == unit["rectification_rate"]
    bars = shown.charts["referrals_by_stage"]["series"][0]["data"]
    assert sum(bars) == answered["referrals"]["total"]
    # The status over time: /v1/stats at each cut-off.
    assert shown.over_time[-1][0] == period.day(hub.now())
    for day, counts in shown.over_time:
        at = stats(base_url, partners["audit"], query_of({**args, "as_of": day}))
        assert counts == at["rectification"]["by_status"], day


def test_the_workbook_holds_what_is_shown(hub: Hub, seeded: None) -> None:
    period = Period(as_of=date(YEAR, 6, 30))
    with hub.readers() as session:
        shown = dashboard(session, AUDIT, period, hub.now())
        report = dashboard_report(session, shown, AUDIT, period, hub.now())
    assert shown.figures["rectification"]["total"] == 6
    assert shown.figures["rectification"]["rectification_rate"] == 33.33
    book = load_workbook(io.BytesIO(report.render("xlsx")))
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert [tuple(row) for row in rows[1:]] == shown.units
    blocks = summary_blocks(book["汇总"])
    main = figures(blocks["主要指标"])
    assert main == {label: _cell(value) for label, value in shown.cards}
    over_time = blocks["整改状态变化"][1:]
    assert [row[0].date() for row in over_time] == [day for day, _ in shown.over_time]
    assert over_time[-1][1:] == tuple(
        shown.figures["rectification"]["by_status"].get(s, 0) for s in RECTIFICATION_STATUSES
    )


def _cell(value: Any) -> Any:
    # The workbook stores amounts as numbers (元); the cards keep them as Decimal.
    return float(value) if value is not None and not isinstance(value, int | float) else value


def test_the_charts_draw_in_chromium_under_the_consoles_csp(
    browser: Browser,  # noqa: F811 (the fixture imported above)
    hub: Hub,
    seeded: None,
) -> None:
    with hub.readers() as session:
        shown = dashboard(session, AUDIT, Period(as_of=date(YEAR, 6, 30)), hub.now())
    # JSON in a script element is data, not code: "</" escaped so it cannot end the element.
    data = "".join(
        f'<script type="application/json" id="c-{name}">'
        f"{json.dumps(option, ensure_ascii=False).replace('</', '<' + chr(92) + '/')}</script>"
        f'<div id="{name}" data-chart="c-{name}"></div>'
        for name, option in shown.charts.items()
    )
    page = (
        '<!doctype html><meta charset="utf-8"><title>看板</title>'
        '<link rel="stylesheet" href="/oversight.css">'
        '<script src="/vendor/echarts/echarts.min.js"></script>'
        f'<script src="/oversight-dashboard.js"></script>{data}'
    ).encode()
    site = Site(
        {
            "/page.html": ("text/html; charset=utf-8", page),
            "/vendor/echarts/echarts.min.js": (
                "text/javascript",
                (STATIC / "vendor/echarts/echarts.min.js").read_bytes(),
            ),
            "/oversight.css": ("text/css", (STATIC / "oversight.css").read_bytes()),
            "/oversight-dashboard.js": (
                "text/javascript",
                (STATIC / "oversight-dashboard.js").read_bytes(),
            ),
        }
    )
    tab = browser.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    try:
        tab.goto(site.url + "/page.html")
        for name, option in shown.charts.items():
            tab.wait_for_selector(f"#{name}[data-drawn=yes] canvas")
            drawn = tab.evaluate(
                "n => echarts.getInstanceByDom(document.getElementById(n)).getOption().series"
                ".map(s => s.data)",
                name,
            )
            assert drawn == [series["data"] for series in option["series"]], name
    finally:
        tab.close()
        site.close()
    assert errors == []
