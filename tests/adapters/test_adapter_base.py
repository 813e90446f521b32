"""The adapter protocol's shared parts: 万元 ↔ 元, Chinese dates, errors naming row and column,
the 来文登记 view of received messages, and discovery through ``exchange.adapters``.

Also the helpers the per-body tests share (``round_trip``, ``edited_csv``…).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters import (
    ENTRY_POINT_GROUP,
    Adapter,
    AuditAdapter,
    AuthorityAdapter,
    DisciplineAdapter,
    EdgeError,
    InspectionAdapter,
    NativeError,
    NativeProblem,
    PersonnelAdapter,
    adapter_for,
    format_cn_date,
    load_adapters,
    parse_cn_date,
    wan_to_yuan,
    yuan_to_wan,
)
from adapters.base import ENVELOPE_KEYS, BaseAdapter, NativeValueError, received_record
from schemas import AMOUNT_RE, Envelope, examples, validate_envelope

SAMPLES = Path(__file__).resolve().parents[2] / "adapters" / "samples"
PARTNERS = {
    "audit": "audit.yanliang",
    "discipline": "discipline.yanliang",
    "inspection": "inspection.yanliang",
    "personnel": "personnel.yanliang",
    "authority": "authority.caizheng",
}
SENT_AT = "2025-09-01T10:00:00+08:00"


def make(adapter_class: Callable[..., BaseAdapter], **kwargs: Any) -> Any:
    """An adapter of ``adapter_class`` for the 阎良 partner of its body."""
    body = adapter_class.body  # type: ignore[attr-defined]
    return adapter_class(partner_id=PARTNERS[body], partners=PARTNERS, **kwargs)


def complete(draft: Mapping[str, Any], number: int) -> dict[str, Any]:
    """What the agent does to a draft before signing: give it an id and a time."""
    assert "id" not in draft and "sent_at" not in draft
    return {**draft, "id": f"sample-message-{number:06d}", "sent_at": SENT_AT}


def round_trip(adapter: BaseAdapter, path: Path) -> list[tuple[Any, Envelope, dict[str, Any]]]:
    """Each record of a sample: the record, its validated envelope, and from_message of it.

    Asserts native → canonical → native keeps every mapped field, exactly.
    """
    records = adapter.read(path)
    drafts = adapter.to_messages(path)
    assert len(drafts) == len(records) > 0
    found = []
    for number, (record, draft) in enumerate(zip(records, drafts, strict=True)):
        envelope = complete(draft, number)
        loaded = validate_envelope(envelope)
        back = adapter.from_message(envelope)
        native = {k: v for k, v in back.items() if k not in ENVELOPE_KEYS or k in record.fields}
        assert native == adapter.mapped(record), f"{path.name} row {record.row}"
        assert back["消息编号"] == envelope["id"]
        found.append((record, loaded, back))
    return found


def read_csv(path: Path) -> list[list[str]]:
    """The rows of a CSV sample, header first."""
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))


def edited_csv(
    tmp_path: Path, sample: Path, edits: Mapping[tuple[int, str], str], *, drop: str = ""
) -> Path:
    """A copy of a CSV sample with cells changed: {(spreadsheet row, column): text}."""
    rows = read_csv(sample)
    header = rows[0]
    for (row, column), text in edits.items():
        rows[row - 1][header.index(column)] = text
    if drop:
        at = header.index(drop)
        rows = [r[:at] + r[at + 1 :] for r in rows]
    out = tmp_path / sample.name
    with out.open("w", encoding="utf-8-sig", newline="") as file:
        csv.writer(file).writerows(rows)
    return out


def refusal(adapter: BaseAdapter, native: Any) -> NativeError:
    """The NativeError that ``to_messages`` raises for ``native``."""
    with pytest.raises(NativeError) as caught:
        adapter.to_messages(native)
    return caught.value


def problems(error: NativeError) -> set[tuple[int | None, str | None]]:
    """(row, column) of every problem."""
    return {(p.row, p.column) for p in error.problems}


# -- 万元 ↔ 元 -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("wan", "yuan"),
    [
        ("38.64", "386400.00"),
        ("21.50", "215000.00"),
        ("21.5", "215000.00"),
        ("1250", "12500000.00"),
        ("12.3456", "123456.00"),
        ("0.000001", "0.01"),
        ("0", "0.00"),
        (Decimal("988.60"), "9886000.00"),
        (7, "70000.00"),
    ],
)
def test_wan_to_yuan_is_exact(wan: Any, yuan: str) -> None:
    assert wan_to_yuan(wan) == yuan


@pytest.mark.parametrize(
    ("yuan", "wan"),
    [
        ("386400.00", "38.64"),
        ("215000.00", "21.50"),
        ("12500000.00", "1250.00"),
        ("123456.00", "12.3456"),
        ("0.01", "0.000001"),
        ("0", "0.00"),
        ("1234567.89", "123.456789"),
    ],
)
def test_yuan_to_wan_keeps_two_to_six_decimals(yuan: str, wan: str) -> None:
    assert yuan_to_wan(yuan) == wan


@pytest.mark.parametrize(
    ("wan", "reason"),
    [
        ("三十八万", "不是数字"),
        ("38,64", "不是数字"),
        ("1e3", "不是数字"),
        ("-1.00", "金额不能为负数"),
        ("0.0000001", "金额精确到分（万元最多6位小数）"),
        ("100000000000", "金额过大"),
        (38.64, "不是数字"),
        (True, "不是数字"),
    ],
)
def test_wan_to_yuan_refuses(wan: Any, reason: str) -> None:
    with pytest.raises(NativeValueError) as caught:
        wan_to_yuan(wan)
    assert caught.value.reason == reason


@given(st.integers(min_value=0, max_value=10**15 - 1))
def test_every_wire_amount_survives_wan_and_back(cents: int) -> None:
    yuan = format(Decimal(cents).scaleb(-2), "f")
    assert AMOUNT_RE.match(yuan)
    wan = yuan_to_wan(yuan)
    assert wan_to_yuan(wan) == yuan
    assert Decimal(wan) * 10_000 == Decimal(yuan)


@given(st.decimals(min_value=0, max_value=10**10, places=6, allow_nan=False, allow_infinity=False))
def test_every_wan_amount_exact_to_the_fen_goes_to_yuan_and_back(wan: Decimal) -> None:
    yuan = wan_to_yuan(format(wan, "f"))
    assert AMOUNT_RE.match(yuan) and len(yuan.split(".")[1]) == 2
    assert Decimal(yuan) == wan * 10_000
    assert Decimal(yuan_to_wan(yuan)) == wan


# -- Chinese dates -----------------------------------------------------------------------------
def test_chinese_dates() -> None:
    assert parse_cn_date("2025年3月5日") == "2025-03-05"
    assert parse_cn_date("2025年03月05日") == "2025-03-05"
    assert parse_cn_date(dt.datetime(2025, 3, 5)) == "2025-03-05"
    assert format_cn_date("2025-03-05") == "2025年3月5日"
    for bad, reason in [
        ("2025-03-05", "日期应写作“2025年3月5日”"),
        ("2025/3/5", "日期应写作“2025年3月5日”"),
        ("2025年2月30日", "日期不存在"),
        (20250305, "日期应写作“2025年3月5日”"),
    ]:
        with pytest.raises(NativeValueError) as caught:
            parse_cn_date(bad)
        assert caught.value.reason == reason


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2999, 12, 31)))
def test_every_date_survives_chinese_and_back(day: dt.date) -> None:
    assert parse_cn_date(format_cn_date(day)) == day.isoformat()


# -- errors ------------------------------------------------------------------------------------
def test_a_native_error_names_file_row_column_and_reason() -> None:
    error = NativeError(
        [
            NativeProblem("整改台账.csv", 3, "整改金额（万元）", "不是数字"),
            NativeProblem("整改台账.xlsx", 4, "整改时限", "日期不存在", sheet="整改台账"),
            NativeProblem("移送处理书.json", 2, "涉及人员[1].身份证号", "无效", unit="条"),
        ]
    )
    assert isinstance(error, EdgeError)
    assert (error.row, error.column, error.reason) == (3, "整改金额（万元）", "不是数字")
    assert str(error).split("；") == [
        "整改台账.csv 第3行 「整改金额（万元）」: 不是数字",
        "整改台账.xlsx 工作表「整改台账」 第4行 「整改时限」: 日期不存在",
        "移送处理书.json 第2条 「涉及人员[1].身份证号」: 无效",
    ]


def test_an_unknown_file_kind_is_refused(tmp_path: Path) -> None:
    text = tmp_path / "整改台账.txt"
    text.write_text("台账编号\n1\n", encoding="utf-8")
    assert refusal(make(AuditAdapter), text).reason == "只接受CSV或XLSX文件"
    assert refusal(make(AuditAdapter), tmp_path / "nothing.csv").reason.startswith("无法读取")
    assert refusal(make(DisciplineAdapter), text).reason == "只接受JSON文件"


# -- the received view -------------------------------------------------------------------------
def test_a_received_message_reads_in_chinese_with_labels_wan_and_chinese_dates() -> None:
    referral = examples.referral_example(sent_at="2025-03-05T09:30:00+08:00")
    record = received_record(referral)
    assert record["消息编号"] == referral["id"]
    assert record["消息类型"] == "问题线索移送"
    assert record["发送单位"] == "审计机关"
    assert record["发送时间"] == "2025年3月5日 09:30"
    assert record["问题类别"] == "国有资产重大损失"
    assert record["涉及金额（万元）"] == "1250.00"
    assert record["反馈时限"] == "2025年6月5日"
    assert record["情况复杂"] == "否"
    assert record["线索来源"]["审计(巡察)期间"] == {
        "起始日期": "2021年1月1日",
        "截止日期": "2024年6月30日",
    }
    assert record["被审计(巡察)单位"]["统一社会信用代码"] == examples.COMPANY_USCC


@pytest.mark.parametrize(
    "build",
    [
        examples.referral_example,
        examples.clue_feedback_example,
        examples.share_example,
        examples.result_feedback_example,
        examples.rectification_example,
    ],
)
def test_every_type_has_a_received_view_with_chinese_keys(
    build: Callable[..., dict[str, Any]],
) -> None:
    record = received_record(build())
    assert all(not key.isascii() or key == "SHA-256" for key in _keys(record))


def _keys(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, item in value.items() for k in [key, *_keys(item)]]
    if isinstance(value, list):
        return [k for item in value for k in _keys(item)]
    return []


def test_an_adapter_refuses_a_type_it_does_not_handle() -> None:
    with pytest.raises(EdgeError):
        make(InspectionAdapter).from_message(examples.result_feedback_example())


# -- construction and discovery ----------------------------------------------------------------
def test_an_adapter_is_made_for_a_partner_of_its_own_body() -> None:
    with pytest.raises(EdgeError):
        AuditAdapter(partner_id="discipline.yanliang", partners=PARTNERS)
    with pytest.raises(EdgeError):
        AuditAdapter(partner_id="audit.yanliang", partners={"discipline": "personnel.x"})
    adapter = make(AuditAdapter)
    assert "audit" not in adapter.partners


def test_entry_points_find_all_five_bodies() -> None:
    installed = load_adapters()
    assert {"audit", "discipline", "inspection", "personnel", "authority"} <= set(installed)
    expected = {
        "authority": AuthorityAdapter,
        "audit": AuditAdapter,
        "discipline": DisciplineAdapter,
        "inspection": InspectionAdapter,
        "personnel": PersonnelAdapter,
    }
    for body, adapter_class in expected.items():
        assert installed[body] is adapter_class  # type: ignore[comparison-overlap]
        adapter = adapter_for(body, partner_id=PARTNERS[body], partners=PARTNERS)
        assert isinstance(adapter, Adapter)
        assert adapter.body == body
        assert adapter.sends and adapter.receives
    assert ENTRY_POINT_GROUP == "exchange.adapters"
    with pytest.raises(EdgeError, match="no adapter installed"):
        adapter_for("treasury", partner_id="audit.x", partners={})


def test_every_sample_folder_has_its_readme() -> None:
    for body in PARTNERS:
        readme = SAMPLES / body / "README.md"
        assert readme.is_file(), readme
        assert len(list((SAMPLES / body).iterdir())) >= 2


def test_the_agent_finds_a_body_adapter_by_its_entry_point(tmp_path: Path) -> None:
    from adapters.agent import AgentConfig, load_adapter

    config = AgentConfig(
        hub_url="http://127.0.0.1:1",
        kid="inspection.yanliang#2026-11",
        key_file=tmp_path / "key.pem",
        adapter="inspection",
        folder=tmp_path,
        partners=PARTNERS,
    )
    adapter = load_adapter(config)
    assert isinstance(adapter, InspectionAdapter)
    assert adapter.partner_id == "inspection.yanliang"
    assert len(adapter.to_messages(SAMPLES / "inspection" / "巡察问题清单.xlsx")) == 5
