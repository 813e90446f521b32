"""Reports to download: the 整改台账 and the 移送线索台账 as XLSX or CSV, over what the caller
sent or received.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Response, g
from flask_smorest import Blueprint

from exchange.api.auth import authenticate_partner
from exchange.api.figures import period_of
from exchange.api.schemas import StatsQuerySchema
from exchange.hub import current_hub
from exchange.supervision.reports import CSV_MEDIA_TYPE, REPORTS, XLSX_MEDIA_TYPE, Report

blp = Blueprint(
    "reports", __name__, url_prefix="/v1/reports", description="Reports to download (XLSX, CSV)"
)
blp.before_request(authenticate_partner)

_BINARY = {"type": "string", "format": "binary"}
_MEDIA_TYPES = {"xlsx": XLSX_MEDIA_TYPE, "csv": CSV_MEDIA_TYPE}


def content_disposition(report: Report, extension: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the Chinese one as ``filename*``
    (RFC 6266 §4.3, RFC 8187 §3.2.3).
    """
    ascii_name = report.ascii_filename(extension)
    chinese = quote(report.filename(extension), safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{chinese}"


def _download(kind: str, extension: str, args: dict[str, Any]) -> Response:
    period = period_of(args)
    the_hub = current_hub()
    report = REPORTS[kind](g.reader, the_hub.trust, g.partner_id, period, the_hub.now())
    response = Response(report.render(extension), content_type=_MEDIA_TYPES[extension])
    response.headers["Content-Disposition"] = content_disposition(report, extension)
    # The reports carry names and amounts: no shared cache may keep them.
    response.headers["Cache-Control"] = "no-store"
    return response


@blp.route("/ledger.xlsx", methods=["GET"])
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, _BINARY, content_type=XLSX_MEDIA_TYPE, description="整改台账 and 汇总")
def ledger_xlsx(args: dict[str, Any]) -> Response:
    """整改台账 as XLSX, with the figures (整改率 …) on the sheet 汇总.

    One row per ledger item the caller owns or received status lines of; ``from``/``to`` count
    items by the Beijing day first reported.
    """
    return _download("ledger", "xlsx", args)


@blp.route("/ledger.csv", methods=["GET"])
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, _BINARY, content_type=CSV_MEDIA_TYPE, description="整改台账 rows, UTF-8 BOM")
def ledger_csv(args: dict[str, Any]) -> Response:
    """整改台账 as CSV (the rows only, UTF-8 with a BOM)."""
    return _download("ledger", "csv", args)


@blp.route("/referrals.xlsx", methods=["GET"])
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, _BINARY, content_type=XLSX_MEDIA_TYPE, description="移送线索台账 and 汇总")
def referrals_xlsx(args: dict[str, Any]) -> Response:
    """移送线索台账 as XLSX, with the figures on the sheet 汇总.

    One row per recipient's handling of a referral the caller sent or received; ``from``/``to``
    count referrals by the Beijing day sent.
    """
    return _download("referrals", "xlsx", args)


@blp.route("/referrals.csv", methods=["GET"])
@blp.arguments(StatsQuerySchema, location="query")
@blp.response(200, _BINARY, content_type=CSV_MEDIA_TYPE, description="移送线索台账 rows, UTF-8 BOM")
def referrals_csv(args: dict[str, Any]) -> Response:
    """移送线索台账 as CSV (the rows only, UTF-8 with a BOM)."""
    return _download("referrals", "csv", args)
