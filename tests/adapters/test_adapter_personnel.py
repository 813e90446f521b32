"""组织人事部门's adapter: result-use and clue feedback records keyed by 干部编号 round-trip with
the cadre ids kept at home; a received audit result becomes a 干部档案 entry, its cadre found in
the roster by name and ID number, the number stored masked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters import Cadre, NativeError, PersonnelAdapter
from adapters.base import INTENDED_USE_CODES as USE_CODES
from adapters.personnel import DECISION_CODES, read_roster
from schemas import DECISION_KINDS, INTENDED_USES, examples
from tests.adapters.test_adapter_base import SAMPLES, make, refusal, round_trip

PERSONNEL = SAMPLES / "personnel"
RESULT_USE = PERSONNEL / "成果运用反馈.json"
CLUE_FEEDBACK = PERSONNEL / "线索办理反馈.json"
ROSTER = PERSONNEL / "干部名册.csv"


@pytest.fixture
def adapter() -> PersonnelAdapter:
    made: PersonnelAdapter = make(PersonnelAdapter, roster=ROSTER)
    return made


def test_the_code_tables_cover_every_wire_value() -> None:
    assert set(USE_CODES.values()) == set(INTENDED_USES)
    assert set(DECISION_CODES.values()) == set(DECISION_KINDS)


@pytest.mark.parametrize("sample", [RESULT_USE, CLUE_FEEDBACK], ids=str)
def test_every_sample_round_trips(adapter: PersonnelAdapter, sample: Path) -> None:
    round_trip(adapter, sample)


def test_result_use_counts_decisions_and_keeps_cadre_ids_at_home(
    adapter: PersonnelAdapter,
) -> None:
    first, second = round_trip(adapter, RESULT_USE)
    feedback = first[1]
    assert feedback.type == "result.feedback.v1"
    assert feedback.in_reply_to == "01JT0A2B4C6D8E0F2G4H6J8K0M"
    assert feedback.recipients == ("audit.yanliang",)
    assert feedback.payload["used_for"] == ["cadre_assessment", "personnel_file"]
    assert feedback.payload["decisions"] == [{"kind": "admonition", "persons": 1}]
    assert feedback.payload["occurred_at"].isoformat() == "2025-09-18"
    assert second[1].recipients == ("discipline.yanliang",)
    wire = json.dumps([first[1].payload, second[1].payload], ensure_ascii=False, default=str)
    assert "YLZ-GB" not in wire and "何某" not in wire


def test_clue_feedback_uses_labels(adapter: PersonnelAdapter) -> None:
    ((_, feedback, back),) = round_trip(adapter, CLUE_FEEDBACK)
    assert feedback.payload["stage"] == "concluded"
    assert [o["outcome"] for o in feedback.payload["outcomes"]] == [
        "organizational_handling",
        "critical_education",
    ]
    assert feedback.recipients == ("inspection.yanliang",)
    assert back["办理阶段"] == "已办结"


def _use_with(tmp_path: Path, **changes: Any) -> Path:
    records = json.loads(RESULT_USE.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            records[0].pop(key, None)
        else:
            records[0][key] = value
    out = tmp_path / RESULT_USE.name
    out.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return out


def test_decisions_are_counted_from_the_cadres_when_not_given(
    adapter: PersonnelAdapter, tmp_path: Path
) -> None:
    cadres = [
        {"干部编号": "YLZ-GB-2019-0042", "姓名": "李某某", "决定类型": 1},
        {"干部编号": "YLZ-GB-2020-0101", "姓名": "王某", "决定类型": 1},
        {"干部编号": "YLZ-GB-2020-0102", "姓名": "赵某", "决定类型": 3},
    ]
    draft, _ = adapter.to_messages(_use_with(tmp_path, 处理决定=None, 涉及干部=cadres))
    assert draft["payload"]["decisions"] == [
        {"kind": "admonition", "persons": 2},
        {"kind": "assessment_downgrade", "persons": 1},
    ]


@pytest.mark.parametrize(
    ("changes", "column", "reason"),
    [
        ({"处理决定": [{"决定类型": 1, "人数": 2}]}, "处理决定", "各类决定的人数与“涉及干部”不符"),
        ({"涉及干部": [{"姓名": "李某某", "决定类型": 1}]}, "涉及干部[1].干部编号", "必填"),
        ({"涉及干部": [{"干部编号": "X1", "决定类型": 8}]}, "涉及干部[1].决定类型", "代码无效"),
        ({"处理决定": [{"决定类型": 6, "人数": 1}]}, "处理决定[1].决定类型", "代码无效"),
        ({"运用方式": [1, 9]}, "运用方式[2]", "代码无效"),
        ({"来文单位": "组织人事部门"}, "来文单位", "未配置“组织人事部门”的交换编号"),
        ({"运用情况": None}, "运用情况", "必填"),
        ({"运用日期": "9月18日"}, "运用日期", "日期应写作"),
    ],
)
def test_a_bad_record_is_refused_by_number_and_key(
    adapter: PersonnelAdapter, tmp_path: Path, changes: dict[str, Any], column: str, reason: str
) -> None:
    error = refusal(adapter, _use_with(tmp_path, **changes))
    assert (error.row, error.column) == (1, column)
    assert error.reason.startswith(reason)


def test_a_received_result_becomes_a_cadre_file_entry(adapter: PersonnelAdapter) -> None:
    share = examples.share_example()
    entry = adapter.from_message(share)
    assert entry["档案类别"] == "经济责任审计结果报告"
    assert entry["干部编号"] == "YLZ-GB-2019-0042"
    assert entry["待核对"] == "否"
    assert entry["身份证号（脱敏）"] == "610***********2039"
    assert entry["任职起始"] == "2019年4月1日"
    assert entry["所在单位"] == examples.COMPANY_NAME
    assert entry["审计时机"] == "离任"
    assert entry["审计发现"][0]["涉及金额（万元）"] == "1250.00"
    assert entry["运用方式"] == ["干部考核", "选拔任用", "归入干部档案"]
    assert entry["消息编号"] == share["id"]
    # The full ID number is not kept in the cadre file.
    assert examples.OFFICIAL_ID_NUMBER not in json.dumps(entry, ensure_ascii=False)


def test_without_a_single_roster_match_the_cadre_id_is_left_blank() -> None:
    share = examples.share_example()
    for roster in (
        [],
        [Cadre("A1", "李某某", "610***********9999")],
        [
            Cadre("A1", "李某某", examples.OFFICIAL_ID_NUMBER),
            Cadre("A2", "李某某", "610***********2039"),
        ],
        [Cadre("A1", "李某", examples.OFFICIAL_ID_NUMBER)],
    ):
        entry = make(PersonnelAdapter, roster=roster).from_message(share)
        assert (entry["干部编号"], entry["待核对"]) == ("", "是"), roster
    full = make(PersonnelAdapter, roster=[Cadre("A1", "李某某", examples.OFFICIAL_ID_NUMBER)])
    assert full.from_message(share)["干部编号"] == "A1"
    no_roster = make(PersonnelAdapter)
    assert no_roster.from_message(share)["干部编号"] == ""


def test_a_received_result_without_an_official_is_a_plain_record(
    adapter: PersonnelAdapter,
) -> None:
    bulletin = examples.share_example(
        payload={"share_type": "audit_bulletin", "subject_official": None}
    )
    bulletin["payload"].pop("subject_official")
    bulletin["payload"].pop("audit_timing")
    record = adapter.from_message(bulletin)
    assert "干部编号" not in record
    assert record["成果类型"] == "审计专报/要情"


def test_the_roster_file(tmp_path: Path) -> None:
    roster = read_roster(ROSTER)
    assert roster[0] == Cadre("YLZ-GB-2019-0042", "李某某", "610***********2039")
    bad = tmp_path / "名册.csv"
    bad.write_text("干部编号,姓名,身份证号\n,李某某,\n", encoding="utf-8")
    with pytest.raises(NativeError) as caught:
        read_roster(bad)
    assert (caught.value.row, caught.value.column) == (2, "干部编号")
