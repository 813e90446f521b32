"""The Version 1 fields (DOMAIN.md, "Version 1 additions"): each accepted when well formed and
refused at its own path otherwise.
"""

from __future__ import annotations

from typing import Any

import pytest

from schemas import MessageInvalid, validate_envelope
from schemas.examples import (
    COMPANY_NAME,
    COMPANY_USCC,
    clue_feedback_example,
    rectification_example,
    share_example,
)

UNIT = {"name": COMPANY_NAME, "uscc": COMPANY_USCC}
PLAN_ITEM = {
    "project": "区交通局2025年度预算执行审计",
    "unit": UNIT,
    "kind": "audit",
    "period": {"from": "2025-03-01", "to": "2025-06-30"},
    "joint": True,
}
FULL_LINE = {
    "status_date": "2025-06-30",
    "source_year": 2025,
    "source_project": "2025年度区本级预算执行审计",
    "problem_category": "财务管理",
    "co_responsible_units": [UNIT],
    "referral_id": "YL-SJ-YJ-2025-003",
    "amounts": [
        {"category": "violation", "amount": "386400.00"},
        {"category": "recovered", "amount": "215000.00"},
    ],
    "supervision": [{"kind": "urge_letter", "date": "2025-05-10", "by": "区审计局"}],
}


def errors_of(raw: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(MessageInvalid) as refused:
        validate_envelope(raw)
    return refused.value.errors


def test_a_line_with_every_new_field_loads_them() -> None:
    loaded = validate_envelope(rectification_example(payload=FULL_LINE)).payload
    assert loaded["status_date"].isoformat() == "2025-06-30"
    assert loaded["source_year"] == 2025
    assert [a["category"] for a in loaded["amounts"]] == ["violation", "recovered"]
    assert str(loaded["amounts"][1]["amount"]) == "215000.00"
    assert loaded["supervision"][0]["kind"] == "urge_letter"
    assert loaded["co_responsible_units"] == [UNIT]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"amounts": [{"category": "bribes", "amount": "1.00"}]}, "payload.amounts[0].category"),
        ({"amounts": [{"category": "recovered"}]}, "payload.amounts[0].amount"),
        ({"amounts": [{"category": "recovered", "amount": 5}]}, "payload.amounts[0].amount"),
        (
            {
                "amounts": [
                    {"category": "recovered", "amount": "1.00"},
                    {"category": "recovered", "amount": "2.00"},
                ]
            },
            "payload.amounts",
        ),
        (
            {"supervision": [{"kind": "phone_call", "date": "2025-05-10"}]},
            "payload.supervision[0].kind",
        ),
        ({"supervision": [{"kind": "interview"}]}, "payload.supervision[0].date"),
        ({"status_date": "2025-02-30"}, "payload.status_date"),
        ({"source_year": 1900}, "payload.source_year"),
        ({"source_year": "2025"}, "payload.source_year"),
        ({"co_responsible_units": [{"name": "某单位"}]}, "payload.co_responsible_units[0].uscc"),
        ({"referral_id": "has space"}, "payload.referral_id"),
    ],
)
def test_a_malformed_new_field_is_refused_at_its_path(change: dict[str, Any], path: str) -> None:
    errors = errors_of(rectification_example(payload=change))
    assert path in errors, errors


def test_an_annual_plan_with_plan_items_may_omit_the_subject_unit() -> None:
    raw = share_example(payload={"share_type": "annual_plan", "plan_items": [PLAN_ITEM]})
    del raw["payload"]["subject_unit"]
    for name in ("subject_official", "audit_timing"):
        del raw["payload"][name]
    loaded = validate_envelope(raw).payload
    assert loaded["plan_items"][0]["joint"] is True
    assert "subject_unit" not in loaded


def test_a_plan_item_without_kind_is_refused() -> None:
    item = {k: v for k, v in PLAN_ITEM.items() if k != "kind"}
    raw = share_example(payload={"share_type": "annual_plan", "plan_items": [item]})
    assert errors_of(raw)["payload.plan_items[0].kind"] == ["Missing data for required field."]


def test_other_shares_still_need_the_subject_unit() -> None:
    raw = share_example(payload={"share_type": "audit_report"})
    del raw["payload"]["subject_unit"]
    assert "payload.subject_unit" in errors_of(raw)
    plan_without_items = share_example(payload={"share_type": "annual_plan"})
    del plan_without_items["payload"]["subject_unit"]
    assert "payload.subject_unit" in errors_of(plan_without_items)


def test_only_an_annual_plan_carries_plan_items() -> None:
    raw = share_example(payload={"plan_items": [PLAN_ITEM]})
    assert "payload.plan_items" in errors_of(raw)


def test_letters_name_the_ledger_items_they_concern() -> None:
    raw = share_example(
        payload={"share_type": "rectify_urge_notice", "ledger_item_ids": ["ZG-1", "ZG-2"]}
    )
    for name in ("subject_official", "audit_timing"):
        del raw["payload"][name]
    assert validate_envelope(raw).payload["ledger_item_ids"] == ["ZG-1", "ZG-2"]
    twice = share_example(payload={"ledger_item_ids": ["ZG-1", "ZG-1"]})
    assert "payload.ledger_item_ids" in errors_of(twice)


def test_a_finding_carries_amounts_by_category() -> None:
    raw = share_example()
    raw["payload"]["findings"][0]["amounts"] = [{"category": "loss_avoided", "amount": "9.50"}]
    assert validate_envelope(raw).payload["findings"][0]["amounts"][0]["category"] == "loss_avoided"
    raw["payload"]["findings"][0]["amounts"] = [{"category": "lost", "amount": "9.50"}]
    assert "payload.findings[0].amounts[0].category" in errors_of(raw)


def test_not_filed_needs_a_reason() -> None:
    raw = clue_feedback_example(stage="disposed", payload={"disposition": "not_filed"})
    raw["payload"].pop("reason", None)
    assert errors_of(raw)["payload.reason"] == ["Required when disposition is not_filed."]
    raw["payload"]["reason"] = "经调查核查，未发现违法违规事实。"
    assert validate_envelope(raw).payload["disposition"] == "not_filed"
