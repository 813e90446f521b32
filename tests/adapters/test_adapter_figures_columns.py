"""The Version 1 columns of both ledger exports (审计 整改台账, 巡察问题清单), field by field: a
filled cell becomes its wire field and comes back unchanged; an empty cell is absent (so the
hub keeps the item's value), never zero or an empty list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters import AuditAdapter, BaseAdapter, InspectionAdapter
from tests.adapters.test_adapter_base import SAMPLES, make, round_trip

NEW_FIELDS = (
    "status_date",
    "source_year",
    "source_project",
    "problem_category",
    "co_responsible_units",
    "referral_id",
    "amounts",
    "supervision",
)
LEDGERS = [
    (AuditAdapter, SAMPLES / "audit/整改台账.csv"),
    (AuditAdapter, SAMPLES / "audit/整改台账.xlsx"),
    (InspectionAdapter, SAMPLES / "inspection/巡察问题清单.csv"),
    (InspectionAdapter, SAMPLES / "inspection/巡察问题清单.xlsx"),
]


def payloads(adapter_class: type[BaseAdapter], path: Path) -> list[tuple[Any, dict[str, Any]]]:
    adapter = make(adapter_class)
    found = round_trip(adapter, path)
    return [(back, env.payload) for _, env, back in found if env.type == "rectification.status.v1"]


@pytest.mark.parametrize(("adapter_class", "path"), LEDGERS, ids=lambda v: getattr(v, "name", ""))
def test_the_first_row_fills_the_new_fields(adapter_class: type[BaseAdapter], path: Path) -> None:
    (back, payload), *_ = payloads(adapter_class, path)
    assert payload["status_date"].isoformat() in ("2025-06-20", "2025-07-01")
    assert payload["source_project"] and payload["problem_category"]
    assert payload["co_responsible_units"] == [
        {"name": "西安市阎良区财政局", "uscc": "11610114MB1570823X"}
    ]
    assert payload["amounts"][-1]["category"] == "recovered"
    assert payload["supervision"][0]["kind"] in ("urge_letter", "interview")
    # And back: the native cells as they were (the round trip above checked every one).
    assert back["状态日期"] in ("2025年6月20日", "2025年7月1日")
    assert "追回(收回)资金" in str(back["按口径金额"])


@pytest.mark.parametrize(("adapter_class", "path"), LEDGERS, ids=lambda v: getattr(v, "name", ""))
def test_an_empty_cell_is_absent(adapter_class: type[BaseAdapter], path: Path) -> None:
    rows = payloads(adapter_class, path)
    blank = [payload for _, payload in rows[1:] if "status_date" not in payload]
    assert blank, "a sample row leaves the new columns empty"
    for payload in blank:
        assert not set(NEW_FIELDS) & set(payload), payload


def test_the_audit_ledger_maps_year_referral_and_each_category() -> None:
    _, second = payloads(AuditAdapter, SAMPLES / "audit/整改台账.csv")[1]
    assert second["source_year"] == 2025
    assert second["referral_id"] == "YL-SJ-YJ-2025-003"
    assert [(a["category"], str(a["amount"])) for a in second["amounts"]] == [
        ("irregular", "50000.00")
    ]
    (_, first), *_ = payloads(AuditAdapter, SAMPLES / "audit/整改台账.csv")
    assert [(a["category"], str(a["amount"])) for a in first["amounts"]] == [
        ("violation", "386400.00"),
        ("recovered", "215000.00"),
    ]
    assert [(s["kind"], s["date"].isoformat(), s["by"]) for s in first["supervision"]] == [
        ("urge_letter", "2025-05-10", "区审计局"),
        ("interview", "2025-06-05", "区审计局"),
    ]
