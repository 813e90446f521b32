"""Conditional requirements of DOMAIN.md, each both ways: required when, optional otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from schemas import (
    FEEDBACK_STAGES,
    RECTIFICATION_CLASSES,
    RECTIFICATION_STATUSES,
    SHARE_TYPES,
    MessageInvalid,
    validate_envelope,
)
from schemas.examples import (
    clue_feedback_example,
    rectification_example,
    referral_example,
    result_feedback_example,
    share_example,
)


def errors_of(raw: dict[str, Any]) -> dict[str, list[str]]:
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    return caught.value.errors


def without(raw: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        raw["payload"].pop(key, None)
    return raw


# --- clue.feedback.v1 ----------------------------------------------------------------

FEEDBACK_RULES = [
    ("disposition", {"disposed"}, "Required when stage is disposed."),
    ("outcomes", {"concluded"}, "Required when stage is concluded."),
    ("reason", {"returned", "transferred"}, "Required when stage is returned or transferred."),
]


@pytest.mark.parametrize(("field", "stages", "message"), FEEDBACK_RULES)
@pytest.mark.parametrize("stage", sorted(FEEDBACK_STAGES))
def test_feedback_requirement_by_stage(
    field: str, stages: set[str], message: str, stage: str
) -> None:
    raw = without(clue_feedback_example(stage=stage), field)
    if stage in stages:
        assert errors_of(raw) == {f"payload.{field}": [message]}
    else:
        validate_envelope(raw)


def test_concluded_with_empty_outcomes_is_refused() -> None:
    raw = clue_feedback_example(stage="concluded", payload={"outcomes": []})
    assert errors_of(raw) == {"payload.outcomes": ["Required when stage is concluded."]}


def test_malformed_disposition_gets_its_own_error_only() -> None:
    raw = clue_feedback_example(stage="disposed", payload={"disposition": "arrest"})
    (message,) = errors_of(raw)["payload.disposition"]
    assert message.startswith("Must be one of:")


def test_bad_stage_does_not_trigger_conditions() -> None:
    raw = clue_feedback_example(stage="accepted", payload={"stage": "lost"})
    assert list(errors_of(raw)) == ["payload.stage"]


@pytest.mark.parametrize(
    "builder", [clue_feedback_example, result_feedback_example], ids=["clue", "result"]
)
def test_feedback_must_answer_a_message(builder: Callable[..., dict[str, Any]]) -> None:
    raw = builder()
    del raw["in_reply_to"]
    assert errors_of(raw) == {"in_reply_to": ["Missing data for required field."]}


@pytest.mark.parametrize("builder", [referral_example, share_example, rectification_example])
def test_other_types_need_not_answer(builder: Callable[..., dict[str, Any]]) -> None:
    raw = builder()
    assert "in_reply_to" not in raw
    validate_envelope(raw)


# --- result.share.v1 -----------------------------------------------------------------


@pytest.mark.parametrize("field", ["subject_official", "audit_timing"])
@pytest.mark.parametrize("share_type", sorted(SHARE_TYPES))
def test_econ_resp_result_requirements(field: str, share_type: str) -> None:
    raw = without(share_example(payload={"share_type": share_type}), field)
    if share_type == "econ_resp_result":
        assert errors_of(raw) == {
            f"payload.{field}": ["Required when share_type is econ_resp_result."]
        }
    else:
        validate_envelope(raw)


@pytest.mark.parametrize("handling", ["decision", "referred", "suggestion", None])
def test_referred_finding_names_its_referral(handling: str | None) -> None:
    raw = share_example()
    finding = raw["payload"]["findings"][0]
    del finding["referral_id"]
    if handling is None:
        del finding["handling"]
    else:
        finding["handling"] = handling
    if handling == "referred":
        assert errors_of(raw) == {
            "payload.findings[0].referral_id": ["Required when handling is referred."]
        }
    else:
        validate_envelope(raw)


# --- rectification.status.v1 --------------------------------------------------------


@pytest.mark.parametrize("rectification_class", sorted(RECTIFICATION_CLASSES))
def test_milestones_required_for_phased(rectification_class: str) -> None:
    raw = without(
        rectification_example(payload={"rectification_class": rectification_class}),
        "milestones",
    )
    if rectification_class == "phased":
        assert errors_of(raw) == {
            "payload.milestones": ["Required when rectification_class is phased."]
        }
    else:
        validate_envelope(raw)


def test_phased_with_empty_milestones_is_refused() -> None:
    raw = rectification_example(payload={"milestones": []})
    assert list(errors_of(raw)) == ["payload.milestones"]


@pytest.mark.parametrize("status", sorted(RECTIFICATION_STATUSES))
def test_evidence_required_when_submitted_or_completed(status: str) -> None:
    raw = without(rectification_example(status=status), "evidence")
    if status in {"submitted", "completed"}:
        assert errors_of(raw) == {
            "payload.evidence": ["Required when status is submitted or completed."]
        }
    else:
        validate_envelope(raw)


@pytest.mark.parametrize("status", sorted(RECTIFICATION_STATUSES))
def test_verification_required_once_verified(status: str) -> None:
    raw = without(rectification_example(status=status), "verification")
    if status in {"completed", "ongoing", "not_rectified", "closed"}:
        assert errors_of(raw) == {
            "payload.verification": [
                "Required when status is completed, ongoing, not_rectified or closed."
            ]
        }
    else:
        validate_envelope(raw)


def test_several_conditions_fail_together() -> None:
    raw = without(rectification_example(status="completed"), "evidence", "verification")
    assert set(errors_of(raw)) == {"payload.evidence", "payload.verification"}


# --- clue.referral.v1 ---------------------------------------------------------------


def test_referral_needs_evidence() -> None:
    raw = without(referral_example(), "evidence")
    assert errors_of(raw) == {"payload.evidence": ["Missing data for required field."]}
    raw = referral_example(payload={"evidence": []})
    assert errors_of(raw) == {"payload.evidence": ["Length must be between 1 and 100."]}
