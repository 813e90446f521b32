"""The OpenAPI document people read: the wire types of the schemas, the envelope and every
message type's payload as components, an example for every field, and the problem types.

Examples come from ``schemas.examples`` (the same documents the tests validate), so what the
page shows a partner is a message the hub accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from apispec import BasePlugin
from flask_smorest import Api
from marshmallow import Schema, fields

from exchange.api.examples import fallback_example
from exchange.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES
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
    """flask-smorest's Api; each operation lists the refusals it can answer, by status, as
    problem documents (no catch-all ``default``, so a client and a fuzzer can tell an
    undocumented status).
    """

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _init_spec(self, **options: Any) -> None:
        options["extra_plugins"] = (*options.get("extra_plugins", ()), RefusalsPlugin())
        super()._init_spec(**options)
        for name, description, headers in REFUSALS.values():
            response: dict[str, Any] = {
                "description": description,
                "content": {
                    PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            }
            if headers:
                response["headers"] = {
                    header: {"description": text, "schema": {"type": "string"}}
                    for header, text in headers.items()
                }
            self.spec.components.response(name, response)


_PROBLEM: Final = {"$ref": "#/components/schemas/Problem"}
_RETRY: Final = {"Retry-After": "Seconds to wait before retrying (RFC 9110 §10.2.3)"}

REFUSALS: Final[dict[str, tuple[str, str, dict[str, str]]]] = {
    "400": ("BadRequest", "invalid-json or bad-request", {}),
    "401": ("Unauthenticated", "The RFC 9421 request signature or its key is refused", {}),
    "403": ("Forbidden", "route-not-allowed: no agreement allows this route", {}),
    "404": ("NotFound", "Nothing by that name for the caller", {}),
    "409": ("Conflict", "duplicate-conflict or invalid-transition", {}),
    "413": ("PayloadTooLarge", "The body is over the size limit (PROTOCOL §8)", {}),
    "414": ("UriTooLong", "The request line is over 8,190 bytes", {}),
    "422": ("Unprocessable", "schema-invalid or signature-invalid, with the fields by path", {}),
    "429": ("RateLimited", "Over the caller's rate limit", _RETRY),
    "431": ("HeadersTooLarge", "Over 100 header fields or a field over 8,190 bytes", {}),
    "503": ("Unavailable", "The store does not answer, or the hub is not set up", _RETRY),
}
"""Status → (component name, description, headers) of the refusals the document lists."""

# Every partner operation: the signature, its limits, the HTTP server's bounds, the store.
_EVERY: Final = ("400", "401", "414", "422", "429", "431", "503")
_WITH_BODY: Final = ("403", "409", "413")

# Answers besides an operation's one success schema.
_ALSO: Final[dict[tuple[str, str], dict[str, Any]]] = {
    ("/v1/messages", "post"): {
        "200": {
            "description": "The identical message was stored before: its receipt again "
            "(PROTOCOL §4)",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Accepted"}}},
        }
    },
}


class RefusalsPlugin(BasePlugin):
    """Documents each operation's refusals by status, replacing flask-smorest's catch-alls."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **_: Any
    ) -> None:
        """Add the refusals an operation of ``path`` can answer (after the marshmallow plugin)."""
        for method, operation in (operations or {}).items():
            responses = operation.setdefault("responses", {})
            for catch_all in ("default", "4XX"):
                responses.pop(catch_all, None)
            statuses = [*_EVERY, *(_WITH_BODY if method == "post" else ())]
            if "{" in (path or "") or (path or "").startswith("/v1/log/proofs"):
                statuses.append("404")
            for status in statuses:
                responses[status] = REFUSALS[status][0]
            responses.update(_ALSO.get((path or "", method), {}))


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
