"""Codecs: one native value of a body's files ↔ one wire value (万元, Chinese dates, codes…).

Native conventions shared by every body: amounts in 万元 (``38.64`` ↔ ``"386400.00"`` 元, exact),
dates ``2025年3月5日``, yes/no ``是``/``否``, lists in a cell one item a line, an item's parts
separated by ``｜``. A codec raises NativeValueError; the adapter adds the row and column.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from typing_extensions import override

from schemas import (
    AMOUNT_RE,
    BODIES,
    CLASSIFICATIONS,
    body_of,
    id_number_problem,
    uscc_problem,
)
from schemas.classified import is_classified_level

LIST_SEPARATOR: Final = "、"
"""Separates short names in one cell: ``纪检监察机关、组织人事部门``."""

_WAN: Final = Decimal(10_000)
_CENT: Final = Decimal("0.01")
_WAN_RE: Final = re.compile(r"\A[0-9]+(?:\.[0-9]+)?\Z")
_CN_DATE_RE: Final = re.compile(r"\A([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日\Z")
_DIGITS_RE: Final = re.compile(r"\A[0-9]+\Z")


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
        return cell_text(value)


class Text(Codec):
    """Free text, kept as written (surrounding blanks removed)."""


class Wan(Codec):
    """An amount in 万元 (the wire has 元)."""

    @override
    def parse(self, raw: Any) -> str:
        return wan_to_yuan(raw)

    @override
    def format(self, wire: Any, *, table: bool) -> str:
        return yuan_to_wan(wire)

    @override
    def cell(self, value: Any) -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            # repr is the shortest text that reads back as the same float: 38.64, never 38.6399…
            try:
                return yuan_to_wan(wan_to_yuan(Decimal(repr(value))))
            except NativeValueError:
                return repr(value)
        return cell_text(value)


class CnDate(Codec):
    """A date written ``2025年3月5日``."""

    @override
    def parse(self, raw: Any) -> str:
        return parse_cn_date(raw)

    @override
    def format(self, wire: Any, *, table: bool) -> str:
        return format_cn_date(wire)

    @override
    def cell(self, value: Any) -> str:
        if isinstance(value, dt.date):
            return format_cn_date(value if not isinstance(value, dt.datetime) else value.date())
        return cell_text(value)


class Code(Codec):
    """A numeric code of the body's system (``1`` 待整改 …) ↔ a wire value.

    ``codes``: code → wire value; ``labels``: wire value → Chinese label (for the error text).
    """

    def __init__(self, codes: Mapping[int, str], labels: Mapping[str, str]) -> None:
        self.codes = dict(codes)
        self.wire_codes = {wire: code for code, wire in codes.items()}
        self.choices = "、".join(f"{code} {labels[wire]}" for code, wire in self.codes.items())

    @override
    def parse(self, raw: Any) -> str:
        if isinstance(raw, bool):
            raise NativeValueError(f"代码无效（可选：{self.choices}）")
        text = str(raw).strip() if isinstance(raw, int | str) else ""
        if _DIGITS_RE.match(text) is None or int(text) not in self.codes:
            raise NativeValueError(f"代码无效（可选：{self.choices}）")
        return self.codes[int(text)]

    @override
    def format(self, wire: Any, *, table: bool) -> int | str:
        code = self.wire_codes[wire]
        return str(code) if table else code


class Label(Codec):
    """A Chinese label (``立行立改``) ↔ its wire value (``immediate``)."""

    def __init__(self, labels: Mapping[str, str]) -> None:
        self.labels = dict(labels)
        self.values = {label: wire for wire, label in labels.items()}

    @override
    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if text not in self.values:
            raise NativeValueError(f"取值无效（可选：{'、'.join(self.values)}）")
        return self.values[text]

    @override
    def format(self, wire: Any, *, table: bool) -> str:
        return self.labels[wire]


class UsccCode(Codec):
    """统一社会信用代码, checked (GB 32100) before it leaves the body."""

    @override
    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if uscc_problem(text) is not None:
            raise NativeValueError("不是有效的统一社会信用代码（18位，校验位须正确）")
        return text


class IdNumber(Codec):
    """公民身份号码, checked (GB 11643) before it leaves the body."""

    @override
    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if id_number_problem(text) is not None:
            raise NativeValueError("不是有效的公民身份号码（18位，出生日期和校验位须正确）")
        return text


class Count(Codec):
    """A whole number of things (项, 人)."""

    @override
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

    @override
    def format(self, wire: Any, *, table: bool) -> int | str:
        return str(wire) if table else int(wire)

    @override
    def cell(self, value: Any) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return cell_text(value)


class YesNo(Codec):
    """``是`` / ``否``."""

    @override
    def parse(self, raw: Any) -> bool:
        text = _text(raw)
        if text not in ("是", "否"):
            raise NativeValueError("应填“是”或“否”")
        return text == "是"

    @override
    def format(self, wire: Any, *, table: bool) -> str:
        return "是" if wire else "否"


class Classification(Codec):
    """密级标识: 公开, 内部 or 敏感; a state-secret level is refused here, before any sending."""

    @override
    def parse(self, raw: Any) -> str:
        text = _text(raw)
        if is_classified_level(text):
            raise NativeValueError("涉密信息不得通过交换中心报送")
        values = {label: wire for wire, label in CLASSIFICATIONS.items()}
        if text not in values:
            raise NativeValueError(f"取值无效（可选：{'、'.join(values)}）")
        return values[text]

    @override
    def format(self, wire: Any, *, table: bool) -> str:
        return CLASSIFICATIONS[wire]


class Bodies(Codec):
    """Recipient bodies by their Chinese names (``纪检监察机关、组织人事部门``) ↔ partner ids.

    ``directory`` maps a body to the partner id that receives for it (``discipline`` →
    ``discipline.yanliang``).
    """

    def __init__(self, directory: Mapping[str, str], *, single: bool = False) -> None:
        self.directory = directory
        self.single = single
        self.bodies = {label: body for body, label in BODIES.items()}

    @override
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

    @override
    def format(self, wire: Any, *, table: bool) -> Any:
        names = [BODIES.get(partner_body(partner), partner) for partner in wire]
        if self.single:
            return names[0]
        return LIST_SEPARATOR.join(names) if table else names


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


# -- what the codecs and the adapters share --------------------------------------------------
def is_blank(raw: Any) -> bool:
    """Whether a native value says nothing: None, blanks, an empty list or object."""
    return raw is None or (isinstance(raw, str) and not raw.strip()) or raw == [] or raw == {}


def cell_text(value: Any) -> str:
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


def partner_body(partner_id: str) -> str:
    """The body of a partner id (``audit``), ``hub`` for the hub, else the id itself."""
    try:
        return body_of(partner_id)
    except ValueError:
        return partner_id


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise NativeValueError("应为文本")
    return raw.strip()
