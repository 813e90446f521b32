"""State-secret markers are refused first, with the path only (PROTOCOL.md §2)."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import (
    ClassifiedContent,
    MessageInvalid,
    SchemaError,
    contains_marker,
    find_classified,
    validate_envelope,
)
from schemas.examples import referral_example, share_example


def refused_at(raw: Any) -> ClassifiedContent:
    with pytest.raises(ClassifiedContent) as caught:
        validate_envelope(raw)
    return caught.value


@pytest.mark.parametrize(
    "classification",
    [
        "secret",
        "Secret",
        "CONFIDENTIAL",
        "top-secret",
        "Top Secret",
        "TOP_SECRET",
        " secret ",
        "秘密",
        "机密",
        "绝密",
        "机密★10年",
        "內部（機密）",
    ],
)
def test_classified_levels(classification: str) -> None:
    raw = referral_example()
    raw["classification"] = classification
    error = refused_at(raw)
    assert error.path == "classification"


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("subject", "机密-2025-3"),
        ("payload.facts", "经查，该文件属于绝密级材料。"),
        ("payload.auditor_opinion", "该事项涉及秘密"),
        ("payload.legal_basis[2]", "《保守国家机密规定》"),
        ("payload.involved_persons[1].position", "机要秘密文件管理员"),
        ("payload.source.period.from", "秘密"),
        ("payload.evidence[1].name", "绝密文件.pdf"),
        ("payload.contact.name", "机 密"),
        ("payload.audited_unit.name", "機密单位"),
        ("payload.facts", "分隔\u200b的绝\u200b密"),
    ],
)
def test_markers_in_text(path: str, text: str, set_at: Any) -> None:
    raw = referral_example()
    set_at(raw, path, text)
    error = refused_at(raw)
    assert error.path == path
    assert text not in str(error)
    assert text not in repr(error.args)


def test_marker_in_a_key_is_reported_at_the_object_holding_it() -> None:
    raw = referral_example()
    raw["payload"]["source"]["绝密附注"] = "x"
    assert refused_at(raw).path == "payload.source"


def test_marker_in_a_top_level_key() -> None:
    raw = referral_example()
    raw["机密"] = 1
    assert refused_at(raw).path == ""


def test_marker_in_an_unknown_field_beats_the_unknown_field_error() -> None:
    raw = referral_example()
    raw["payload"]["remark"] = "秘密"
    assert refused_at(raw).path == "payload.remark"


def test_marker_in_a_non_string_classification_is_found() -> None:
    raw = referral_example()
    raw["classification"] = ["绝密"]
    assert refused_at(raw).path == "classification[0]"


def test_classified_check_runs_before_schema_validation() -> None:
    raw = {"classification": "top-secret", "nonsense": True}
    assert refused_at(raw).path == "classification"


def test_markers_deep_in_nested_lists() -> None:
    raw = share_example()
    raw["payload"]["findings"][1]["description"] = "涉及机密"
    assert refused_at(raw).path == "payload.findings[1].description"


def test_deeply_nested_input_does_not_exhaust_the_stack() -> None:
    deep: Any = "绝密"
    for _ in range(5_000):
        deep = [deep]
    raw = referral_example()
    raw["payload"]["facts"] = deep
    assert refused_at(raw).path.startswith("payload.facts[0][0]")


def test_unmarked_message_passes_and_marker_free_lookalikes_are_fine() -> None:
    raw = referral_example()
    raw["payload"]["facts"] = "密切关注资金秘书处机要室绝对"
    validate_envelope(raw)
    assert find_classified(raw) is None


def test_contains_marker() -> None:
    assert contains_marker("含有秘密")
    assert not contains_marker("secret")
    assert not contains_marker("密秘")


def test_errors_share_one_base() -> None:
    assert issubclass(ClassifiedContent, SchemaError)
    assert issubclass(MessageInvalid, SchemaError)
