"""Reports for people: the 整改台账 and the 移送线索台账 as spreadsheets (XLSX, CSV) with Chinese
headers — one row per ledger item or per recipient's handling of a referral — and the figures
of ``tracking.stats`` on a summary sheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import Message, Partner, ReferralCase
from exchange.supervision.figures import (
    CHINA,
    Period,
    SeenItem,
    china_date,
    china_today,
    days_to_first_feedback,
    ledger_overdue,
    referral_overdue,
    seen_items,
    seen_rows,
    stats,
    visible_cases,
)
from exchange.transport.intake import open_envelope
from exchange.trust.hub_keys import HubTrust
from schemas.clue import DISPOSITIONS, ISSUE_CATEGORIES, REFERRAL_STATES
from schemas.rectification import (
    RECTIFICATION_CLASSES,
    RECTIFICATION_SOURCES,
    RECTIFICATION_STATUSES,
)

XLSX_MEDIA_TYPE: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MEDIA_TYPE: Final = "text/csv; charset=utf-8"
FORMATS: Final = ("xlsx", "csv")

Cell = str | int | float | Decimal | date | datetime | None
"""A spreadsheet value: text, count, days (float), amount in 元 (Decimal), date, Beijing time."""

_AMOUNT_FORMAT = "#,##0.00"
_DAYS_FORMAT = "0.00"
_DATE_FORMAT = "yyyy-mm-dd"
_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
# Spreadsheet programs run a CSV cell that starts with one of these as a formula (OWASP "CSV
# injection"); text from partners gets a leading apostrophe there. XLSX cells are typed instead.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_CHUNK = 500  # ids per IN (…) when loading envelopes


@dataclass(frozen=True)
class Column:
    """A column of a report: its Chinese header and width in characters."""

    header: str
    width: float = 14
    wrap: bool = False


@dataclass(frozen=True)
class Table:
    """A header and rows, one value per column."""

    columns: tuple[Column, ...]
    rows: Sequence[Sequence[Cell]]

    @property
    def headers(self) -> list[str]:
        """The Chinese column headers."""
        return [c.header for c in self.columns]


@dataclass(frozen=True)
class Block:
    """A titled part of the summary sheet: label–value pairs or a small table."""

    title: str | None
    header: tuple[str, ...] | None
    rows: Sequence[Sequence[Cell]]


@dataclass(frozen=True)
class Report:
    """One report: the rows, the summary figures, and how to name its files."""

    name: str
    ascii_name: str
    as_of: date
    table: Table
    summary: list[Block] = field(default_factory=list)

    def filename(self, extension: str) -> str:
        """The file name in Chinese, e.g. ``整改台账-2026-11-22.xlsx``."""
        return f"{self.name}-{self.as_of.isoformat()}.{extension}"

    def ascii_filename(self, extension: str) -> str:
        """The ASCII fallback name, e.g. ``ledger-2026-11-22.xlsx``."""
        return f"{self.ascii_name}-{self.as_of.isoformat()}.{extension}"

    def render(self, extension: str) -> bytes:
        """The report as ``xlsx`` or ``csv`` bytes."""
        if extension == "xlsx":
            return self.xlsx()
        if extension == "csv":
            return self.csv()
        raise ValueError(f"unknown report format: {extension}")

    def xlsx(self) -> bytes:
        """Sheet 1 the rows (frozen header, widths, autofilter), sheet 2 汇总 the figures."""
        book = Workbook()
        book.properties.title = self.filename("xlsx").removesuffix(".xlsx")
        book.properties.creator = "贯通协同监督数据交换中心"
        rows_sheet = book.worksheets[0]
        rows_sheet.title = self.name
        _write_rows_sheet(rows_sheet, self.table)
        _write_summary_sheet(book.create_sheet("汇总"), f"{self.name}汇总", self.summary)
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def csv(self) -> bytes:
        """The rows only: UTF-8 with a BOM (so Excel reads it), RFC 4180 quoting and CRLF."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(self.table.headers)
        writer.writerows([_csv_value(v) for v in row] for row in self.table.rows)
        return text.getvalue().encode("utf-8-sig")


# --- the 整改台账 -----------------------------------------------------------------------------

LEDGER_COLUMNS: Final = (
    Column("台账编号", 20),
    Column("报送单位", 18),
    Column("问题来源", 12),
    Column("来源文书文号", 22),
    Column("整改责任单位", 30),
    Column("统一社会信用代码", 21),
    Column("第一责任人", 22),
    Column("问题描述", 48, wrap=True),
    Column("整改措施", 48, wrap=True),
    Column("整改类型", 12),
    Column("整改状态", 14),
    Column("整改时限", 12),
    Column("下一阶段时限", 13),
    Column("是否逾期", 10),
    Column("涉及金额(元)", 16),
    Column("已整改金额(元)", 16),
    Column("完善制度数", 11),
    Column("问责人数", 10),
    Column("首次报送", 20),
    Column("最近报送", 20),
)


def ledger_items(session: Session, partner_id: str | None, period: Period) -> list[SeenItem]:
    """The ledger items ``partner_id`` may see (all when None) first reported in the period,
    each as of the latest line it sent or received."""
    seen = seen_items(partner_id)
    query = select(seen).order_by(seen.c.owner, seen.c.ledger_item_id)
    return [i for i in seen_rows(session, query) if period.holds(i.first_reported_at)]


def ledger_rows(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Table:
    """One row per visible ledger item; the texts come from the latest status line the
    partner sent or received (unsealed), the line its figures are of too."""
    today = china_today(now)
    items = ledger_items(session, partner_id, period)
    names = _partner_names(session)
    payloads = _payloads(session, trust, (i.last_message_id for i in items))
    rows: list[tuple[Cell, ...]] = []
    for item in items:
        payload = payloads.get(item.last_message_id, {})
        rows.append(
            (
                item.ledger_item_id,
                names.get(item.owner, item.owner),
                RECTIFICATION_SOURCES.get(item.source, item.source),
                item.source_doc_number,
                item.unit_name,
                item.unit_uscc,
                _person(payload.get("first_responsible")),
                payload.get("problem_description"),
                payload.get("measures"),
                RECTIFICATION_CLASSES.get(item.rectification_class, item.rectification_class),
                RECTIFICATION_STATUSES.get(item.status, item.status),
                item.deadline,
                item.milestone_due,
                _yes_no(ledger_overdue(item, today)),
                _money(item.amount_involved),
                _money(item.amount_rectified),
                item.rules_made,
                item.persons_held_accountable,
                _beijing(item.first_reported_at),
                _beijing(item.reported_at),
            )
        )
    return Table(LEDGER_COLUMNS, rows)


def ledger_report(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Report:
    """The 整改台账 with the rectification figures (整改率 …) on its summary sheet."""
    figures = stats(session, partner_id, period, now)
    rectification = figures["rectification"]
    main: list[tuple[Cell, ...]] = [
        ("台账条目总数", rectification["total"]),
        ("已完成整改", rectification["completed"]),
        ("已销号", rectification["closed"]),
        ("持续整改", rectification["ongoing"]),
        ("未整改", rectification["not_rectified"]),
        ("整改中(含待整改、已报送待认定)", rectification["in_progress"]),
        ("逾期", rectification["overdue"]),
        ("整改率(%)", rectification["rectification_rate"]),
        ("立行立改条目数", rectification["immediate_total"]),
        ("立行立改完成率(%)", rectification["immediate_rate"]),
        ("涉及金额(元)", _money(rectification["amount_involved"])),
        ("已整改金额(元)", _money(rectification["amount_rectified"])),
        ("完善制度数", rectification["rules_made"]),
        ("问责人数", rectification["persons_held_accountable"]),
    ]
    units = [
        (
            unit["unit"]["name"],
            unit["unit"]["uscc"],
            unit["total"],
            unit["completed"],
            unit["closed"],
            unit["ongoing"],
            unit["not_rectified"],
            unit["overdue"],
            unit["rectification_rate"],
            _money(unit["amount_involved"]),
            _money(unit["amount_rectified"]),
            unit["rules_made"],
            unit["persons_held_accountable"],
        )
        for unit in rectification["by_unit"]
    ]
    return Report(
        name="整改台账",
        ascii_name="ledger",
        as_of=china_today(now),
        table=ledger_rows(session, trust, partner_id, period, now),
        summary=[
            _context(session, partner_id, period, now, "首次报送日期"),
            Block("主要指标", ("项目", "数值"), main),
            Block(
                "按整改责任单位",
                (
                    "整改责任单位",
                    "统一社会信用代码",
                    "台账条目总数",
                    "已完成整改",
                    "已销号",
                    "持续整改",
                    "未整改",
                    "逾期",
                    "整改率(%)",
                    "涉及金额(元)",
                    "已整改金额(元)",
                    "完善制度数",
                    "问责人数",
                ),
                units,
            ),
        ],
    )


# --- the 移送线索台账 -------------------------------------------------------------------------

REFERRAL_COLUMNS: Final = (
    Column("移送编号", 20),
    Column("文号", 22),
    Column("被审计(巡察)单位", 30),
    Column("移送单位", 18),
    Column("接收单位", 18),
    Column("问题类别", 16),
    Column("涉及金额(元)", 16),
    Column("移送日期", 12),
    Column("反馈时限", 12),
    Column("当前状态", 12),
    Column("处置方式", 14),
    Column("是否逾期", 10),
    Column("首次反馈用时(天)", 17),
    Column("办结日期", 12),
    Column("处理人数", 10),
    Column("追回金额(元)", 16),
)


def referral_cases(session: Session, partner_id: str | None, period: Period) -> list[ReferralCase]:
    """The referral cases ``partner_id`` may see (all when None) sent in the period."""
    query = select(ReferralCase).order_by(
        ReferralCase.sent_at, ReferralCase.referral_id, ReferralCase.recipient
    )
    if partner_id is not None:
        query = query.where(visible_cases(partner_id))
    return [c for c in session.scalars(query) if period.holds(c.sent_at)]


def referral_rows(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Table:
    """One row per recipient's handling of a visible referral; 文号, the unit and the amount
    come from the referral itself (unsealed)."""
    today = china_today(now)
    cases = referral_cases(session, partner_id, period)
    names = _partner_names(session)
    payloads = _payloads(session, trust, {c.message_id for c in cases})
    rows: list[tuple[Cell, ...]] = []
    for case in cases:
        payload = payloads.get(case.message_id, {})
        unit = payload.get("audited_unit") or {}
        amount = payload.get("amount_involved")
        rows.append(
            (
                case.referral_id,
                payload.get("doc_number"),
                unit.get("name"),
                names.get(case.sender, case.sender),
                names.get(case.recipient, case.recipient),
                ISSUE_CATEGORIES.get(case.issue_category, case.issue_category),
                _money(amount) if amount is not None else None,
                china_date(case.sent_at),
                case.feedback_due,
                REFERRAL_STATES.get(case.state, case.state),
                DISPOSITIONS.get(case.disposition, case.disposition) if case.disposition else None,
                _yes_no(referral_overdue(case, today)),
                days_to_first_feedback(case),
                china_date(case.concluded_at) if case.concluded_at else None,
                case.persons_handled,
                _money(case.recovered_amount),
            )
        )
    return Table(REFERRAL_COLUMNS, rows)


def referral_report(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Report:
    """The 移送线索台账 with the referral figures on its summary sheet."""
    referrals = stats(session, partner_id, period, now)["referrals"]
    main: list[tuple[Cell, ...]] = [
        ("移送线索总数", referrals["total"]),
        ("逾期未反馈", referrals["overdue"]),
        ("已反馈", referrals["with_feedback"]),
        ("反馈用时中位数(天)", referrals["median_days_to_feedback"]),
        ("办结", referrals["concluded"]),
        ("处理人数", referrals["persons_handled"]),
        ("追回金额(元)", _money(referrals["recovered_amount"])),
    ]
    by_state = [
        (REFERRAL_STATES.get(state, state), count)
        for state, count in _in_order(referrals["by_state"], REFERRAL_STATES)
    ]
    by_category = [
        (ISSUE_CATEGORIES.get(category, category), count)
        for category, count in _in_order(referrals["by_category"], ISSUE_CATEGORIES)
    ]
    return Report(
        name="移送线索台账",
        ascii_name="referrals",
        as_of=china_today(now),
        table=referral_rows(session, trust, partner_id, period, now),
        summary=[
            _context(session, partner_id, period, now, "移送日期"),
            Block("主要指标", ("项目", "数值"), main),
            Block("按当前状态", ("当前状态", "件数"), by_state),
            Block("按问题类别", ("问题类别", "件数"), by_category),
        ],
    )


REPORTS: Final = {"ledger": ledger_report, "referrals": referral_report}
"""Report name (as in the CLI and the API paths) → its builder."""


# --- reading what the rows need ---------------------------------------------------------------


def _partner_names(session: Session) -> dict[str, str]:
    return {pid: name for pid, name in session.execute(select(Partner.id, Partner.name))}


def _payloads(session: Session, trust: HubTrust, message_ids: Iterable[str]) -> dict[str, Any]:
    """Message id → its unsealed payload."""
    ids = sorted(set(message_ids))
    payloads: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for message in session.scalars(select(Message).where(Message.id.in_(chunk))):
            payloads[message.id] = open_envelope(trust, message).get("payload", {})
    return payloads


def _context(
    session: Session, partner_id: str | None, period: Period, now: datetime, counted_by: str
) -> Block:
    scope = "全部报送单位" if partner_id is None else _partner_names(session).get(partner_id)
    start = period.start.isoformat() if period.start else "不限"
    end = period.end.isoformat() if period.end else "不限"
    return Block(
        None,
        None,
        [
            ("统计范围", scope or partner_id),
            ("统计期间", f"{start} 至 {end}（按{counted_by}）"),
            ("截至日期", china_today(now)),
        ],
    )


def _in_order(counts: dict[str, int], labels: dict[str, str]) -> list[tuple[str, int]]:
    # The enumeration's own order (as DOMAIN.md lists it), unknown values last.
    order = {value: n for n, value in enumerate(labels)}
    return sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def _person(person: Any) -> str | None:
    if not isinstance(person, dict) or not person.get("name"):
        return None
    position = person.get("position")
    return f"{person['name']}（{position}）" if position else str(person["name"])


def _yes_no(flag: bool) -> str:
    return "是" if flag else "否"


def _money(value: Decimal | str) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"))


def _beijing(moment: datetime) -> datetime:
    # Spreadsheets hold no time zones: Beijing wall-clock time, to the second.
    return moment.astimezone(CHINA).replace(tzinfo=None, microsecond=0)


# --- writing ----------------------------------------------------------------------------------


def _put(
    sheet: Worksheet, row: int, column: int, value: Cell, *, bold: bool = False, wrap: bool = False
) -> None:
    if value is None and not bold:
        return
    cell = sheet.cell(row=row, column=column)
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula or an error code, whatever the text says
    elif isinstance(value, Decimal):
        cell.number_format = _AMOUNT_FORMAT
    elif isinstance(value, float):
        cell.number_format = _DAYS_FORMAT
    elif isinstance(value, datetime):
        cell.number_format = _TIME_FORMAT
    elif isinstance(value, date):
        cell.number_format = _DATE_FORMAT
    if bold:
        cell.font = Font(bold=True)
    if wrap:
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _write_rows_sheet(sheet: Worksheet, table: Table) -> None:
    for n, column in enumerate(table.columns, 1):
        sheet.column_dimensions[get_column_letter(n)].width = column.width
        _put(sheet, 1, n, column.header, bold=True)
    for r, row in enumerate(table.rows, 2):
        for n, (value, column) in enumerate(zip(row, table.columns, strict=True), 1):
            _put(sheet, r, n, value, wrap=column.wrap)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(table.columns))}{len(table.rows) + 1}"


def _write_summary_sheet(sheet: Worksheet, title: str, blocks: list[Block]) -> None:
    widths = {"A": 34, "B": 28}
    for n in range(1, 14):
        letter = get_column_letter(n)
        sheet.column_dimensions[letter].width = widths.get(letter, 16)
    _put(sheet, 1, 1, title, bold=True)
    r = 1
    for block in blocks:
        r += 2  # one blank row between blocks
        if block.title:
            _put(sheet, r, 1, block.title, bold=True)
            r += 1
        if block.header:
            for n, header in enumerate(block.header, 1):
                _put(sheet, r, n, header, bold=True)
            r += 1
        for row in block.rows:
            for n, value in enumerate(row, 1):
                _put(sheet, r, n, value)
            r += 1
        r -= 1


def _csv_value(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return f"'{value}" if value.startswith(_FORMULA_START) else value
    if isinstance(value, Decimal | float):
        return f"{value:.2f}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)
