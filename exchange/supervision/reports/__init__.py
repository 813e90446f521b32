"""Reports for people: the 整改台账 and the 移送线索台账 as spreadsheets (XLSX, CSV) with Chinese
headers, and the figures of ``supervision.figures.stats`` on a summary sheet.
"""

from __future__ import annotations

from typing import Final

from exchange.supervision.reports.ledger import ledger_report
from exchange.supervision.reports.referrals import referral_report
from exchange.supervision.reports.workbook import (
    CSV_MEDIA_TYPE,
    FORMATS,
    XLSX_MEDIA_TYPE,
    Report,
)

REPORTS: Final = {"ledger": ledger_report, "referrals": referral_report}
"""Report name (as in the CLI and the API paths) → its builder."""


__all__ = ["CSV_MEDIA_TYPE", "FORMATS", "REPORTS", "XLSX_MEDIA_TYPE", "Report"]
