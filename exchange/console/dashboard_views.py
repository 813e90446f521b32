"""The console's dashboard: the ``/v1/stats`` figures as cards and ECharts charts for a period
and one partner (or everyone), and the workbook of what is shown —
``exchange.console.oversight.dashboard``.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError

from exchange.api.figures import period_of
from exchange.api.reports import content_disposition
from exchange.api.schemas import StatsQuerySchema
from exchange.console.blueprint import ROLES, bp, hub, requires
from exchange.console.oversight.dashboard import Dashboard, dashboard, dashboard_report
from exchange.errors import SchemaInvalid
from exchange.supervision.reports import XLSX_MEDIA_TYPE
from exchange.supervision.scope import Period

_PERIOD_FIELDS = ("from", "to", "as_of")
CHART_TITLES = {
    "referrals_by_stage": _l("Referrals by stage"),
    "units": _l("Rectification rates by responsible unit"),
    "status_over_time": _l("Rectification status over time"),
}


def _asked() -> tuple[dict[str, str], str | None, Period]:
    """The filters as given (non-empty), the partner, the period; ``ValueError`` if refused."""
    given = {k: v.strip() for k, v in request.args.items() if v.strip()}
    partner = given.pop("partner", None)
    try:
        args = StatsQuerySchema().load({k: v for k, v in given.items() if k in _PERIOD_FIELDS})
        period = period_of(args)
    except (ValidationError, SchemaInvalid) as refused:
        raise ValueError(
            gettext("Dates are YYYY-MM-DD, and “from” is not after “to”.")
        ) from refused
    if partner is not None and len(partner) > 100:
        raise ValueError(gettext("Not a partner id."))
    return given, partner, period


def chart_json(option: dict[str, Any]) -> str:
    """An ECharts option as the text of a JSON script element ("</" cannot end it)."""
    return json.dumps(option, ensure_ascii=False).replace("</", "<\\/")


@bp.get("/dashboard", endpoint="dashboard")
@requires(*ROLES)
def dashboard_page() -> tuple[str, int]:
    """Cards, charts and the units' table for the period asked."""
    the_hub = hub()
    shown: Dashboard | None = None
    error = None
    given: dict[str, str] = {}
    partner = None
    try:
        given, partner, period = _asked()
        with the_hub.readers() as session:
            shown = dashboard(session, partner, period, the_hub.now())
    except ValueError as refused:
        error = str(refused)
    kept: dict[str, Any] = {**given, **({"partner": partner} if partner else {})}
    export = url_for("console.dashboard_xlsx", **kept)
    page = render_template(
        "console/dashboard.html",
        shown=shown,
        error=error,
        args=request.args,
        export_url=export,
        chart_json=chart_json,
        chart_titles=CHART_TITLES,
    )
    return page, 400 if error else 200


@bp.get("/dashboard.xlsx")
@requires(*ROLES)
def dashboard_xlsx() -> Response | tuple[str, int]:
    """The workbook of the dashboard shown for the same filters."""
    the_hub = hub()
    try:
        _, partner, period = _asked()
    except ValueError as refused:
        return str(refused), 400
    with the_hub.readers() as session:
        shown = dashboard(session, partner, period, the_hub.now())
        report = dashboard_report(session, shown, partner, period, the_hub.now())
    response = Response(report.render("xlsx"), content_type=XLSX_MEDIA_TYPE)
    response.headers["Content-Disposition"] = content_disposition(report, "xlsx")
    return response
