"""The adapter protocol: a body's native records ↔ canonical envelope drafts, and discovery.

An adapter reads one body's native files (ledgers as CSV/XLSX, case-system exports as JSON) and
returns envelope drafts: complete envelopes less ``id`` and ``sent_at``, which the sender (the
agent) fills. ``from_message`` gives a received envelope back as a native record. Adapters are
found through the entry-point group ``exchange.adapters`` (``load_adapters``, ``adapter_for``).

Native conventions shared by every body: amounts in 万元 (``38.64`` ↔ ``"386400.00"`` 元, exact),
dates ``2025年3月5日``, yes/no ``是``/``否``, lists in a cell one item a line, an item's parts
separated by ``｜``. Row numbers in errors are those a spreadsheet shows (the header is row 1);
records of a JSON file are counted from 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

from marshmallow import Schema, fields

from adapters.errors import EdgeError
from schemas import (
    ALL_MESSAGE_TYPES,
    AMOUNT_RE,
    BODIES,
    CLASSIFICATIONS,
    MESSAGE_TYPE_LABELS,
    MESSAGE_TYPES,
    PARTNER_ID_RE,
    Amount,
    Choice,
    ClassifiedContent,
    IsoDate,
    MessageInvalid,
    body_of,
    id_number_problem,
    uscc_problem,
    validate_envelope,
)

ENTRY_POINT_GROUP: Final = "exchange.adapters"
"""The entry-point group adapters are installed under, one entry point per body."""

ENVELOPE_KEYS: Final = (
    "消息编号",
    "消息类型",
    "发送方",
    "发送单位",
    "发送时间",
    "密级",
    "回复消息编号",
)
"""Keys ``from_message`` adds about the envelope itself (not fields of the native record)."""

BEIJING: Final = dt.timezone(dt.timedelta(hours=8), "CST")
PART_SEPARATOR: Final = "｜"
"""Separates the parts of one item in a cell: ``第一阶段｜退还津贴｜2025年6月30日``."""
LIST_SEPARATOR: Final = "、"
"""Separates short names in one cell: ``纪检监察机关、组织人事部门``."""

_WAN: Final = Decimal(10_000)
_CENT: Final = Decimal("0.01")
_WAN_RE: Final = re.compile(r"\A[0-9]+(?:\.[0-9]+)?\Z")
_CN_DATE_RE: Final = re.compile(r"\A([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日\Z")
_DIGITS_RE: Final = re.compile(r"\A[0-9]+\Z")
_STATE_SECRET_LEVELS: Final = ("秘密", "机密", "绝密")
_PLACEHOLDER_ID: Final = "adapter-draft-check"
_PLACEHOLDER_SENT_AT: Final = "2000-01-01T00:00:00Z"


# -- errors ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NativeProblem:
    """One thing wrong with a native file: where (file, sheet, row, column) and why."""

    source: str
    row: int | None
    column: str | None
    reason: str
    sheet: str | None = None
    unit: str = "行"
    """``行`` for a table row (the header is row 1), ``条`` for the n-th record of a JSON file."""

    def __str__(self) -> str:
        where = self.source
        if self.sheet:
            where += f" 工作表「{self.sheet}」"
        if self.row is not None:
            where += f" 第{self.row}{self.unit}"
        if self.column:
            where += f" 「{self.column}」"
        return f"{where}: {self.reason}"


class NativeError(EdgeError):
    """Native records that cannot be mapped; ``problems`` lists each with its row and column.

    ``row``, ``column`` and ``reason`` are those of the first problem.
    """

    def __init__(self, problems: Sequence[NativeProblem]) -> None:
        if not problems:
            raise ValueError("a NativeError needs at least one problem")
        self.problems: tuple[NativeProblem, ...] = tuple(problems)
        shown = "；".join(str(p) for p in self.problems[:20])
        more = f"；另有{len(self.problems) - 20}处问题" if len(self.problems) > 20 else ""
        super().__init__(shown + more)

    @property
    def row(self) -> int | None:
        """Row (or record) number of the first problem."""
        return self.problems[0].row

    @property
    def column(self) -> str | None:
        """Column header (or record key) of the first problem."""
        return self.problems[0].column

    @property
    def reason(self) -> str:
        """What is wrong, in Chinese."""
        return self.problems[0].reason


class NativeValueError(ValueError):
    """A native value a codec cannot read; ``at`` refines the column (``[2].身份证号``)."""

    def __init__(self, reason: str, at: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.at = at


# -- the unit and date conversions ------------------------------------------------------------
def wan_to_yuan(value: str | int | Decimal) -> str:
    """An amount in 万元 → the wire amount in 元 with 2 decimals: ``"38.64"`` → ``"386400.00"``.

    NativeValueError unless it is a non-negative decimal exact to the 分 (at most 6 decimals).
    """
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise NativeValueError("不是数字")
    text = str(value).strip() if not isinstance(value, Decimal) else format(value, "f")
    if text.startswith("-"):
        raise NativeValueError("金额不能为负数")
    if _WAN_RE.match(text) is None:
        raise NativeValueError("不是数字")
    try:
        yuan = Decimal(text) * _WAN
    except InvalidOperation:
        raise NativeValueError("不是数字") from None
    if yuan != yuan.quantize(_CENT):
        raise NativeValueError("金额精确到分（万元最多6位小数）")
    wire = format(yuan.quantize(_CENT), "f")
    if AMOUNT_RE.match(wire) is None:
        raise NativeValueError("金额过大")
    return wire


def yuan_to_wan(amount: str | Decimal) -> str:
    """A wire amount in 元 → 万元 with 2 to 6 decimals: ``"386400.00"`` → ``"38.64"``."""
    wan = Decimal(amount) / _WAN
    text = format(wan.quantize(Decimal("0.000001")), "f").rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def parse_cn_date(value: Any) -> str:
    """``2025年3月5日`` (zero-padding allowed) → ISO ``2025-03-05``; NativeValueError else."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    match = _CN_DATE_RE.match(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise NativeValueError("日期应写作“2025年3月5日”")
    try:
        return dt.date(int(match[1]), int(match[2]), int(match[3])).isoformat()
    except ValueError:
        raise NativeValueError("日期不存在") from None


def format_cn_date(iso: str | dt.date) -> str:
    """ISO ``2025-03-05`` (or a date) → ``2025年3月5日``."""
    day = iso if isinstance(iso, dt.date) else dt.date.fromisoformat(iso)
    return f"{day.year}年{day.month}月{day.day}日"


# -- codecs: one native value ↔ one wire value ---------------------------------------------------
class Codec:
    """Reads a native value into its wire form and writes it back.

    ``parse`` takes a table cell (text) or a JSON value and raises NativeValueError;
    ``format`` gives a cell (``table=True``) or a JSON value; ``cell`` turns a typed XLSX cell
    into the text a CSV export would hold.
    """

    def parse(self, raw: Any) -> Any:
        """Native value → wire value."""
        return _text(raw)

    def format(self, wire: Any, *, table: bool) -> Any:
        """Wire value → native value."""
        return wire

    def cell(self, value: Any) -> str:
        """A typed spreadsheet cell → its text."""
        return _cell_text(value)


class Text(Codec):
    """Free text, kept as written (surrounding blanks removed)."""


class Wan(Codec):
    """An amount in 万元 (the wire has 元)."""

    def parse(self, raw: Any) -> str:
        return wan_to_yuan(raw)

    def format(self, wire: Any, *, table: bool) -> str:
        return yuan_to_wan(wire)

    def cell(self, value: Any) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # repr is the shortest text that reads back as the same float: 38.64, never 38.6399…
            try:
                return yuan_to_wan(wan_to_yuan(Decimal(repr(value))))
            except NativeValueError:
                return repr(value)
        return _cell_text(value)


class CnDate(Codec):
    """A date written ``2025年3月5日``."""

    def parse(self, raw: Any) -> str:
        return parse_cn_date(raw)

    def format(self, wire: Any, *, table: bool) -> str:
        return format_cn_date(wire)

    def cell(self, value: Any) -> str:
        if isinstance(value, dt.date):
            return format_cn_date(value if not isinstance(value, dt.datetime) else value.date())
        return _cell_text(value)


class Code(Codec):
    """A numeric code of the body's system (``1`` 待整改 …) ↔ a wire value.

    ``codes``: code → wire value; ``labels``: wire value → Chinese label (for the error text).
    """

    def __init__(self, codes: Mapping[int, str], labels: Mapping[str, str]) -> None:
        self.codes = dict(codes)
        self.wire_codes = {wire: code for code, wire in codes.items()}
        self.choices = "、".join(f"{code} {labels[wire]}" for code, wire in self.codes.items())

    def parse(self, raw: Any) -> str:
        if isinstance(raw, bool):
            raise NativeValueError(f"代码无效（可选：{self.choices}）")
        text = str(raw).strip() if isinstance(raw, int | str) else ""
        if _DIGITS_RE.match(text) is None or int(text) not in self.codes:
            raise NativeValueError(f"代码无效（可选：{self.choices}）")
        return self.codes[int(text)]

    def format(self, wire: Any, *, table: bool) -> int | str:
        code = self.wire_codes[wire]
        return str(code) if table else code


class Label(Codec):
    """A Chinese label (``立行立改``) ↔ its wire value (``immediate``)."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.labels = dict(labels)
        self.values = {label: wire for wire, label in labels.items()}

    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if text not in self.values:
            raise NativeValueError(f"取值无效（可选：{'、'.join(self.values)}）")
        return self.values[text]

    def format(self, wire: Any, *, table: bool) -> str:
        return self.labels[wire]


class UsccCode(Codec):
    """统一社会信用代码, checked (GB 32100) before it leaves the body."""

    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if uscc_problem(text) is not None:
            raise NativeValueError("不是有效的统一社会信用代码（18位，校验位须正确）")
        return text


class IdNumber(Codec):
    """公民身份号码, checked (GB 11643) before it leaves the body."""

    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if id_number_problem(text) is not None:
            raise NativeValueError("不是有效的公民身份号码（18位，出生日期和校验位须正确）")
        return text


class Count(Codec):
    """A whole number of things (项, 人)."""

    def parse(self, raw: Any) -> int:
        if isinstance(raw, bool):
            raise NativeValueError("应为非负整数")
        if isinstance(raw, int):
            text = str(raw)
        elif isinstance(raw, Decimal) and raw == raw.to_integral_value():
            text = str(int(raw))
        else:
            text = _text(raw)
        if _DIGITS_RE.match(text) is None:
            raise NativeValueError("应为非负整数")
        return int(text)

    def format(self, wire: Any, *, table: bool) -> int | str:
        return str(wire) if table else int(wire)

    def cell(self, value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return _cell_text(value)


class YesNo(Codec):
    """``是`` / ``否``."""

    def parse(self, raw: Any) -> bool:
        text = _text(raw)
        if text not in ("是", "否"):
            raise NativeValueError("应填“是”或“否”")
        return text == "是"

    def format(self, wire: Any, *, table: bool) -> str:
        return "是" if wire else "否"


class Classification(Codec):
    """密级标识: 公开, 内部 or 敏感; a state-secret level is refused here, before any sending."""

    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if any(level in text for level in _STATE_SECRET_LEVELS):
            raise NativeValueError("涉密信息不得通过交换中心报送")
        values = {label: wire for wire, label in CLASSIFICATIONS.items()}
        if text not in values:
            raise NativeValueError(f"取值无效（可选：{'、'.join(values)}）")
        return values[text]

    def format(self, wire: Any, *, table: bool) -> str:
        return CLASSIFICATIONS[wire]


class Lines(Codec):
    """A list: in a table cell one item a line, in JSON an array."""

    def __init__(self, item: Codec) -> None:
        self.item = item

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
            if _blank(item):
                if part.required:
                    raise NativeValueError("必填", f".{part.name}")
                continue
            try:
                value[part.wire] = part.codec.parse(item)
            except NativeValueError as bad:
                raise NativeValueError(bad.reason, f".{part.name}{bad.at}") from None
        return value

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

    def parse(self, raw: Any) -> dict[str, Any]:
        value = super().parse(raw)
        value.setdefault("media_type", media_type_of(value["name"]))
        return value

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


class Bodies(Codec):
    """Recipient bodies by their Chinese names (``纪检监察机关、组织人事部门``) ↔ partner ids.

    ``directory`` maps a body to the partner id that receives for it (``discipline`` →
    ``discipline.yanliang``).
    """

    def __init__(self, directory: Mapping[str, str], *, single: bool = False) -> None:
        self.directory = directory
        self.single = single
        self.bodies = {label: body for body, label in BODIES.items()}

    def parse(self, raw: Any) -> list[str]:
        if isinstance(raw, str):
            names = [name.strip() for name in re.split(r"[、，,\n]", raw) if name.strip()]
        elif isinstance(raw, list) and all(isinstance(name, str) for name in raw):
            names = [name.strip() for name in raw]
        else:
            raise NativeValueError("应为单位名称")
        if self.single and len(names) != 1:
            raise NativeValueError("只能填一个单位")
        partners = []
        for name in names:
            if name not in self.bodies:
                raise NativeValueError(f"单位无效（可选：{'、'.join(self.bodies)}）")
            body = self.bodies[name]
            if body not in self.directory:
                raise NativeValueError(f"未配置“{name}”的交换编号")
            if self.directory[body] not in partners:
                partners.append(self.directory[body])
        return partners

    def format(self, wire: Any, *, table: bool) -> Any:
        names = [BODIES.get(_body(partner), partner) for partner in wire]
        if self.single:
            return names[0]
        return LIST_SEPARATOR.join(names) if table else names


# -- record specs: which native field goes to which wire path -----------------------------------
@dataclass(frozen=True)
class Field:
    """A native field (a column, or a dotted key path in JSON) ↔ an envelope path.

    ``wire`` is ``payload.<path>`` or an envelope key (``to``, ``in_reply_to``,
    ``classification``).
    """

    native: str
    wire: str
    codec: Codec = field(default_factory=Text)
    required: bool = False


@dataclass(frozen=True)
class RecordSpec:
    """How one kind of native record (``整改台账``, ``移送处理书``…) maps to one message type.

    ``fixed``: wire values every such message carries (``payload.source.kind``);
    ``default_to``: the bodies it goes to when the record names none;
    ``unmapped``: native fields kept at home (``序号``), never sent and not given back.
    ``table``: rows of a CSV/XLSX sheet (every cell text) rather than JSON records.
    """

    kind: str
    message_type: str
    fields: tuple[Field, ...]
    table: bool
    default_to: tuple[str, ...] = ()
    fixed: Mapping[str, Any] = field(default_factory=dict)
    unmapped: frozenset[str] = frozenset()
    extra: tuple[str, ...] = ()
    """Native fields mapped by the hooks below rather than by a field of their own."""
    marker: Mapping[str, str] = field(default_factory=dict)
    """Native fields that name the record's kind (``{"文书类型": "移送处理书"}``)."""
    to_wire: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None
    """Extra mapping native → draft, for what one field cannot say alone."""
    to_native: Callable[[Mapping[str, Any], dict[str, Any]], None] | None = None
    """Extra mapping envelope → native, the inverse of ``to_wire``."""

    @property
    def columns(self) -> tuple[str, ...]:
        """The mapped native fields, in order."""
        return tuple(f.native for f in self.fields) + self.extra

    def unknown_keys(self, native: Mapping[str, Any], prefix: str = "") -> list[str]:
        """Native fields (dotted paths) this spec neither maps nor keeps at home.

        Refused rather than dropped: a misspelt header would otherwise lose data silently.
        """
        known = set(self.columns) | set(self.marker) | self.unmapped
        unknown = []
        for key, value in native.items():
            path = f"{prefix}{key}"
            if path in known:
                continue
            if any(column.startswith(path + ".") for column in known):
                if isinstance(value, Mapping):
                    unknown.extend(self.unknown_keys(value, path + "."))
                continue
            unknown.append(path)
        return unknown

    def codec_of(self, column: str) -> Codec:
        """The codec of a native field (plain text when the spec does not map it)."""
        for spec_field in self.fields:
            if spec_field.native == column:
                return spec_field.codec
        return Text()

    def column_of(self, path: str) -> str | None:
        """The native field a wire path comes from (``payload.milestones[1].due`` → 阶段目标)."""
        wire_paths = {f.wire: f.native for f in self.fields}
        candidate = path
        while candidate and candidate != "payload":
            if candidate in wire_paths:
                return wire_paths[candidate]
            under = [f.native for f in self.fields if f.wire.startswith(candidate + ".")]
            if under:
                return under[0]
            shorter = re.sub(r"(?:\.[^.\[\]]*|\[[0-9]+\])\Z", "", candidate)
            if shorter == candidate:
                break
            candidate = shorter
        return None


@dataclass(frozen=True)
class NativeRecord:
    """One native record as read from a file, with where it was found."""

    kind: str
    fields: dict[str, Any]
    source: str
    row: int
    sheet: str | None = None
    unit: str = "行"

    def problem(self, column: str | None, reason: str) -> NativeProblem:
        """A problem at this record's row and ``column``."""
        return NativeProblem(self.source, self.row, column, reason, self.sheet, self.unit)


@dataclass(frozen=True)
class NativeFile:
    """A native file given as bytes (an upload), named so its format can be told."""

    name: str
    content: bytes


# -- the protocol and the base class -----------------------------------------------------------
@runtime_checkable
class Adapter(Protocol):
    """What every body's adapter provides (the agent and the hub's native views use this)."""

    body: str
    sends: frozenset[str]
    receives: frozenset[str]

    def to_messages(self, native: Path | str | NativeFile) -> list[dict[str, Any]]:
        """Envelope drafts (no ``id``, no ``sent_at``) from one native file; NativeError else."""
        ...

    def from_message(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """A received (or sent) envelope as the body's native record."""
        ...


class BaseAdapter:
    """Shared machinery: reading files, mapping records by their spec, checking drafts.

    A body's adapter sets ``body``, ``sends``, ``receives``, builds its specs in ``specs()`` and
    says which spec a record or file uses in ``read``.
    """

    body: ClassVar[str]
    sends: ClassVar[frozenset[str]]
    receives: ClassVar[frozenset[str]]

    def __init__(
        self, *, partner_id: str, partners: Mapping[str, str], classification: str = "internal"
    ) -> None:
        if not isinstance(partner_id, str) or PARTNER_ID_RE.match(partner_id) is None:
            raise EdgeError(f"not a partner id: {partner_id!r}")
        if body_of(partner_id) != self.body:
            raise EdgeError(f"{partner_id} is not a partner of body {self.body}")
        for body, partner in partners.items():
            if PARTNER_ID_RE.match(partner) is None or body_of(partner) != body:
                raise EdgeError(f"partners[{body!r}] = {partner!r} is not a {body} partner id")
        if classification not in CLASSIFICATIONS:
            raise EdgeError(f"classification must be one of {', '.join(CLASSIFICATIONS)}")
        self.partner_id = partner_id
        self.partners: dict[str, str] = {b: p for b, p in partners.items() if b != self.body}
        self.classification = classification
        self._specs = {spec.kind: spec for spec in self.specs()}

    # -- what a body adapter defines -----------------------------------------------------
    def specs(self) -> list[RecordSpec]:
        """Every kind of native record this body sends."""
        raise NotImplementedError

    def read(self, native: Path | str | NativeFile) -> list[NativeRecord]:
        """The native records of a file, in order (CSV/XLSX rows, or JSON records)."""
        raise NotImplementedError

    # -- native → canonical ----------------------------------------------------------------
    def spec(self, kind: str) -> RecordSpec:
        """The spec of a kind of native record."""
        return self._specs[kind]

    def to_messages(self, native: Path | str | NativeFile) -> list[dict[str, Any]]:
        """Envelope drafts, one per native record, each checked against its schema.

        Every problem of every record is collected; any problem raises NativeError.
        """
        drafts: list[dict[str, Any]] = []
        problems: list[NativeProblem] = []
        for record in self.read(native):
            draft, found = self.draft(record)
            problems.extend(found)
            if not found:
                problems.extend(self._check(record, draft))
            drafts.append(draft)
        if problems:
            raise NativeError(problems)
        return drafts

    def draft(self, record: NativeRecord) -> tuple[dict[str, Any], list[NativeProblem]]:
        """One record's envelope draft, and the problems met building it."""
        spec = self.spec(record.kind)
        draft: dict[str, Any] = {
            "type": spec.message_type,
            "from": self.partner_id,
            "to": [self.partners[b] for b in spec.default_to if b in self.partners],
            "classification": self.classification,
            "payload": {},
        }
        for path, value in spec.fixed.items():
            put_path(draft, path, value)
        problems = [record.problem(key, "不认识的字段") for key in spec.unknown_keys(record.fields)]
        for spec_field in spec.fields:
            raw = get_path(record.fields, spec_field.native)
            if _blank(raw):
                if spec_field.required:
                    problems.append(record.problem(spec_field.native, "必填"))
                continue
            try:
                put_path(draft, spec_field.wire, spec_field.codec.parse(raw))
            except NativeValueError as bad:
                problems.append(record.problem(spec_field.native + bad.at, bad.reason))
        if spec.to_wire is not None:
            try:
                spec.to_wire(record.fields, draft)
            except NativeValueError as bad:
                problems.append(record.problem(bad.at or None, bad.reason))
        key = getattr(MESSAGE_TYPES[spec.message_type], "business_key", None)
        if key is not None and key in draft["payload"]:
            draft["subject"] = draft["payload"][key]
        if not draft["to"] and not problems:
            problems.append(record.problem(None, "没有可发送的接收单位（检查交换编号配置）"))
        return draft, problems

    def _check(self, record: NativeRecord, draft: Mapping[str, Any]) -> list[NativeProblem]:
        """Validate the completed draft as the hub will; name the native column of each error."""
        spec = self.spec(record.kind)
        try:
            validate_envelope({**draft, "id": _PLACEHOLDER_ID, "sent_at": _PLACEHOLDER_SENT_AT})
        except ClassifiedContent as found:
            column = spec.column_of(found.path)
            return [record.problem(column, "含有涉密标识（秘密/机密/绝密），不得通过交换中心报送")]
        except MessageInvalid as invalid:
            return [
                record.problem(spec.column_of(path), f"不符合交换规范（{path}: {'; '.join(msgs)}）")
                for path, msgs in invalid.errors.items()
            ]
        return []

    # -- canonical → native ----------------------------------------------------------------
    def from_message(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The envelope as this body keeps it.

        A message this body sent comes back in its own native form (so native → canonical →
        native keeps every mapped field); a message from another body comes as a 来文登记:
        every field under its Chinese name, enumeration labels, 万元, Chinese dates.
        """
        message_type = envelope.get("type")
        if message_type not in self.sends | self.receives:
            raise EdgeError(f"{self.body} adapter does not handle {message_type!r}")
        own = _body(str(envelope.get("from"))) == self.body and message_type in self.sends
        spec = self.spec_for_message(envelope) if own else None
        if spec is None:
            return received_record(envelope)
        return {**self.native_record(spec, envelope), **envelope_keys(envelope)}

    def spec_for_message(self, envelope: Mapping[str, Any]) -> RecordSpec | None:
        """The spec this body writes its own message of this type with (None: no own form)."""
        for spec in self._specs.values():
            if spec.message_type == envelope.get("type"):
                return spec
        return None

    def native_record(self, spec: RecordSpec, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The native record of an envelope, by ``spec`` (tables: every column, blank or not)."""
        native: dict[str, Any] = dict(spec.marker)
        if spec.table:
            native.update((column, "") for column in spec.columns)
        for spec_field in spec.fields:
            value = get_path(envelope, spec_field.wire)
            if value is None or value == []:
                continue
            put_path(native, spec_field.native, spec_field.codec.format(value, table=spec.table))
        if spec.to_native is not None:
            spec.to_native(envelope, native)
        return native

    def mapped(self, record: NativeRecord) -> dict[str, Any]:
        """The fields of a record that travel (tables: every mapped column, blank as ``""``)."""
        spec = self.spec(record.kind)
        if spec.table:
            return {column: record.fields.get(column, "") for column in spec.columns}
        return {k: v for k, v in record.fields.items() if k not in spec.unmapped}

    # -- reading files ---------------------------------------------------------------------
    def read_tables(
        self, native: Path | str | NativeFile, kinds: Sequence[str]
    ) -> list[NativeRecord]:
        """Rows of a CSV (UTF-8, BOM or not) or XLSX file; each sheet's kind told by its header.

        A sheet is of the first kind in ``kinds`` whose required columns its header has all of;
        when none fits, the problem names the missing columns of the closest kind.
        """
        file = native_file(native)
        records: list[NativeRecord] = []
        problems: list[NativeProblem] = []
        for sheet_name, rows in _sheets(file):
            header = [_cell_text(cell) for cell in rows[0]] if rows else []
            if not any(header):
                continue
            spec, missing = self._spec_by_header(header, kinds)
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
        self, header: Sequence[str], kinds: Sequence[str]
    ) -> tuple[RecordSpec | None, list[str]]:
        best: list[str] | None = None
        for kind in kinds:
            spec = self.spec(kind)
            missing = [f.native for f in spec.fields if f.required and f.native not in header]
            if not missing:
                return spec, []
            if best is None or len(missing) < len(best):
                best = missing
        return None, best or []

    def read_json_records(
        self, native: Path | str | NativeFile, kind_key: str, kinds: Mapping[str, str]
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
            raise NativeError(
                [NativeProblem(file.name, None, None, "不是UTF-8编码的JSON")]
            ) from None
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


# -- the generic view of a received message ------------------------------------------------------
def envelope_keys(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The envelope's own facts under Chinese keys (``消息编号``, ``发送方``…)."""
    sender = str(envelope.get("from", ""))
    keys: dict[str, Any] = {
        "消息编号": envelope.get("id", ""),
        "消息类型": MESSAGE_TYPE_LABELS.get(str(envelope.get("type")), envelope.get("type")),
        "发送方": sender,
        "发送单位": BODIES.get(_body(sender), "交换中心" if sender == "hub" else sender),
        "发送时间": _beijing_time(envelope.get("sent_at")),
        "密级": CLASSIFICATIONS.get(str(envelope.get("classification")), ""),
    }
    if envelope.get("in_reply_to"):
        keys["回复消息编号"] = envelope["in_reply_to"]
    return keys


def received_record(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """来文登记: any message as a record with Chinese keys, labels, 万元 and Chinese dates.

    The keys are the Chinese names of the schema's fields (``移送编号``, ``问题金额（万元）``).
    """
    schema_class = ALL_MESSAGE_TYPES.get(str(envelope.get("type")))
    payload = envelope.get("payload")
    record = envelope_keys(envelope)
    if schema_class is None or not isinstance(payload, Mapping):
        raise EdgeError(f"unknown message type {envelope.get('type')!r}")
    record.update(_view_object(schema_class(), payload))
    return record


def chinese_name(schema_field: fields.Field[Any]) -> str:
    """A schema field's Chinese name: its description's first word (``涉及金额(元)``)."""
    description = str(schema_field.metadata.get("description", ""))
    name = description.split(" ", 1)[0] if description else ""
    if isinstance(schema_field, Amount):
        name = name.replace("(元)", "") + "（万元）"
    return name


def _view_object(schema: Schema, data: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for name, schema_field in schema.fields.items():
        key = schema_field.data_key or name
        if key not in data:
            continue
        label = chinese_name(schema_field) or key
        view[label if label not in view else f"{label}（{key}）"] = _view_value(
            schema_field, data[key]
        )
    return view


def _view_value(schema_field: fields.Field[Any], value: Any) -> Any:
    if value is None:
        return None
    if isinstance(schema_field, Choice):
        return schema_field.labels.get(value, value)
    if isinstance(schema_field, Amount):
        return yuan_to_wan(value)
    if isinstance(schema_field, IsoDate):
        return format_cn_date(value)
    if isinstance(schema_field, fields.Boolean):
        return "是" if value else "否"
    if isinstance(schema_field, fields.Nested) and isinstance(value, Mapping):
        nested = schema_field.schema
        return _view_object(nested, value)
    if isinstance(schema_field, fields.List) and isinstance(value, list):
        return [_view_value(schema_field.inner, item) for item in value]
    return value


# -- discovery -----------------------------------------------------------------------------------
def load_adapters() -> dict[str, Callable[..., Adapter]]:
    """Every installed adapter (entry-point group ``exchange.adapters``), by entry-point name.

    The four built in are named by their body; a package may add more (``audit-yanliang``).
    EdgeError when two packages claim one name for different adapters.
    """
    found: dict[str, Callable[..., Adapter]] = {}
    claimed: dict[str, str] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in claimed:
            if claimed[entry.name] != entry.value:
                raise EdgeError(f"adapter {entry.name!r} is installed twice: {entry.value}")
            continue
        claimed[entry.name] = entry.value
        found[entry.name] = entry.load()
    return found


def adapter_for(name: str, *, partner_id: str, partners: Mapping[str, str]) -> Adapter:
    """The installed adapter ``name`` (``audit``…), made for ``partner_id`` and its directory."""
    installed = load_adapters()
    if name not in installed:
        names = ", ".join(sorted(installed)) or "none"
        raise EdgeError(f"no adapter installed for {name!r} (installed: {names})")
    return installed[name](partner_id=partner_id, partners=partners)


# -- helpers -------------------------------------------------------------------------------------
def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise NativeValueError("应为文本")
    return raw.strip()


def _blank(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == [] or raw == {}


def _cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export holds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, dt.datetime | dt.date):
        return format_cn_date(value if not isinstance(value, dt.datetime) else value.date())
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value).replace("\r\n", "\n").strip()


def _steps(path: str) -> list[str]:
    return path.split(".")


def get_path(document: Mapping[str, Any], path: str) -> Any:
    """A value at a dotted path (``审计项目.审计期间.起``), or None."""
    value: Any = document
    for step in _steps(path):
        if not isinstance(value, Mapping) or step not in value:
            return None
        value = value[step]
    return value


def put_path(document: dict[str, Any], path: str, value: Any) -> None:
    """Set a value at a dotted path, making the objects on the way."""
    *head, last = _steps(path)
    for step in head:
        document = document.setdefault(step, {})
    document[last] = value


def _body(partner_id: str) -> str:
    try:
        return body_of(partner_id)
    except ValueError:
        return partner_id


def _beijing_time(sent_at: Any) -> str:
    if not isinstance(sent_at, str):
        return ""
    try:
        moment = dt.datetime.fromisoformat(sent_at.replace("Z", "+00:00")).astimezone(BEIJING)
    except ValueError:
        return sent_at
    return f"{format_cn_date(moment.date())} {moment:%H:%M}"


INTENDED_USE_CODES: Final = {
    1: "cadre_assessment",
    2: "appointment",
    3: "reward_punishment",
    4: "personnel_file",
    5: "integrity_file",
    6: "daily_supervision",
    7: "inspection_focus",
    8: "audit_planning",
}
"""运用方式 (personnel) and 运用建议 (discipline), numbered alike in both systems:
1 干部考核 2 选拔任用 3 奖惩 4 归入干部档案 5 廉政档案 6 日常监督 7 巡察重点 8 审计立项."""
