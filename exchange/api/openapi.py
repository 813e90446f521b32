"""The OpenAPI document people read: the wire types of the schemas, the envelope and every
message type's payload as components, an example for every field, and the problem types.

Examples come from ``schemas.examples`` (the same documents the tests validate), so what the
page shows a partner is a message the hub accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from flask_smorest import Api
from marshmallow import Schema, fields

from exchange.api.examples import fallback_example
from exchange.api.problems import PROBLEM_TYPES
from exchange.api.schemas import ProblemSchema
from schemas import ALL_MESSAGE_TYPES, examples
from schemas.envelope import EnvelopeSchema
from schemas.fields import (
    Amount,
    IdNumber,
    IsoDate,
    JsonObject,
    Rfc3339,
    Uscc,
)

# How each wire type of ``schemas.fields`` shows in the document (type, format).
_FIELD_TYPES: Final[tuple[tuple[type[fields.Field[Any]], str, str | None], ...]] = (
    (Amount, "string", "decimal"),
    (IsoDate, "string", "date"),
    (Rfc3339, "string", "date-time"),
    (Uscc, "string", None),
    (IdNumber, "string", None),
    (JsonObject, "object", None),
)

PAYLOAD_EXAMPLES: Final = {
    "clue.referral.v1": examples.referral_example,
    "clue.feedback.v1": examples.clue_feedback_example,
    "result.share.v1": examples.share_example,
    "result.feedback.v1": examples.result_feedback_example,
    "rectification.status.v1": examples.rectification_example,
}


class ExchangeApi(Api):  # type: ignore[misc]  # flask-smorest ships no types
    """flask-smorest's Api, its default error responses documented as problem documents."""

    ERROR_SCHEMA = ProblemSchema


def component_name(message_type: str) -> str:
    """``clue.referral.v1`` → ``ClueReferralV1Payload``."""
    return "".join(part.capitalize() for part in message_type.split(".")) + "Payload"


def describe_messages(api: Api) -> None:
    """Map the schemas' wire types, and add the envelope and each payload (with examples);
    drop flask-smorest's own components the hub does not use (its problems are ``Problem``).
    """
    api.spec.components.schemas.pop("PaginationMetadata", None)
    for field_class, type_, format_ in _FIELD_TYPES:
        api.register_field(field_class, type_, format_)
    envelope = examples.referral_example()
    give_examples(EnvelopeSchema, envelope)
    api.spec.components.schema("Envelope", schema=EnvelopeSchema, component={"example": envelope})
    notice = {"notice": "review_rejected", "about": envelope["id"], "reason": "证据材料不全"}
    for message_type, schema_class in ALL_MESSAGE_TYPES.items():
        make = PAYLOAD_EXAMPLES.get(message_type)
        payload = make()["payload"] if make is not None else notice
        give_examples(schema_class, payload)
        api.spec.components.schema(
            component_name(message_type), schema=schema_class, component={"example": payload}
        )


def give_examples(schema_class: type[Schema], document: Mapping[str, Any] | None) -> None:
    """Set each declared field's ``example`` from ``document``, or by its type (apispec reads
    the class's declared fields; a schema instance holds copies).
    """
    for name, field in schema_class._declared_fields.items():
        value = (document or {}).get(field.data_key or name)
        _give(field, value)


def _nested_class(field: fields.Nested) -> type[Schema]:
    nested = field.nested
    return nested if isinstance(nested, type) else type(field.schema)


def _give(field: fields.Field[Any], value: Any) -> None:
    # A nested schema is a component of its own: its fields carry the examples.
    if isinstance(field, fields.Nested):
        first = value[0] if isinstance(value, list) and value else value
        give_examples(_nested_class(field), first if isinstance(first, Mapping) else None)
        return
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        _give(field.inner, value)
        return
    if "example" in field.metadata:
        return
    if value is None:
        value = fallback_example(field)
    if value is not None:
        field.metadata = {**field.metadata, "example": value}


def problems_table() -> str:
    """The problem types as a Markdown table, for the document's description."""
    rows = [
        f"| `urn:exchange:error:{code}` | {status} | {title} |"
        for code, (status, title) in PROBLEM_TYPES.items()
    ]
    return "\n".join(["| type | status | title |", "|---|---|---|", *rows])
