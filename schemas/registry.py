"""Message type → payload schema, and `validate_envelope`, the one entry point of the hub."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from marshmallow import Schema, ValidationError, fields

from schemas.classified import check_classified
from schemas.clue import ClueFeedbackSchema, ReferralSchema
from schemas.common import PayloadSchema
from schemas.envelope import EnvelopeSchema
from schemas.errors import MessageInvalid
from schemas.fields import IdNumber
from schemas.identity import HUB_PARTNER_ID
from schemas.notice import NoticeSchema
from schemas.paths import child_path, flatten_errors
from schemas.rectification import RectificationSchema
from schemas.result import ResultFeedbackSchema, ShareSchema

MESSAGE_TYPES: Final[dict[str, type[Schema]]] = {
    schema.message_type: schema
    for schema in (
        ReferralSchema,
        ClueFeedbackSchema,
        ShareSchema,
        ResultFeedbackSchema,
        RectificationSchema,
    )
}
"""The types partners send, each with its payload schema."""

HUB_MESSAGE_TYPES: Final[dict[str, type[Schema]]] = {NoticeSchema.message_type: NoticeSchema}
"""The types only the hub sends (`from: "hub"`)."""

ALL_MESSAGE_TYPES: Final[dict[str, type[Schema]]] = {**MESSAGE_TYPES, **HUB_MESSAGE_TYPES}
"""Every type a partner may find in its inbox."""


@dataclass(frozen=True)
class Envelope:
    """A validated envelope: the wire fields by their domain names, the payload loaded.

    Loaded payload values are Python types: amounts `Decimal`, dates `datetime.date`.
    """

    id: str
    type: str
    sender: str
    recipients: tuple[str, ...]
    sent_at: dt.datetime
    classification: str
    subject: str | None
    in_reply_to: str | None
    payload: dict[str, Any]


_ENVELOPE_SCHEMA: Final = EnvelopeSchema()
_schemas: dict[type[Schema], Schema] = {}


def _schema(schema_class: type[Schema]) -> Schema:
    # Schemas are immutable once built and cost a lot to build: one instance per class.
    if schema_class not in _schemas:
        _schemas[schema_class] = schema_class()
    return _schemas[schema_class]


def validate_envelope(raw: Any, *, types: Mapping[str, type[Schema]] = MESSAGE_TYPES) -> Envelope:
    """Validate a parsed message; return it loaded, or raise ClassifiedContent or MessageInvalid.

    Markers are sought first, in the raw input; `types=ALL_MESSAGE_TYPES` admits hub notices.
    """
    if not isinstance(raw, Mapping):
        raise MessageInvalid({"": ["Must be a JSON object."]})
    check_classified(raw)

    errors: dict[str, list[str]] = {}
    try:
        envelope: dict[str, Any] = _ENVELOPE_SCHEMA.load(raw)
    except ValidationError as error:
        flatten_errors(error.messages, "", errors)
        envelope = error.valid_data if isinstance(error.valid_data, dict) else {}

    message_type = envelope.get("type")
    schema_class = types.get(message_type) if isinstance(message_type, str) else None
    if message_type is not None and schema_class is None:
        errors.setdefault("type", []).append("Unknown message type.")

    payload: dict[str, Any] = {}
    if schema_class is not None and "payload" in envelope:
        try:
            payload = _schema(schema_class).load(envelope["payload"])
        except ValidationError as error:
            flatten_errors(error.messages, "payload", errors)
            payload = error.valid_data if isinstance(error.valid_data, dict) else {}
        _check_envelope_rules(schema_class, envelope, payload, errors)

    if errors:
        raise MessageInvalid(errors)
    return Envelope(
        id=envelope["id"],
        type=envelope["type"],
        sender=envelope["sender"],
        recipients=tuple(envelope["recipients"]),
        sent_at=envelope["sent_at"],
        classification=envelope["classification"],
        subject=envelope.get("subject"),
        in_reply_to=envelope.get("in_reply_to"),
        payload=payload,
    )


def _check_envelope_rules(
    schema_class: type[Schema],
    envelope: Mapping[str, Any],
    payload: Mapping[str, Any],
    errors: dict[str, list[str]],
) -> None:
    """The rules that tie the envelope to the payload type (DOMAIN.md)."""
    if not issubclass(schema_class, PayloadSchema):
        return
    sender = envelope.get("sender")
    hub_type = schema_class.message_type in HUB_MESSAGE_TYPES
    if sender is not None and hub_type != (sender == HUB_PARTNER_ID):
        message = "Only the hub sends this type." if hub_type else "Not a partner id."
        errors.setdefault("from", []).append(message)
    if schema_class.replies and "in_reply_to" not in envelope and "in_reply_to" not in errors:
        errors.setdefault("in_reply_to", []).append("Missing data for required field.")
    key = schema_class.business_key
    subject = envelope.get("subject")
    if key is not None and subject is not None and key in payload and payload[key] != subject:
        errors.setdefault("subject", []).append(f"Must equal payload.{key}.")


def id_numbers(envelope: Envelope) -> list[tuple[str, str]]:
    """Every citizen ID number in the payload as (JSON path, number), in document order.

    The hub stores each one masked (`mask_id_number`) plus a keyed hash, never in full.
    """
    schema_class = ALL_MESSAGE_TYPES.get(envelope.type)
    if schema_class is None or not _has_id_numbers(_schema(schema_class)):
        return []
    return list(_find_id_numbers(_schema(schema_class), envelope.payload, "payload"))


_ID_NUMBER_SCHEMAS: dict[type[Schema], bool] = {}


def _has_id_numbers(schema: Schema) -> bool:
    """Whether a schema has an IdNumber field at any depth (remembered per schema class)."""
    if type(schema) not in _ID_NUMBER_SCHEMAS:
        _ID_NUMBER_SCHEMAS[type(schema)] = any(
            _field_has_id_numbers(field) for field in schema.fields.values()
        )
    return _ID_NUMBER_SCHEMAS[type(schema)]


def _field_has_id_numbers(field: fields.Field[Any]) -> bool:
    if isinstance(field, IdNumber):
        return True
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        return _has_id_numbers(field.schema)
    if isinstance(field, fields.List):
        return _field_has_id_numbers(field.inner)
    return False


def _find_id_numbers(
    schema: Schema, data: Mapping[str, Any], path: str
) -> Iterator[tuple[str, str]]:
    for name, field in schema.fields.items():
        value = data.get(field.attribute or name)
        if value is None:
            continue
        field_path = child_path(path, field.data_key or name)
        yield from _field_id_numbers(field, value, field_path)


def _field_id_numbers(field: fields.Field[Any], value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(field, IdNumber) and isinstance(value, str):
        yield path, value
    elif isinstance(field, fields.Nested) and isinstance(value, Mapping):
        nested = field.schema
        yield from _find_id_numbers(nested, value, path)
    elif isinstance(field, fields.List) and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _field_id_numbers(field.inner, item, child_path(path, index))
