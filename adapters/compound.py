"""Codecs of cells that hold several things: a list (one item a line) or a compound item
(``阶段｜目标｜完成时限``), and the compound items bodies share (attachments, milestones, persons).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from typing_extensions import override

from adapters.codecs import (
    CnDate,
    Codec,
    Count,
    IdNumber,
    Label,
    NativeValueError,
    Text,
    UsccCode,
    Wan,
    is_blank,
)
from adapters.specs import Field
from schemas import AMOUNT_CATEGORIES, SUPERVISION_KINDS

PART_SEPARATOR: Final = "｜"
"""Separates the parts of one item in a cell: ``第一阶段｜退还津贴｜2025年6月30日``."""


class Lines(Codec):
    """A list: in a table cell one item a line, in JSON an array."""

    def __init__(self, item: Codec) -> None:
        self.item = item

    @override
    def parse(self, raw: Any) -> list[Any]:
        if isinstance(raw, str):
            items: list[Any] = [line for line in raw.splitlines() if line.strip()]
        elif isinstance(raw, list):
            items = raw
        else:
            raise NativeValueError("应为列表")
        values = []
        for number, item in enumerate(items, start=1):
            try:
                values.append(self.item.parse(item))
            except NativeValueError as bad:
                raise NativeValueError(bad.reason, f"[{number}]{bad.at}") from None
        return values

    @override
    def format(self, wire: Any, *, table: bool) -> Any:
        items = [self.item.format(value, table=table) for value in wire]
        return "\n".join(str(item) for item in items) if table else items


@dataclass(frozen=True)
class Part:
    """One part of a compound item: its native name, its wire key, its codec."""

    name: str
    wire: str
    codec: Codec = field(default_factory=Text)
    required: bool = False


class Parts(Codec):
    """A compound item: ``a｜b｜c`` in a table cell, an object with Chinese keys in JSON."""

    def __init__(self, *parts: Part) -> None:
        self.parts = parts

    @override
    def parse(self, raw: Any) -> dict[str, Any]:
        if isinstance(raw, str):
            cells = [cell.strip() for cell in raw.split(PART_SEPARATOR)]
            if len(cells) > len(self.parts):
                raise NativeValueError(f"最多{len(self.parts)}段，以“{PART_SEPARATOR}”分隔")
            named: Mapping[str, Any] = dict(zip((p.name for p in self.parts), cells, strict=False))
        elif isinstance(raw, Mapping):
            unknown = [key for key in raw if key not in {p.name for p in self.parts}]
            if unknown:
                raise NativeValueError("不认识的项", f".{unknown[0]}")
            named = raw
        else:
            raise NativeValueError("格式无效")
        value: dict[str, Any] = {}
        for part in self.parts:
            item = named.get(part.name)
            if is_blank(item):
                if part.required:
                    raise NativeValueError("必填", f".{part.name}")
                continue
            try:
                value[part.wire] = part.codec.parse(item)
            except NativeValueError as bad:
                raise NativeValueError(bad.reason, f".{part.name}{bad.at}") from None
        return value

    @override
    def format(self, wire: Any, *, table: bool) -> Any:
        named = {
            part.name: part.codec.format(wire[part.wire], table=table)
            for part in self.parts
            if wire.get(part.wire) is not None
        }
        if not table:
            return named
        cells = [str(named.get(part.name, "")) for part in self.parts]
        while cells and not cells[-1]:
            cells.pop()
        return PART_SEPARATOR.join(cells)


class AttachmentCodec(Parts):
    """附件 ``文件名｜字节数｜SHA-256[｜媒体类型]``; the media type defaults to the name's."""

    def __init__(self) -> None:
        super().__init__(
            Part("文件名", "name", required=True),
            Part("大小（字节）", "size", Count(), required=True),
            Part("SHA-256", "sha256", required=True),
            Part("媒体类型", "media_type"),
        )

    @override
    def parse(self, raw: Any) -> dict[str, Any]:
        value = super().parse(raw)
        value.setdefault("media_type", media_type_of(value["name"]))
        return value

    @override
    def format(self, wire: Any, *, table: bool) -> Any:
        implied = wire.get("media_type") == media_type_of(wire["name"])
        return super().format(
            {k: v for k, v in wire.items() if not (k == "media_type" and implied)}, table=table
        )


def milestone_codec() -> Parts:
    """阶段目标 ``阶段｜目标｜完成时限｜完成日期`` (the last two as ``2025年6月30日``)."""
    return Parts(
        Part("阶段", "stage", required=True),
        Part("目标", "target"),
        Part("完成时限", "due", CnDate(), required=True),
        Part("完成日期", "done_at", CnDate()),
    )


def amounts_codec() -> Lines:
    """按口径金额, one category a line: ``口径｜金额（万元）`` (``追回(收回)资金｜21.5``)."""
    return Lines(
        Parts(
            Part("口径", "category", Label(AMOUNT_CATEGORIES), required=True),
            Part("金额（万元）", "amount", Wan(), required=True),
        )
    )


def units_codec() -> Lines:
    """共同整改责任单位, one unit a line: ``单位名称｜统一社会信用代码``."""
    return Lines(
        Parts(
            Part("单位名称", "name", required=True),
            Part("统一社会信用代码", "uscc", UsccCode(), required=True),
        )
    )


def supervision_codec() -> Lines:
    """督促情况, one act a line: ``方式｜日期｜督促单位`` (``催办函｜2025年5月10日｜区审计局``)."""
    return Lines(
        Parts(
            Part("方式", "kind", Label(SUPERVISION_KINDS), required=True),
            Part("日期", "date", CnDate(), required=True),
            Part("督促单位", "by"),
        )
    )


def person_codec() -> Parts:
    """涉及人员 ``姓名｜职务｜公民身份号码｜干部管理权限``."""
    return Parts(
        Part("姓名", "name", required=True),
        Part("职务", "position"),
        Part("身份证号", "id_number", IdNumber()),
        Part("干部管理权限", "cadre_authority"),
    )


MEDIA_TYPES: Final = {
    "pdf": "application/pdf",
    "ofd": "application/ofd",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "txt": "text/plain",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "zip": "application/zip",
}
"""The media type a file's extension implies (a fixed table: the same on every machine)."""


def media_type_of(name: str) -> str:
    """The media type a file name implies (``.pdf`` → ``application/pdf``), else octet-stream."""
    return MEDIA_TYPES.get(Path(name).suffix.lower().lstrip("."), "application/octet-stream")


@dataclass(frozen=True)
class LedgerColumns:
    """What one body calls the Version 1 columns of its ledger (DOMAIN.md, Version 1 additions)."""

    project: str
    category: str
    co_units: str
    referral: str


def version1_ledger_fields(columns: LedgerColumns) -> tuple[Field, ...]:
    """The Version 1 columns of a ledger export; an empty cell is absent (omitted: unchanged)."""
    return (
        Field("状态日期", "payload.status_date", CnDate()),
        Field("问题所属年度", "payload.source_year", Count()),
        Field(columns.project, "payload.source_project"),
        Field(columns.category, "payload.problem_category"),
        Field(columns.co_units, "payload.co_responsible_units", units_codec()),
        Field(columns.referral, "payload.referral_id"),
        Field("按口径金额", "payload.amounts", amounts_codec()),
        Field("督促情况", "payload.supervision", supervision_codec()),
    )
