"""The sample builders produce valid messages, on the routes the agreements allow."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from schemas import (
    ALL_MESSAGE_TYPES,
    FEEDBACK_STAGES,
    MESSAGE_TYPES,
    RECTIFICATION_STATUSES,
    Envelope,
    body_of,
    id_numbers,
    mask_id_number,
    validate_envelope,
)
from schemas.examples import (
    clue_feedback_example,
    new_message_id,
    rectification_example,
    referral_example,
    result_feedback_example,
    share_example,
)
from schemas.registry import _schema

BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "clue.referral.v1": referral_example,
    "clue.feedback.v1": clue_feedback_example,
    "result.share.v1": share_example,
    "result.feedback.v1": result_feedback_example,
    "rectification.status.v1": rectification_example,
}

ROUTES = {
    "clue.referral.v1": ("audit", {"discipline"}),
    "clue.feedback.v1": ("discipline", {"audit"}),
    "result.share.v1": ("audit", {"personnel"}),
    "result.feedback.v1": ("personnel", {"audit"}),
    "rectification.status.v1": ("audit", {"discipline", "inspection", "personnel"}),
}


def test_one_builder_per_partner_type() -> None:
    assert set(BUILDERS) == set(MESSAGE_TYPES)


@pytest.mark.parametrize("message_type", sorted(BUILDERS))
def test_example_validates(message_type: str) -> None:
    raw = BUILDERS[message_type]()
    envelope = validate_envelope(raw)
    assert isinstance(envelope, Envelope)
    assert envelope.type == message_type
    assert envelope.id == raw["id"]
    assert envelope.sender == raw["from"]
    assert envelope.recipients == tuple(raw["to"])
    assert envelope.sent_at.tzinfo is not None
    assert envelope.classification == "internal"
    assert envelope.subject == raw["subject"]
    assert envelope.payload.keys() == raw["payload"].keys()


@pytest.mark.parametrize("message_type", sorted(BUILDERS))
def test_example_follows_its_route(message_type: str) -> None:
    raw = BUILDERS[message_type]()
    sender_body, recipient_bodies = ROUTES[message_type]
    assert body_of(raw["from"]) == sender_body
    assert {body_of(partner) for partner in raw["to"]} == recipient_bodies


@pytest.mark.parametrize("message_type", sorted(BUILDERS))
def test_example_is_fresh_each_time(message_type: str) -> None:
    first, second = BUILDERS[message_type](), BUILDERS[message_type]()
    assert first["id"] != second["id"]
    first["payload"]["touched"] = True
    assert "touched" not in BUILDERS[message_type]()["payload"]


@pytest.mark.parametrize("message_type", sorted(BUILDERS))
def test_example_overrides(message_type: str) -> None:
    raw = BUILDERS[message_type](
        id="fixed-id-0000000001",
        sender="inspection.lintong",
        recipients=["personnel.lintong", "discipline.lintong"],
        sent_at="2025-03-04T09:30:00+08:00",
        classification="sensitive",
        subject=None,
    )
    assert raw["id"] == "fixed-id-0000000001"
    assert raw["from"] == "inspection.lintong"
    assert raw["to"] == ["personnel.lintong", "discipline.lintong"]
    assert raw["sent_at"] == "2025-03-04T09:30:00+08:00"
    assert "subject" not in raw
    envelope = validate_envelope(raw)
    assert envelope.sent_at == dt.datetime(
        2025, 3, 4, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8))
    )
    assert envelope.classification == "sensitive"


def test_payload_override_merges_and_subject_follows_the_key() -> None:
    raw = referral_example(payload={"referral_id": "YL-SJ-YJ-2025-004", "complex": True})
    assert raw["subject"] == "YL-SJ-YJ-2025-004"
    assert raw["payload"]["complex"] is True
    assert raw["payload"]["facts"]
    validate_envelope(raw)


def test_referral_feedback_due_is_three_months_after_sending() -> None:
    raw = referral_example(sent_at="2025-11-30T10:00:00+08:00")
    assert raw["payload"]["feedback_due"] == "2026-02-28"


@pytest.mark.parametrize("stage", sorted(FEEDBACK_STAGES))
def test_clue_feedback_at_every_stage_validates(stage: str) -> None:
    envelope = validate_envelope(clue_feedback_example(stage=stage))
    assert envelope.payload["stage"] == stage


@pytest.mark.parametrize("status", sorted(RECTIFICATION_STATUSES))
def test_rectification_at_every_status_validates(status: str) -> None:
    envelope = validate_envelope(rectification_example(status=status))
    assert envelope.payload["status"] == status


def test_feedback_answers_the_given_referral() -> None:
    referral = referral_example(payload={"referral_id": "LT-XC-2025-9"}, sender="audit.lintong")
    feedback = clue_feedback_example(referral=referral)
    assert feedback["in_reply_to"] == referral["id"]
    assert feedback["from"] == referral["to"][0]
    assert feedback["to"] == [referral["from"]]
    assert feedback["payload"]["referral_id"] == "LT-XC-2025-9"
    assert feedback["subject"] == "LT-XC-2025-9"
    validate_envelope(feedback)


def test_result_feedback_answers_the_given_share() -> None:
    share = share_example(recipients=["discipline.yanliang"])
    feedback = result_feedback_example(share=share)
    assert feedback["in_reply_to"] == share["id"]
    assert (feedback["from"], feedback["to"]) == ("discipline.yanliang", [share["from"]])
    validate_envelope(feedback)


def test_loaded_payload_uses_python_types() -> None:
    envelope = validate_envelope(referral_example())
    assert envelope.payload["amount_involved"] == Decimal("12500000.00")
    assert isinstance(envelope.payload["feedback_due"], dt.date)
    assert envelope.payload["source"]["period"]["from"] == dt.date(2021, 1, 1)


@pytest.mark.parametrize("message_type", sorted(BUILDERS))
def test_dumping_a_loaded_payload_gives_back_the_wire_payload(message_type: str) -> None:
    raw = BUILDERS[message_type]()
    envelope = validate_envelope(raw)
    schema = _schema(ALL_MESSAGE_TYPES[message_type])
    assert schema.dump(envelope.payload) == raw["payload"]


def test_id_numbers_of_a_referral() -> None:
    envelope = validate_envelope(referral_example())
    assert id_numbers(envelope) == [
        ("payload.involved_persons[0].id_number", "610114197203152039"),
        ("payload.involved_persons[1].id_number", "610114198008244012"),
    ]


def test_id_numbers_of_a_share() -> None:
    envelope = validate_envelope(share_example())
    assert id_numbers(envelope) == [("payload.subject_official.id_number", "610114197203152039")]


def test_id_numbers_skips_persons_without_one() -> None:
    raw = referral_example()
    del raw["payload"]["involved_persons"][0]["id_number"]
    assert [path for path, _ in id_numbers(validate_envelope(raw))] == [
        "payload.involved_persons[1].id_number"
    ]


@pytest.mark.parametrize(
    "builder", [clue_feedback_example, result_feedback_example, rectification_example]
)
def test_id_numbers_of_types_without_any(builder: Callable[..., dict[str, Any]]) -> None:
    assert id_numbers(validate_envelope(builder())) == []


def test_mask_id_number() -> None:
    assert mask_id_number("110105199001011234") == "110***********1234"
    assert mask_id_number("11010519491231002X") == "110***********002X"
    with pytest.raises(ValueError):
        mask_id_number("1101051990010112")


def test_new_message_ids_match_the_protocol() -> None:
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(16 <= len(value) <= 64 for value in ids)
