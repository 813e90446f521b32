"""The envelope of PROTOCOL.md §2 and the rules that tie it to the payload type."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas import (
    ALL_MESSAGE_TYPES,
    MessageInvalid,
    validate_envelope,
)
from schemas.examples import (
    clue_feedback_example,
    rectification_example,
    referral_example,
    share_example,
)


def errors_of(raw: Any, **kwargs: Any) -> dict[str, list[str]]:
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw, **kwargs)
    return caught.value.errors


@pytest.mark.parametrize("raw", [[], "envelope", 3, None, b"{}"])
def test_envelope_must_be_an_object(raw: Any) -> None:
    assert errors_of(raw) == {"": ["Must be a JSON object."]}


def test_unknown_top_level_field() -> None:
    raw = referral_example()
    raw["signature"] = "x"
    assert errors_of(raw) == {"signature": ["Unknown field."]}


def test_unknown_field_with_an_odd_name_is_reported_at_its_parent() -> None:
    raw = referral_example()
    raw["payload"]["source"]["备注 note"] = "x"
    assert errors_of(raw) == {"payload.source": ["Unknown field."]}


@pytest.mark.parametrize(
    "path",
    [
        "payload.note",
        "payload.audited_unit.address",
        "payload.source.period.days",
        "payload.evidence[1].url",
        "payload.involved_persons[0].phone",
        "payload.contact.email",
    ],
)
def test_unknown_nested_field(path: str, set_at: Any) -> None:
    raw = referral_example()
    set_at(raw, path, "x")
    assert errors_of(raw) == {path: ["Unknown field."]}


@pytest.mark.parametrize(
    "message_id",
    ["short", "a" * 65, "has space in it 123", "ünïcode-0123456789", "dots.are.not.allowed", 123],
)
def test_bad_message_id(message_id: Any) -> None:
    raw = referral_example(id="x" * 16)
    raw["id"] = message_id
    assert list(errors_of(raw)) == ["id"]


@pytest.mark.parametrize(
    "message_id", ["a" * 16, "A-b_c" * 12 + "0123", "01J8Z3M5XW7Q9R2T4V6Y8B0C1D"]
)
def test_good_message_id(message_id: str) -> None:
    validate_envelope(referral_example(id=message_id))


def test_unknown_type() -> None:
    raw = referral_example()
    raw["type"] = "clue.referral.v2"
    assert errors_of(raw) == {"type": ["Unknown message type."]}


def test_type_must_be_a_string() -> None:
    raw = referral_example()
    raw["type"] = ["clue.referral.v1"]
    assert list(errors_of(raw)) == ["type"]


def test_hub_notice_is_not_accepted_from_partners() -> None:
    raw = _notice()
    assert errors_of(raw) == {"type": ["Unknown message type."]}


def test_hub_notice_is_accepted_with_all_types() -> None:
    envelope = validate_envelope(_notice(), types=ALL_MESSAGE_TYPES)
    assert envelope.sender == "hub"
    assert envelope.payload["notice"] == "feedback_overdue"


def test_hub_notice_must_come_from_the_hub() -> None:
    raw = _notice()
    raw["from"] = "inspection.yanliang"
    assert errors_of(raw, types=ALL_MESSAGE_TYPES) == {"from": ["Only the hub sends this type."]}


def test_partner_types_never_come_from_the_hub() -> None:
    raw = referral_example(sender="hub")
    assert errors_of(raw) == {"from": ["Not a partner id."]}


def test_review_rejected_notice_needs_a_reason() -> None:
    raw = _notice(notice="review_rejected")
    assert errors_of(raw, types=ALL_MESSAGE_TYPES) == {
        "payload.reason": ["Required when notice is review_rejected."]
    }
    raw["payload"]["reason"] = "证据材料不完整。"
    validate_envelope(raw, types=ALL_MESSAGE_TYPES)


@pytest.mark.parametrize(
    "sender", ["Audit.yanliang", "audit", "finance.yanliang", "audit.-x", "audit.yan_liang", ""]
)
def test_bad_sender(sender: str) -> None:
    raw = referral_example(sender=sender)
    assert list(errors_of(raw)) == ["from"]


def test_recipients_need_one_to_twenty() -> None:
    assert list(errors_of(referral_example(recipients=[]))) == ["to"]
    many = [f"discipline.d{i}" for i in range(21)]
    assert list(errors_of(referral_example(recipients=many))) == ["to"]
    validate_envelope(referral_example(recipients=many[:20]))


def test_recipients_unique() -> None:
    raw = referral_example(recipients=["discipline.yanliang", "discipline.yanliang"])
    assert errors_of(raw) == {"to": ["Must not contain duplicates."]}


def test_bad_recipient_reported_by_index() -> None:
    raw = referral_example(recipients=["discipline.yanliang", "Discipline.X", "hub"])
    assert errors_of(raw) == {
        "to[1]": ["Not a valid partner id."],
        "to[2]": ["Not a valid partner id."],
    }


def test_recipients_must_be_a_list() -> None:
    raw = referral_example()
    raw["to"] = "discipline.yanliang"
    assert list(errors_of(raw)) == ["to"]


def test_sender_is_not_a_recipient() -> None:
    raw = referral_example(recipients=["discipline.yanliang", "audit.yanliang"])
    assert errors_of(raw) == {"to": ["Must not include the sender."]}


@pytest.mark.parametrize(
    ("sent_at", "expected"),
    [
        ("2025-11-03T10:00:00+08:00", dt.datetime(2025, 11, 3, 2, 0, tzinfo=dt.UTC)),
        ("2025-11-03T02:00:00Z", dt.datetime(2025, 11, 3, 2, 0, tzinfo=dt.UTC)),
        ("2025-11-03t02:00:00z", dt.datetime(2025, 11, 3, 2, 0, tzinfo=dt.UTC)),
        (
            "2025-11-03T02:00:00.123456789-05:30",
            dt.datetime(2025, 11, 3, 7, 30, 0, 123456, tzinfo=dt.UTC),
        ),
    ],
)
def test_good_sent_at(sent_at: str, expected: dt.datetime) -> None:
    envelope = validate_envelope(referral_example(sent_at=sent_at))
    assert envelope.sent_at == expected
    assert envelope.sent_at.utcoffset() is not None


def test_naive_sent_at_is_refused() -> None:
    raw = referral_example(sent_at="2025-11-03T10:00:00")
    assert errors_of(raw) == {
        "sent_at": ["Must include a UTC offset (RFC 3339), e.g. +08:00 or Z."]
    }


@pytest.mark.parametrize(
    "sent_at",
    [
        "2025-11-03",
        "2025-11-03 10:00:00+08:00",
        "2025-13-03T10:00:00+08:00",
        "2025-11-03T25:00:00+08:00",
        "2025-11-03T10:00+08:00",
        "2025-11-03T10:00:00+0800",
        "2025-11-03T10:00:00+24:00",
        "20251103T100000Z",
        1762135200,
    ],
)
def test_bad_sent_at(sent_at: Any) -> None:
    raw = referral_example()
    raw["sent_at"] = sent_at
    assert errors_of(raw) == {"sent_at": ["Not a valid RFC 3339 timestamp."]}


@pytest.mark.parametrize("classification", ["Public", "PUBLIC", "restricted", "", 1])
def test_bad_classification(classification: Any) -> None:
    raw = referral_example()
    raw["classification"] = classification
    assert list(errors_of(raw)) == ["classification"]


@pytest.mark.parametrize("classification", ["public", "internal", "sensitive"])
def test_classifications(classification: str) -> None:
    validate_envelope(referral_example(classification=classification))


def test_subject_at_most_128_characters() -> None:
    raw = referral_example(payload={"referral_id": "K" * 128})
    validate_envelope(raw)
    raw = referral_example(payload={"referral_id": "K" * 129})
    assert set(errors_of(raw)) == {"subject", "payload.referral_id"}


@pytest.mark.parametrize(
    ("builder", "key"),
    [
        (referral_example, "referral_id"),
        (clue_feedback_example, "referral_id"),
        (share_example, "share_id"),
        (rectification_example, "ledger_item_id"),
    ],
)
def test_subject_must_equal_the_business_key(builder: Any, key: str) -> None:
    raw = builder(subject="SOMETHING-ELSE")
    assert errors_of(raw) == {"subject": [f"Must equal payload.{key}."]}


def test_subject_is_optional() -> None:
    validate_envelope(referral_example(subject=None))


def test_in_reply_to_pattern() -> None:
    raw = clue_feedback_example(in_reply_to="not a message id")
    assert errors_of(raw) == {"in_reply_to": ["Not a valid message id."]}


def test_payload_must_be_an_object() -> None:
    raw = referral_example()
    raw["payload"] = ["facts"]
    assert errors_of(raw) == {"payload": ["Must be a JSON object."]}


def test_nested_object_must_be_an_object() -> None:
    raw = referral_example()
    raw["payload"]["audited_unit"] = "某公司"
    assert errors_of(raw) == {"payload.audited_unit": ["Must be a JSON object."]}


def test_envelope_and_payload_errors_are_merged() -> None:
    raw = referral_example(sent_at="2025-11-03T10:00:00")
    raw["extra"] = 1
    raw["payload"]["evidence"][0]["sha256"] = "ABC"
    raw["payload"]["issue_category"] = "bribery"
    assert set(errors_of(raw)) == {
        "sent_at",
        "extra",
        "payload.evidence[0].sha256",
        "payload.issue_category",
    }


def test_message_invalid_names_the_paths() -> None:
    raw = referral_example()
    raw["payload"]["audited_unit"]["uscc"] = "91610114MA6TXQ0L3N"
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    assert caught.value.errors == {"payload.audited_unit.uscc": ["Invalid check character."]}
    assert "payload.audited_unit.uscc" in str(caught.value)


def _notice(notice: str = "feedback_overdue") -> dict[str, Any]:
    raw = rectification_example(sender="audit.yanliang", recipients=["audit.yanliang"])
    raw.update(
        {
            "type": "hub.notice.v1",
            "from": "hub",
            "payload": {"notice": notice, "about": "YL-SJ-YJ-2025-003", "due": "2026-02-03"},
        }
    )
    del raw["subject"]
    return raw
