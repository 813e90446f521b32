"""巡视巡察机构's adapter on its lists: 巡察问题清单 and 线索移交清单 (CSV, and one XLSX with a
sheet of each) round-trip with their rounds and groups; bad rows are refused by row and column.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from adapters import InspectionAdapter
from adapters.inspection import CLASS_CODES
from schemas import RECTIFICATION_CLASSES, examples
from tests.adapters.test_adapter_base import (
    SAMPLES,
    edited_csv,
    make,
    problems,
    refusal,
    round_trip,
)

INSPECTION = SAMPLES / "inspection"
PROBLEMS_CSV = INSPECTION / "巡察问题清单.csv"
REFERRALS_CSV = INSPECTION / "线索移交清单.csv"
BOTH_XLSX = INSPECTION / "巡察问题清单.xlsx"
ROUND = "十三届区委第五轮巡察"


@pytest.fixture
def adapter() -> InspectionAdapter:
    made: InspectionAdapter = make(InspectionAdapter)
    return made


def test_the_class_codes_cover_every_wire_value() -> None:
    assert set(CLASS_CODES.values()) == set(RECTIFICATION_CLASSES)


@pytest.mark.parametrize("sample", [PROBLEMS_CSV, REFERRALS_CSV, BOTH_XLSX], ids=str)
def test_every_sample_round_trips(adapter: InspectionAdapter, sample: Path) -> None:
    round_trip(adapter, sample)


def test_the_xlsx_holds_both_lists_as_the_csvs_do(adapter: InspectionAdapter) -> None:
    from_xlsx = [(r.kind, r.sheet, r.row, r.fields) for r in adapter.read(BOTH_XLSX)]
    from_csv = [
        (r.kind, r.row, r.fields)
        for path in (PROBLEMS_CSV, REFERRALS_CSV)
        for r in adapter.read(path)
    ]
    assert [(kind, row, fields) for kind, _, row, fields in from_xlsx] == from_csv
    assert {sheet for _, sheet, _, _ in from_xlsx} == {"问题清单", "线索移交"}


def test_a_problem_row_is_a_rectification_status_of_its_round_and_group(
    adapter: InspectionAdapter,
) -> None:
    found = round_trip(adapter, PROBLEMS_CSV)
    first = found[0][1]
    assert first.type == "rectification.status.v1"
    assert first.payload["source"] == "inspection"
    assert first.payload["inspection_round"] == f"{ROUND}（第二巡察组）"
    assert first.payload["rectification_class"] == "immediate"
    assert first.payload["status"] == "completed"
    assert str(first.payload["amount_involved"]) == "46000.00"
    assert set(first.recipients) == {"audit.yanliang", "discipline.yanliang", "personnel.yanliang"}
    assert found[0][2]["巡察轮次"] == ROUND
    assert found[0][2]["巡察组"] == "第二巡察组"
    assert found[1][1].payload["rectification_class"] == "phased"
    assert found[2][1].payload["status"] == "ongoing"


def test_a_referral_row_is_a_referral_from_an_inspection_round(
    adapter: InspectionAdapter,
) -> None:
    first, second = round_trip(adapter, REFERRALS_CSV)
    referral = first[1]
    assert referral.type == "clue.referral.v1"
    assert referral.payload["source"]["kind"] == "inspection_round"
    assert referral.payload["source"]["name"] == f"{ROUND}（第二巡察组）"
    assert referral.payload["source"]["period"]["from"].isoformat() == "2025-04-07"
    assert referral.payload["issue_category"] == "eight_rules"
    assert str(referral.payload["amount_involved"]) == "23800.00"
    assert referral.recipients == ("discipline.yanliang",)
    assert second[1].recipients == ("personnel.yanliang", "discipline.yanliang")
    persons = second[1].payload["involved_persons"]
    assert [p["name"] for p in persons] == ["陈某", "刘某"]
    assert persons[0]["cadre_authority"] == "区委组织部管理"
    assert "cadre_authority" not in persons[1]
    assert second[1].payload["complex"] is True


@pytest.mark.parametrize(
    ("sample", "column", "text", "reason"),
    [
        (PROBLEMS_CSV, "巡察轮次", "第五轮（专项）", "不能含有全角括号"),
        (PROBLEMS_CSV, "整改方式", "4", "代码无效（可选：1 立行立改、2 分阶段整改、3 持续整改）"),
        (PROBLEMS_CSV, "整改进度", "已完成", "取值无效"),
        (PROBLEMS_CSV, "涉及金额（万元）", "4.6万", "不是数字"),
        (PROBLEMS_CSV, "完成时限", "2025年8月", "日期应写作"),
        (PROBLEMS_CSV, "统一社会信用代码", "11610114MB158834", "不是有效的统一社会信用代码"),
        (REFERRALS_CSV, "移交对象", "区纪委监委", "单位无效"),
        (REFERRALS_CSV, "情况复杂", "不复杂", "应填“是”或“否”"),
        (REFERRALS_CSV, "问题类别", "作风问题", "取值无效"),
        (REFERRALS_CSV, "反馈时限", "", "必填"),
    ],
)
def test_a_bad_cell_is_refused_by_row_and_column(
    adapter: InspectionAdapter,
    tmp_path: Path,
    sample: Path,
    column: str,
    text: str,
    reason: str,
) -> None:
    error = refusal(adapter, edited_csv(tmp_path, sample, {(2, column): text}))
    assert (error.row, error.column) == (2, column)
    assert error.reason.startswith(reason)
    assert str(error).startswith(f"{sample.name} 第2行 「{column}」: ")


def test_a_bad_person_is_named_by_its_line(adapter: InspectionAdapter, tmp_path: Path) -> None:
    persons = "陈某｜办公室主任｜610114197906123015\n刘某｜科员｜610114198811253023"
    error = refusal(adapter, edited_csv(tmp_path, REFERRALS_CSV, {(3, "涉及人员"): persons}))
    assert (error.row, error.column) == (3, "涉及人员[2].身份证号")
    too_many = "陈某｜主任｜610114197906123015｜区管｜多余"
    error = refusal(adapter, edited_csv(tmp_path, REFERRALS_CSV, {(3, "涉及人员"): too_many}))
    assert (error.row, error.column, error.reason) == (
        3,
        "涉及人员[1]",
        "最多4段，以“｜”分隔",
    )


def test_header_problems_are_named_on_row_1(adapter: InspectionAdapter, tmp_path: Path) -> None:
    error = refusal(adapter, edited_csv(tmp_path, PROBLEMS_CSV, {}, drop="问题编号"))
    assert (error.row, error.column, error.reason) == (1, "问题编号", "缺少必需的列")
    misspelt = edited_csv(tmp_path, PROBLEMS_CSV, {(1, "整改措施"): "整改措失"})
    assert problems(refusal(adapter, misspelt)) == {(1, "整改措失")}


def test_a_bad_cell_in_the_second_sheet_names_the_sheet(
    adapter: InspectionAdapter, tmp_path: Path
) -> None:
    workbook = load_workbook(BOTH_XLSX)
    sheet = workbook["线索移交"]
    header = [cell.value for cell in sheet[1]]
    sheet.cell(row=3, column=header.index("反馈时限") + 1, value="年底前")
    bad = tmp_path / "巡察.xlsx"
    workbook.save(bad)
    error = refusal(adapter, bad)
    assert str(error) == "巡察.xlsx 工作表「线索移交」 第3行 「反馈时限」: 日期应写作“2025年3月5日”"


def test_received_results_are_native_records(adapter: InspectionAdapter) -> None:
    share = adapter.from_message(examples.share_example(recipients=("inspection.yanliang",)))
    assert share["成果类型"] == "经济责任审计结果报告"
    assert share["审计发现"][1]["涉及金额（万元）"] == "38.64"
    audit_line = adapter.from_message(examples.rectification_example())
    assert audit_line["问题来源"] == "经济责任审计"
