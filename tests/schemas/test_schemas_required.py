"""Every required field, of the envelope and of every payload, missing → an error at its path."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from marshmallow import Schema, fields

from schemas import ALL_MESSAGE_TYPES, EnvelopeSchema, MessageInvalid, validate_envelope
from schemas.examples import (
    clue_feedback_example,
    rectification_example,
    referral_example,
    result_feedback_example,
    share_example,
)

MISSING = "Missing data for required field."

# The fullest sample of each type, so that every nested object and list item is present.
SAMPLES: dict[str, Callable[[], dict[str, Any]]] = {
    "clue.referral.v1": referral_example,
    "clue.feedback.v1": lambda: clue_feedback_example(stage="concluded"),
    "result.share.v1": share_example,
    "result.feedback.v1": result_feedback_example,
    "rectification.status.v1": lambda: rectification_example(status="completed"),
}

ENVELOPE_REQUIRED = ["id", "type", "from", "to", "sent_at", "classification", "payload"]

PAYLOAD_REQUIRED: dict[str, list[str]] = {
    "clue.referral.v1": [
        "referral_id",
        "source",
        "source.kind",
        "source.name",
        "source.period.from",
        "source.period.to",
        "audited_unit",
        "audited_unit.name",
        "audited_unit.uscc",
        "involved_persons[0].name",
        "issue_category",
        "facts",
        "legal_basis",
        "evidence",
        "evidence[0].name",
        "evidence[0].media_type",
        "evidence[0].size",
        "evidence[0].sha256",
        "feedback_due",
        "contact.name",
        "contact.phone",
    ],
    "clue.feedback.v1": ["referral_id", "stage", "outcomes[0].outcome"],
    "result.share.v1": [
        "share_id",
        "share_type",
        # subject_unit is required but for an annual_plan with plan_items (Version 1): its own
        # test is in test_schemas_figures.py.
        "subject_unit.name",
        "subject_unit.uscc",
        "subject_official.name",
        "subject_official.position",
        "findings[0].description",
        "intended_use",
        "attachments[0].name",
        "attachments[0].media_type",
        "attachments[0].size",
        "attachments[0].sha256",
    ],
    "result.feedback.v1": ["share_id", "actions", "decisions[0].kind"],
    "rectification.status.v1": [
        "ledger_item_id",
        "source",
        "source_doc_number",
        "responsible_unit",
        "responsible_unit.name",
        "responsible_unit.uscc",
        "first_responsible.name",
        "problem_description",
        "rectification_class",
        "deadline",
        "milestones[0].stage",
        "milestones[0].due",
        "status",
        "evidence[0].name",
        "evidence[0].media_type",
        "evidence[0].size",
        "evidence[0].sha256",
        "verification.by",
        "verification.at",
    ],
}

REPLIES = {"clue.feedback.v1", "result.feedback.v1"}

CASES = [
    pytest.param(message_type, path, id=f"{message_type}:{path}")
    for message_type in sorted(SAMPLES)
    for path in [
        *ENVELOPE_REQUIRED,
        *(["in_reply_to"] if message_type in REPLIES else []),
        *(f"payload.{path}" for path in PAYLOAD_REQUIRED[message_type]),
    ]
]


def _required_paths(schema: Schema, data: Any, path: str) -> Iterator[str]:
    """Every required field the schema declares, at every place the sample fills."""
    for name, field in schema.fields.items():
        key = field.data_key or name
        here = f"{path}.{key}" if path else key
        if field.required:
            yield here
        value = data.get(key) if isinstance(data, dict) else None
        if isinstance(field, fields.Nested) and isinstance(value, dict):
            yield from _required_paths(field.schema, value, here)
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested) and value:
            yield from _required_paths(field.inner.schema, value[0], f"{here}[0]")


def test_the_table_lists_every_required_field_the_schemas_declare() -> None:
    assert list(_required_paths(EnvelopeSchema(), {}, "")) == ENVELOPE_REQUIRED
    for message_type, sample in SAMPLES.items():
        schema = ALL_MESSAGE_TYPES[message_type]()
        declared = list(_required_paths(schema, sample()["payload"], ""))
        assert declared == PAYLOAD_REQUIRED[message_type], message_type


@pytest.mark.parametrize(("message_type", "path"), CASES)
def test_missing_required_field(
    message_type: str, path: str, delete_at: Callable[[Any, str], None]
) -> None:
    raw = SAMPLES[message_type]()
    delete_at(raw, path)
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    assert MISSING in caught.value.errors.get(path, []), caught.value.errors


@pytest.mark.parametrize(("message_type", "path"), CASES)
def test_null_is_not_a_value_for_a_required_field(
    message_type: str, path: str, set_at: Callable[[Any, str, Any], None]
) -> None:
    raw = SAMPLES[message_type]()
    set_at(raw, path, None)
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    assert path in caught.value.errors, caught.value.errors


def test_a_missing_field_is_the_only_error() -> None:
    raw = referral_example()
    del raw["payload"]["audited_unit"]["uscc"]
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    assert caught.value.errors == {"payload.audited_unit.uscc": [MISSING]}


def test_optional_fields_may_be_left_out() -> None:
    raw = referral_example()
    for optional in (
        "doc_number",
        "involved_persons",
        "qualification",
        "amount_involved",
        "auditor_opinion",
        "complex",
        "contact",
    ):
        del raw["payload"][optional]
    del raw["subject"]
    validate_envelope(raw)


def test_required_lists_must_not_be_empty() -> None:
    raw = referral_example()
    raw["payload"]["evidence"] = []
    raw["payload"]["legal_basis"] = []
    with pytest.raises(MessageInvalid) as caught:
        validate_envelope(raw)
    assert set(caught.value.errors) == {"payload.evidence", "payload.legal_basis"}
