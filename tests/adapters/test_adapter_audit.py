"""审计机关's adapter on its samples: the 整改台账 (CSV and XLSX), 移送处理书 and 审计结果
round-trip, and a bad native row is refused with its row and column named.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from adapters import AuditAdapter, EdgeError, NativeFile
from schemas import examples
from tests.adapters.test_adapter_base import (
    SAMPLES,
    edited_csv,
    make,
    problems,
    refusal,
    round_trip,
)

AUDIT = SAMPLES / "audit"
LEDGER_CSV = AUDIT / "整改台账.csv"
LEDGER_XLSX = AUDIT / "整改台账.xlsx"
REFERRALS = AUDIT / "移送处理书.json"
RESULTS = AUDIT / "审计结果.json"


@pytest.fixture
def adapter() -> AuditAdapter:
    made: AuditAdapter = make(AuditAdapter)
    return made


@pytest.mark.parametrize("sample", [LEDGER_CSV, LEDGER_XLSX, REFERRALS, RESULTS], ids=str)
def test_every_sample_round_trips(adapter: AuditAdapter, sample: Path) -> None:
    round_trip(adapter, sample)


def test_the_csv_and_xlsx_exports_hold_the_same_ledger(adapter: AuditAdapter) -> None:
    from_csv = [(r.row, r.fields) for r in adapter.read(LEDGER_CSV)]
    from_xlsx = [(r.row, r.fields) for r in adapter.read(LEDGER_XLSX)]
    assert from_csv == from_xlsx
    # The XLSX really holds typed cells: numbers in 万元, dates, integer codes.
    sheet = load_workbook(LEDGER_XLSX, read_only=True).worksheets[0]
    second = next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))
    assert isinstance(second[11], float) and second[11] == 38.64
    assert isinstance(second[16], int)


def test_a_ledger_row_maps_to_a_rectification_status(adapter: AuditAdapter) -> None:
    (record, envelope, back), *_ = round_trip(adapter, LEDGER_CSV)
    assert record.row == 2
    assert envelope.type == "rectification.status.v1"
    assert envelope.sender == "audit.yanliang"
    assert set(envelope.recipients) == {
        "discipline.yanliang",
        "inspection.yanliang",
        "personnel.yanliang",
    }
    assert envelope.subject == "YL-SJ-ZG-2025-017"
    payload = envelope.payload
    assert str(payload["amount_involved"]) == "386400.00"
    assert str(payload["amount_rectified"]) == "215000.00"
    assert payload["status"] == "in_progress"
    assert payload["source"] == "econ_resp_audit"
    assert payload["rectification_class"] == "phased"
    assert payload["deadline"].isoformat() == "2025-09-30"
    assert [m["due"].isoformat() for m in payload["milestones"]] == ["2025-06-30", "2025-09-30"]
    assert payload["milestones"][0]["done_at"].isoformat() == "2025-06-20"
    assert back["问题金额（万元）"] == "38.64"
    assert back["整改状态"] == "2"
    assert back["整改时限"] == "2025年9月30日"


def test_every_status_code_and_amount_precision(adapter: AuditAdapter) -> None:
    found = round_trip(adapter, LEDGER_CSV)
    statuses = [envelope.payload["status"] for _, envelope, _ in found]
    assert statuses == ["in_progress", "completed", "ongoing", "pending", "closed"]
    fourth = found[3][1].payload
    assert str(fourth["amount_involved"]) == "123456.00"  # 12.3456 万元
    assert fourth["inspection_round"] == "区委2025年第一轮巡察（第二巡察组）"
    completed = found[1][1].payload
    assert completed["evidence"][0]["media_type"] == "application/pdf"
    assert completed["evidence"][1]["media_type"].endswith("spreadsheetml.sheet")
    assert completed["verification"]["at"].isoformat() == "2025-05-12"


def test_a_referral_and_a_result(adapter: AuditAdapter) -> None:
    first, second = round_trip(adapter, REFERRALS)
    referral = first[1]
    assert referral.type == "clue.referral.v1"
    assert referral.recipients == ("discipline.yanliang",)
    assert referral.payload["source"]["kind"] == "audit_project"
    assert str(referral.payload["amount_involved"]) == "12500000.00"
    assert referral.payload["feedback_due"].isoformat() == "2025-06-05"
    assert referral.payload["issue_category"] == "state_asset_loss"
    assert referral.payload["involved_persons"][1]["id_number"] == examples.ACCOUNTANT_ID_NUMBER
    assert second[1].classification == "sensitive"
    assert second[1].payload["complex"] is True
    assert second[1].payload["evidence"][0]["media_type"] == "application/kswps"

    share, bulletin = round_trip(adapter, RESULTS)
    assert share[1].payload["share_type"] == "econ_resp_result"
    assert share[1].payload["audit_timing"] == "departure"
    assert share[1].payload["intended_use"] == ["cadre_assessment", "appointment", "personnel_file"]
    assert share[1].recipients == ("personnel.yanliang", "discipline.yanliang")
    assert str(share[1].payload["findings"][1]["amount"]) == "386400.00"
    assert bulletin[1].recipients == ("inspection.yanliang",)


def test_bytes_in_are_read_like_a_file(adapter: AuditAdapter) -> None:
    native = NativeFile("台账导出.xlsx", LEDGER_XLSX.read_bytes())
    assert adapter.to_messages(native) == adapter.to_messages(LEDGER_CSV)


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("column", "text", "reason"),
    [
        ("整改金额（万元）", "二十一万五", "不是数字"),
        ("问题金额（万元）", "-38.64", "金额不能为负数"),
        ("整改时限", "2025/9/30", "日期应写作“2025年3月5日”"),
        ("整改时限", "2025年9月31日", "日期不存在"),
        ("整改状态", "9", "代码无效"),
        ("整改类型", "马上整改", "取值无效"),
        ("统一社会信用代码", "91610114MA6TXQ0L3X", "不是有效的统一社会信用代码"),
        ("台账编号", "", "必填"),
        ("完善制度数（项）", "1.5", "应为非负整数"),
    ],
)
def test_a_bad_ledger_cell_is_refused_by_row_and_column(
    adapter: AuditAdapter, tmp_path: Path, column: str, text: str, reason: str
) -> None:
    bad = edited_csv(tmp_path, LEDGER_CSV, {(3, column): text})
    error = refusal(adapter, bad)
    assert (error.row, error.column) == (3, column)
    assert error.reason.startswith(reason)
    assert str(error).startswith(f"整改台账.csv 第3行 「{column}」: {reason}")


def test_a_bad_item_in_a_cell_is_named_with_its_line(adapter: AuditAdapter, tmp_path: Path) -> None:
    milestones = "第一阶段｜退还｜2025年6月30日\n第二阶段｜修订制度｜2025年13月1日"
    bad = edited_csv(tmp_path, LEDGER_CSV, {(2, "阶段目标"): milestones})
    error = refusal(adapter, bad)
    assert (error.row, error.column, error.reason) == (2, "阶段目标[2].完成时限", "日期不存在")


def test_every_bad_row_is_reported_at_once(adapter: AuditAdapter, tmp_path: Path) -> None:
    bad = edited_csv(
        tmp_path,
        LEDGER_CSV,
        {(2, "整改时限"): "明年", (4, "问题金额（万元）"): "1250万", (6, "整改状态"): "0"},
    )
    assert problems(refusal(adapter, bad)) == {
        (2, "整改时限"),
        (4, "问题金额（万元）"),
        (6, "整改状态"),
    }


def test_a_missing_required_column_is_named_on_the_header_row(
    adapter: AuditAdapter, tmp_path: Path
) -> None:
    error = refusal(adapter, edited_csv(tmp_path, LEDGER_CSV, {}, drop="整改时限"))
    assert (error.row, error.column, error.reason) == (1, "整改时限", "缺少必需的列")


def test_schema_rules_are_named_by_the_native_column(adapter: AuditAdapter, tmp_path: Path) -> None:
    # Row 2 is phased (milestones required); row 3 is completed (evidence, verification).
    bad = edited_csv(
        tmp_path,
        LEDGER_CSV,
        {
            (2, "阶段目标"): "",
            (3, "佐证材料"): "",
            (3, "认定单位"): "",
            (3, "认定日期"): "",
            (3, "认定意见"): "",
        },
    )
    found = problems(refusal(adapter, bad))
    assert found == {(2, "阶段目标"), (3, "佐证材料"), (3, "认定单位")}


def test_a_state_secret_is_refused_before_anything_is_sent(
    adapter: AuditAdapter, tmp_path: Path
) -> None:
    bad = edited_csv(tmp_path, LEDGER_CSV, {(5, "问题描述"): "涉及机密文件管理不规范。"})
    error = refusal(adapter, bad)
    assert (error.row, error.column) == (5, "问题描述")
    assert "涉密" in error.reason


def test_a_bad_xlsx_cell_names_its_sheet(adapter: AuditAdapter, tmp_path: Path) -> None:
    workbook = load_workbook(LEDGER_XLSX)
    sheet = workbook.worksheets[0]
    sheet["M4"] = "三百九十万"  # 整改金额（万元） of the third record
    bad = tmp_path / "整改台账.xlsx"
    workbook.save(bad)
    error = refusal(adapter, bad)
    assert (error.row, error.column, error.reason) == (4, "整改金额（万元）", "不是数字")
    assert str(error) == "整改台账.xlsx 工作表「整改台账」 第4行 「整改金额（万元）」: 不是数字"


def _referrals_with(tmp_path: Path, number: int, **changes: Any) -> Path:
    records = json.loads(REFERRALS.read_text(encoding="utf-8"))
    records[number - 1].update(changes)
    out = tmp_path / REFERRALS.name
    out.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"反馈期限": "三个月内"}, "反馈期限", "日期应写作"),
        ({"问题类别": "违纪"}, "问题类别", "取值无效"),
        ({"涉及金额（万元）": "12.5万"}, "涉及金额（万元）", "不是数字"),
        ({"情况复杂": "复杂"}, "情况复杂", "应填“是”或“否”"),
        ({"密级": "机密"}, "密级", "涉密信息不得通过交换中心报送"),
        ({"证据材料": []}, "证据材料", "必填"),
        ({"文书类型": "审计报告"}, "文书类型", "取值无效"),
        ({"联系人": {"姓名": "张某", "电话": "电话"}}, "联系人.电话", "不符合交换规范"),
    ],
)
def test_a_bad_referral_is_refused_by_record_and_key(
    adapter: AuditAdapter, tmp_path: Path, changes: dict[str, Any], column: str, reason: str
) -> None:
    error = refusal(adapter, _referrals_with(tmp_path, 2, **changes))
    assert (error.row, error.column) == (2, column)
    assert error.reason.startswith(reason)
    assert str(error).startswith(f"移送处理书.json 第2条 「{column}」")


def test_a_bad_id_number_is_named_with_the_person(adapter: AuditAdapter, tmp_path: Path) -> None:
    persons = json.loads(REFERRALS.read_text(encoding="utf-8"))[0]["涉及人员"]
    persons[1]["身份证号"] = "610114198008244013"
    error = refusal(adapter, _referrals_with(tmp_path, 1, 涉及人员=persons))
    assert (error.row, error.column) == (1, "涉及人员[2].身份证号")
    assert error.reason.startswith("不是有效的公民身份号码")


def test_a_share_to_an_unconfigured_body_is_refused(tmp_path: Path) -> None:
    adapter = AuditAdapter(
        partner_id="audit.yanliang", partners={"discipline": "discipline.yanliang"}
    )
    error = refusal(adapter, RESULTS)
    assert (error.row, error.column) == (1, "共享对象")
    assert "未配置“组织人事部门”" in error.reason


# -- received messages -----------------------------------------------------------------------
def test_received_messages_become_native_records(adapter: AuditAdapter) -> None:
    referral = examples.referral_example()
    feedback = adapter.from_message(examples.clue_feedback_example(stage="concluded"))
    assert feedback["办理阶段"] == "已办结"
    assert feedback["办理结果"][0]["追回资金（万元）"] == "988.60"
    use = adapter.from_message(examples.result_feedback_example())
    assert use["运用方式"] == ["干部考核", "归入干部档案"]
    inspection_line = examples.rectification_example(
        sender="inspection.yanliang",
        recipients=("audit.yanliang",),
        payload={"source": "inspection", "inspection_round": "十三届区委第五轮巡察"},
    )
    assert adapter.from_message(inspection_line)["巡察轮次"] == "十三届区委第五轮巡察"
    # The audit bureau's own referral comes back as its 移送处理书.
    own = adapter.from_message(referral)
    assert own["文书类型"] == "移送处理书"
    assert own["涉及金额（万元）"] == "1250.00"
    with pytest.raises(EdgeError):
        adapter.from_message({**referral, "type": "unknown.v1"})
