"""Native files: bytes named so their format can be told, read as sheets of rows or JSON records.

Row numbers are those a spreadsheet shows (the header is row 1); records of a JSON file are
counted from 1.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from adapters.codecs import cell_text
from adapters.errors import NativeError, NativeProblem
from adapters.specs import NativeRecord, RecordSpec


@dataclass(frozen=True)
class NativeFile:
    """A native file given as bytes (an upload), named so its format can be told."""

    name: str
    content: bytes


def read_table_records(
    native: Path | str | NativeFile, specs: Sequence[RecordSpec]
) -> list[NativeRecord]:
    """Rows of a CSV (UTF-8, BOM or not) or XLSX file; each sheet's kind told by its header.

    A sheet is of the first of ``specs`` whose required columns its header has all of; when
    none fits, the problem names the missing columns of the closest.
    """
    file = native_file(native)
    records: list[NativeRecord] = []
    problems: list[NativeProblem] = []
    for sheet_name, rows in _sheets(file):
        header = [cell_text(cell) for cell in rows[0]] if rows else []
        if not any(header):
            continue
        spec, missing = _spec_by_header(header, specs)
        if spec is None:
            problems.extend(
                NativeProblem(file.name, 1, column, "缺少必需的列", sheet_name)
                for column in missing
            )
            continue
        duplicated = sorted({h for h in header if h and header.count(h) > 1})
        problems.extend(
            NativeProblem(file.name, 1, column, "列名重复", sheet_name) for column in duplicated
        )
        problems.extend(
            NativeProblem(file.name, 1, column, "不认识的列", sheet_name)
            for column in spec.unknown_keys({h: "" for h in header if h})
        )
        for number, row in enumerate(rows[1:], start=2):
            cells = {
                column: spec.codec_of(column).cell(value)
                for column, value in zip(header, row, strict=False)
                if column
            }
            if not any(cells.values()):
                continue
            records.append(NativeRecord(spec.kind, cells, file.name, number, sheet_name))
    if problems:
        raise NativeError(problems)
    if not records:
        raise NativeError([NativeProblem(file.name, None, None, "文件中没有记录")])
    return records


def _spec_by_header(
    header: Sequence[str], specs: Sequence[RecordSpec]
) -> tuple[RecordSpec | None, list[str]]:
    best: list[str] | None = None
    for spec in specs:
        missing = [f.native for f in spec.fields if f.required and f.native not in header]
        if not missing:
            return spec, []
        if best is None or len(missing) < len(best):
            best = missing
    return None, best or []


def read_json_records(
    native: Path | str | NativeFile, kind_key: str, kinds: Mapping[str, str]
) -> list[NativeRecord]:
    """Records of a JSON file (an array of objects, or one object), counted from 1.

    ``kind_key`` names the field that says the record's kind; ``kinds`` maps its values to
    spec kinds. Numbers are read as exact decimals.
    """
    file = native_file(native)
    if suffix_of(file) != "json":
        raise NativeError([NativeProblem(file.name, None, None, "只接受JSON文件")])
    try:
        document = json.loads(file.content.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise NativeError([NativeProblem(file.name, None, None, "不是UTF-8编码的JSON")]) from None
    items = document if isinstance(document, list) else [document]
    records: list[NativeRecord] = []
    problems: list[NativeProblem] = []
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            problems.append(NativeProblem(file.name, number, None, "应为对象", unit="条"))
            continue
        kind = kinds.get(str(item.get(kind_key, "")))
        if kind is None:
            reason = f"取值无效（可选：{'、'.join(kinds)}）"
            problems.append(NativeProblem(file.name, number, kind_key, reason, unit="条"))
            continue
        records.append(NativeRecord(kind, item, file.name, number, unit="条"))
    if problems:
        raise NativeError(problems)
    if not records:
        raise NativeError([NativeProblem(file.name, None, None, "文件中没有记录")])
    return records


def native_file(native: Path | str | NativeFile) -> NativeFile:
    """A native file, read from disk unless given as bytes."""
    if isinstance(native, NativeFile):
        return native
    path = Path(native)
    try:
        return NativeFile(path.name, path.read_bytes())
    except OSError as error:
        raise NativeError([NativeProblem(path.name, None, None, f"无法读取（{error}）")]) from None


def suffix_of(file: NativeFile) -> str:
    """The file's extension in lower case, without the dot."""
    return Path(file.name).suffix.lower().lstrip(".")


def _sheets(file: NativeFile) -> list[tuple[str | None, list[list[Any]]]]:
    """The rows of each sheet (a CSV is one sheet without a name)."""
    suffix = suffix_of(file)
    if suffix == "csv":
        try:
            text = file.content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise NativeError([NativeProblem(file.name, None, None, "不是UTF-8编码")]) from None
        return [(None, [list(row) for row in csv.reader(io.StringIO(text, newline=""))])]
    if suffix == "xlsx":
        from openpyxl import load_workbook

        try:
            workbook = load_workbook(io.BytesIO(file.content), read_only=True, data_only=True)
        except Exception as error:  # openpyxl raises many kinds for a damaged file
            reason = f"无法读取XLSX文件（{type(error).__name__}）"
            raise NativeError([NativeProblem(file.name, None, None, reason)]) from None
        try:
            return [
                (sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)])
                for sheet in workbook.worksheets
            ]
        finally:
            workbook.close()
    raise NativeError([NativeProblem(file.name, None, None, "只接受CSV或XLSX文件")])
