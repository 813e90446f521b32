"""A small spreadsheet engine for the reports: a table of rows under Chinese headers and a
summary sheet of labelled blocks, written as XLSX (openpyxl) or CSV (UTF-8 with a BOM), with
formula-looking text neutralised (CSV/formula injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

Progress = Callable[[int], None]
"""Told how many more rows were written."""
_PROGRESS_EVERY: Final = 200

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
    title: str | None = None
    """The summary sheet's title (default ``<name>汇总``): the 截至 date and the filters."""

    def filename(self, extension: str) -> str:
        """The file name in Chinese, e.g. ``整改台账-2026-11-22.xlsx``."""
        return f"{self.name}-{self.as_of.isoformat()}.{extension}"

    def ascii_filename(self, extension: str) -> str:
        """The ASCII fallback name, e.g. ``ledger-2026-11-22.xlsx``."""
        return f"{self.ascii_name}-{self.as_of.isoformat()}.{extension}"

    def render(self, extension: str, progress: Progress | None = None) -> bytes:
        """The report as ``xlsx`` or ``csv`` bytes; ``progress(rows)`` as rows are written."""
        if extension == "xlsx":
            return self.xlsx(progress)
        if extension == "csv":
            return self.csv(progress)
        raise ValueError(f"unknown report format: {extension}")

    def xlsx(self, progress: Progress | None = None) -> bytes:
        """Sheet 1 the rows (frozen header, widths, autofilter), sheet 2 汇总 the figures."""
        book = Workbook()
        book.properties.title = self.filename("xlsx").removesuffix(".xlsx")
        book.properties.creator = "贯通协同监督数据交换中心"
        rows_sheet = book.worksheets[0]
        rows_sheet.title = self.name
        _write_rows_sheet(rows_sheet, self.table, progress)
        _write_summary_sheet(
            book.create_sheet("汇总"), self.title or f"{self.name}汇总", self.summary
        )
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    def csv(self, progress: Progress | None = None) -> bytes:
        """The rows only: UTF-8 with a BOM (so Excel reads it), RFC 4180 quoting and CRLF."""
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow(self.table.headers)
        for start in range(0, len(self.table.rows), _PROGRESS_EVERY):
            chunk = self.table.rows[start : start + _PROGRESS_EVERY]
            writer.writerows([_csv_value(v) for v in row] for row in chunk)
            if progress is not None:
                progress(len(chunk))
        return text.getvalue().encode("utf-8-sig")


# --- writing ----------------------------------------------------------------------------------


def _put(
    sheet: Worksheet, row: int, column: int, value: Cell, *, bold: bool = False, wrap: bool = False
) -> None:
    if value is None and not bold:
        return
    if isinstance(value, str):
        # XML 1.0 (§2.2) has no place for most C0 controls; openpyxl refuses them.
        value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
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


def _write_rows_sheet(sheet: Worksheet, table: Table, progress: Progress | None) -> None:
    for n, column in enumerate(table.columns, 1):
        sheet.column_dimensions[get_column_letter(n)].width = column.width
        _put(sheet, 1, n, column.header, bold=True)
    for r, row in enumerate(table.rows, 2):
        for n, (value, column) in enumerate(zip(row, table.columns, strict=True), 1):
            _put(sheet, r, n, value, wrap=column.wrap)
        if progress is not None and (r - 1) % _PROGRESS_EVERY == 0:
            progress(_PROGRESS_EVERY)
    if progress is not None:
        progress(len(table.rows) % _PROGRESS_EVERY)
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
