"""The fifth body's adapter (行政主管部门, DOMAIN.md Version 1 additions) on its sample: each
处理结果反馈 round-trips, its own codes become the authority's dispositions, and it is found
through the entry point like the other four.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters import AuthorityAdapter, adapter_for
from adapters.authority import DISPOSITION_CODES, OUTCOME_CODES, STAGE_CODES
from schemas import AUTHORITY_DISPOSITIONS, FEEDBACK_STAGES, OUTCOMES
from tests.adapters.test_adapter_base import PARTNERS, make, refusal, round_trip

FEEDBACK = Path(__file__).resolve().parents[2] / "adapters/samples/authority/处理结果反馈.json"


@pytest.fixture
def adapter() -> AuthorityAdapter:
    made: AuthorityAdapter = make(AuthorityAdapter)
    return made


def test_the_code_tables_cover_the_authoritys_wire_values() -> None:
    assert set(STAGE_CODES.values()) == set(FEEDBACK_STAGES)
    assert set(DISPOSITION_CODES.values()) == AUTHORITY_DISPOSITIONS
    assert set(OUTCOME_CODES.values()) <= set(OUTCOMES)


def test_the_sample_round_trips_into_the_authoritys_dispositions(
    adapter: AuthorityAdapter,
) -> None:
    found = round_trip(adapter, FEEDBACK)
    payloads = [envelope.payload for _, envelope, _ in found]
    assert [p["stage"] for p in payloads] == ["received", "disposed", "disposed", "concluded"]
    assert [p.get("disposition") for p in payloads] == [
        None,
        "investigation",
        "not_filed",
        "accountability",
    ]
    assert payloads[2]["reason"].startswith("经调查核查")
    concluded = found[3][1]
    assert [(o["outcome"], o["persons"]) for o in concluded.payload["outcomes"]] == [
        ("organizational_handling", 2),
        ("critical_education", 1),
    ]
    assert str(concluded.payload["outcomes"][1]["recovered_amount"]) == "1200000.00"
    assert concluded.payload["occurred_at"].isoformat() == "2025-06-20"
    assert concluded.recipients == ("audit.yanliang",)
    assert concluded.in_reply_to == "01JQ8ZK3M5X9A2B4C6D8E0F1H4"
    back = found[3][2]
    assert back["办理环节"] == 60 and back["处理方式"] == 54
    assert "YLCZ" not in json.dumps([e.payload for _, e, _ in found], default=str)


def test_an_unknown_code_is_refused_by_record_and_key(
    adapter: AuthorityAdapter, tmp_path: Path
) -> None:
    records = json.loads(FEEDBACK.read_text(encoding="utf-8"))
    records[1]["处理方式"] = 2  # a discipline code, not the authority's
    bad = tmp_path / FEEDBACK.name
    bad.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    error = refusal(adapter, bad)
    assert str(error).startswith("处理结果反馈.json 第2条 「处理方式」"), str(error)


def test_the_entry_point_finds_the_authority_adapter() -> None:
    adapter = adapter_for("authority", partner_id=PARTNERS["authority"], partners=PARTNERS)
    assert isinstance(adapter, AuthorityAdapter)
    assert adapter.body == "authority"
    assert "clue.referral.v1" in adapter.receives
