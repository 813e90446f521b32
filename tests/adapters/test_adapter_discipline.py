"""纪检监察机关's adapter on its case-system exports: numeric codes for stages, dispositions and
outcomes round-trip; bad records are refused by record number and key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from adapters import DisciplineAdapter
from adapters.discipline import DISPOSITION_CODES, OUTCOME_CODES, STAGE_CODES
from schemas import AUTHORITY_DISPOSITIONS, DISPOSITIONS, FEEDBACK_STAGES, OUTCOMES, examples
from tests.adapters.test_adapter_base import SAMPLES, make, problems, refusal, round_trip

DISCIPLINE = SAMPLES / "discipline"
FEEDBACK = DISCIPLINE / "线索处置反馈.json"
OUTCOME = DISCIPLINE / "处分决定.json"


@pytest.fixture
def adapter() -> DisciplineAdapter:
    made: DisciplineAdapter = make(DisciplineAdapter)
    return made


def test_the_code_tables_cover_every_wire_value() -> None:
    assert set(STAGE_CODES.values()) == set(FEEDBACK_STAGES)
    # A competent authority's dispositions are the authority adapter's (Version 1).
    assert set(DISPOSITION_CODES.values()) == set(DISPOSITIONS) - AUTHORITY_DISPOSITIONS
    assert set(OUTCOME_CODES.values()) == set(OUTCOMES)


@pytest.mark.parametrize("sample", [FEEDBACK, OUTCOME], ids=str)
def test_every_sample_round_trips(adapter: DisciplineAdapter, sample: Path) -> None:
    round_trip(adapter, sample)


def test_feedback_codes_become_wire_values(adapter: DisciplineAdapter) -> None:
    found = round_trip(adapter, FEEDBACK)
    stages = [envelope.payload["stage"] for _, envelope, _ in found]
    assert stages == ["accepted", "disposed", "concluded", "transferred", "returned"]
    disposed, concluded = found[1][1], found[2][1]
    assert disposed.payload["disposition"] == "preliminary_verification"
    assert concluded.payload["disposition"] == "filed_investigation"
    assert [o["outcome"] for o in concluded.payload["outcomes"]] == [
        "party_discipline",
        "admonition",
    ]
    assert str(concluded.payload["outcomes"][0]["recovered_amount"]) == "9886000.00"
    assert concluded.payload["occurred_at"].isoformat() == "2025-08-28"
    # A feedback answers the referral message, back to the body that referred it.
    assert concluded.in_reply_to == "01JQ7ZK3M5X9A2B4C6D8E0F1G2"
    assert concluded.recipients == ("audit.yanliang",)
    assert found[4][1].recipients == ("inspection.yanliang",)
    assert found[3][1].classification == "sensitive"
    back = found[2][2]
    assert back["办理阶段"] == 6 and back["处置方式"] == 5
    assert back["办理结果"][0] == {"结果类型": 1, "人数": 1, "追回资金（万元）": "988.60"}
    # The case number stays in the case system.
    assert "YLJW" not in json.dumps([e.payload for _, e, _ in found], default=str)


def test_a_disciplinary_outcome_is_shared_with_personnel(adapter: DisciplineAdapter) -> None:
    ((_, share, back),) = round_trip(adapter, OUTCOME)
    assert share.type == "result.share.v1"
    assert share.recipients == ("personnel.yanliang",)
    assert share.payload["share_type"] == "disciplinary_outcome"
    assert share.payload["intended_use"] == ["personnel_file", "integrity_file", "cadre_assessment"]
    assert share.payload["subject_official"]["id_number"] == examples.OFFICIAL_ID_NUMBER
    assert str(share.payload["findings"][0]["amount"]) == "12500000.00"
    assert back["运用建议"] == [4, 5, 1]


def _feedback_with(tmp_path: Path, number: int, **changes: Any) -> Path:
    records = json.loads(FEEDBACK.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            records[number - 1].pop(key, None)
        else:
            records[number - 1][key] = value
    out = tmp_path / FEEDBACK.name
    out.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return out


@pytest.mark.parametrize(
    ("number", "changes", "column", "reason"),
    [
        (1, {"办理阶段": 9}, "办理阶段", "代码无效（可选：1 已签收、2 已受理、3 退回"),
        (1, {"办理阶段": True}, "办理阶段", "代码无效"),
        (1, {"办理阶段": "受理"}, "办理阶段", "代码无效"),
        (2, {"处置方式": 0}, "处置方式", "代码无效"),
        (1, {"来文消息编号": None}, "来文消息编号", "必填"),
        (1, {"来文消息编号": "短"}, "来文消息编号", "不符合交换规范"),
        (1, {"移送单位": "区审计局"}, "移送单位", "单位无效"),
        (1, {"办理日期": "2025.3.10"}, "办理日期", "日期应写作"),
        (1, {"业务类型": "立案审查"}, "业务类型", "取值无效"),
        (1, {"备注": "无"}, "备注", "不认识的字段"),
        # A disposed stage needs its disposition: the schema's rule, named by the native key.
        (2, {"处置方式": None}, "处置方式", "不符合交换规范"),
        (3, {"办理结果": [{"结果类型": 1, "人数": 1, "追回资金（万元）": "九百万"}]}, None, None),
    ],
)
def test_a_bad_feedback_record_is_refused_by_number_and_key(
    adapter: DisciplineAdapter,
    tmp_path: Path,
    number: int,
    changes: dict[str, Any],
    column: str | None,
    reason: str | None,
) -> None:
    error = refusal(adapter, _feedback_with(tmp_path, number, **changes))
    if column is None:
        assert (error.row, error.column, error.reason) == (
            number,
            "办理结果[1].追回资金（万元）",
            "不是数字",
        )
        return
    assert (error.row, error.column) == (number, column)
    assert error.reason.startswith(reason or "")
    assert str(error).startswith(f"线索处置反馈.json 第{number}条 「{column}」")


def test_bad_records_are_all_reported(adapter: DisciplineAdapter, tmp_path: Path) -> None:
    records = json.loads(FEEDBACK.read_text(encoding="utf-8"))
    records[0]["办理阶段"] = 7
    records[4]["移送单位"] = "组织部"
    records.insert(2, "不是记录")
    bad = tmp_path / "feedback.json"
    bad.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert problems(refusal(adapter, bad)) == {(3, None)}  # the file's shape comes first
    del records[2]
    bad.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    assert problems(refusal(adapter, bad)) == {(1, "办理阶段"), (5, "移送单位")}


def test_a_file_that_is_not_json_is_refused(adapter: DisciplineAdapter, tmp_path: Path) -> None:
    bad = tmp_path / "export.json"
    bad.write_bytes(b"[{")
    assert refusal(adapter, bad).reason == "不是UTF-8编码的JSON"


def test_received_referrals_and_ledger_lines_are_native_records(
    adapter: DisciplineAdapter,
) -> None:
    referral = adapter.from_message(examples.referral_example())
    assert referral["移送编号"] == examples.REFERRAL_ID
    assert referral["问题类别"] == "国有资产重大损失"
    assert referral["涉及人员"][0]["公民身份号码"] == examples.OFFICIAL_ID_NUMBER
    assert referral["涉及金额（万元）"] == "1250.00"
    line = adapter.from_message(examples.rectification_example(status="completed"))
    assert line["整改状态"] == "已完成整改"
    assert line["整改金额（万元）"] == "38.64"
    notice = adapter.from_message(
        {
            "id": "hub-notice-0000000001",
            "type": "hub.notice.v1",
            "from": "hub",
            "to": ["discipline.yanliang"],
            "sent_at": "2025-09-01T01:00:00Z",
            "classification": "internal",
            "payload": {
                "notice": "feedback_overdue",
                "about": "YL-SJ-YJ-2025-003",
                "due": "2025-08-31",
            },
        }
    )
    assert notice["发送单位"] == "交换中心"
    assert notice["通知类型"] == "线索反馈逾期"
    assert notice["时限"] == "2025年8月31日"
    assert notice["发送时间"] == "2025年9月1日 09:00"
