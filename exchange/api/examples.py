"""Examples for the OpenAPI document: of the API's own fields by name, and of any wire type
the example documents leave out.
"""

from __future__ import annotations

from typing import Any, Final

from marshmallow import Schema, fields

from schemas import examples
from schemas.fields import (
    Amount,
    BusinessKey,
    Choice,
    Count,
    Flag,
    IdNumber,
    IsoDate,
    JsonObject,
    MessageId,
    PartnerId,
    Rfc3339,
    Sha256,
    Text,
    Uscc,
)

# An example for a field the example documents leave out, by its wire type.
_FALLBACK: Final[tuple[tuple[type[fields.Field[Any]], Any], ...]] = (
    (Amount, "120000.00"),
    (IsoDate, "2026-06-30"),
    (Rfc3339, "2026-06-30T10:00:00+08:00"),
    (Uscc, examples.COMPANY_USCC),
    (IdNumber, examples.OFFICIAL_ID_NUMBER),
    (Count, 1),
    (Flag, False),
    (Sha256, "fd41baef09e5bbccc6845dedf567df2aa63843cbf22bf05f22f211c5ccadd2f4"),
    (PartnerId, examples.DISCIPLINE),
    (MessageId, "01JDZ3F4K8Q2W7X9Y5M1N6P0RT"),
    (BusinessKey, examples.REFERRAL_ID),
    (JsonObject, {}),
    (Text, "说明 text"),
)


def fallback_example(field: fields.Field[Any]) -> Any:
    """An example of a field's wire type (None when there is none to give)."""
    if isinstance(field, Choice):
        return next(iter(field.labels))
    if isinstance(field, fields.List):
        inner = fallback_example(field.inner)
        return [] if inner is None else [inner]
    for field_class, example in _FALLBACK:
        if isinstance(field, field_class):
            return example
    if isinstance(field, fields.Integer):
        return 1
    if isinstance(field, fields.Boolean):
        return False
    if isinstance(field, fields.String):
        return "text"
    return None


_HEX: Final = "9b2f6c1d0e8a4b7f3c5d2e1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c"
_JWS: Final = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiaHViIzIwMjYtMTEiLCJ0eXAiOiJleGNoYW5nZS1yZWNlaXB0K2p3cyJ9"
    ".eyJpZCI6Ii4uLiJ9.c2lnbmF0dXJl"
)
_AT: Final = "2026-06-30T02:00:00Z"

API_EXAMPLES: Final[dict[str, Any]] = {
    "ack": _JWS,
    "acked": False,
    "acked_at": _AT,
    "after": "1041",
    "amount_involved": "386400.00",
    "amount_rectified": "215000.00",
    "as_of": "2026-06-30",
    "at": _AT,
    "attempts": 1,
    "body": "audit",
    "checkpoint": _JWS,
    "concluded_at": _AT,
    "cursor": "1041",
    "days_to_first_feedback": 12.5,
    "deadline": "2026-09-30",
    "delivered_at": _AT,
    "delivered_via": "pull",
    "detail": "A state-secret marker was found at payload.facts.",
    "disposition": "preliminary_verification",
    "envelope_jcs": '{"classification":"internal",…}',
    "feedback_due": "2026-09-30",
    "first": 1000,
    "first_feedback_at": _AT,
    "first_reported_at": _AT,
    "format": "exchange-evidence/1",
    "from_": "2026-01-01",
    "from_state": "accepted",
    "id": "01JDZ3F4K8Q2W7X9Y5M1N6P0RT",
    "index": 1041,
    "issue_category": "finance_discipline",
    "issued_at": _AT,
    "kid": "audit.yanliang#2026-11",
    "last_attempt_at": _AT,
    "last_duration_ms": 84,
    "last_error": "HTTP 503",
    "last_message_id": "01JDZ3F4K8Q2W7X9Y5M1N6P0RT",
    "leaf_hash": _HEX,
    "ledger_item_id": "YL-SJ-ZG-2025-014",
    "limit": 100,
    "log_index": 1041,
    "message_id": "01JDZ3F4K8Q2W7X9Y5M1N6P0RT",
    "milestone_due": "2026-07-31",
    "name": "燕良区审计局",
    "next": "1141",
    "next_attempt_at": _AT,
    "not_after": None,
    "not_before": _AT,
    "origin": "joint-supervision-exchange",
    "overdue": False,
    "owner": "audit.yanliang",
    "page": 1,
    "page_size": 50,
    "party": "discipline.yanliang",
    "persons_handled": 2,
    "persons_held_accountable": 1,
    "receipt": _JWS,
    "recipient": "discipline.yanliang",
    "recovered_amount": "120000.00",
    "rectification_class": "phased",
    "referral_id": "YL-SJ-YJ-2025-003",
    "released_at": _AT,
    "reported_at": _AT,
    "revoked_at": None,
    "root_hash": _HEX,
    "rules_made": 1,
    "second": 2000,
    "sender": "audit.yanliang",
    "sent_at": _AT,
    "signature": _JWS,
    "source": "econ_resp_audit",
    "source_doc_number": "阎审经责报〔2025〕2号",
    "state": "accepted",
    "status": "released",
    "title": "Message does not match its schema",
    "to": "2026-06-30",
    "to_state": "disposed",
    "total": 1,
    "tree_size": 2000,
    "type": "clue.referral.v1",
    "unacked": False,
    "unit": "91610114MA6TXQ0L3M",
}
"""Examples of the API's own fields, by name (a problem's ``status`` is the HTTP status)."""


def submission_example() -> dict[str, Any]:
    """A request body of ``POST /v1/messages``: an envelope and its detached JWS."""
    return {"envelope": examples.rectification_example(), "signature": _DETACHED_JWS}


_DETACHED_JWS: Final = (
    "eyJhbGciOiJFZDI1NTE5Iiwia2lkIjoiYXVkaXQueWFubGlhbmcjMjAyNi0xMSIsInR5cCI6ImV4Y2hhbmdlLW1lc3NhZ2UrandzIn0"
    "..bWVzc2FnZS1zaWduYXR1cmU"
)


def acks_example() -> dict[str, Any]:
    """A request body of ``POST /v1/inbox/acks``."""
    return {"acks": [{"id": "01JDZ3F4K8Q2W7X9Y5M1N6P0RT", "ack": _JWS}]}


def give_api_examples(schema_classes: list[type[Schema]]) -> None:
    """Give every field of the API's schemas its example by name, or by its type."""
    for schema_class in schema_classes:
        for name, field in schema_class._declared_fields.items():
            if "example" in field.metadata or isinstance(field, fields.Nested):
                continue
            if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
                continue
            if name in API_EXAMPLES:
                example = API_EXAMPLES[name]
                if name == "status" and isinstance(field, fields.Integer):
                    example = 422
                field.metadata = {**field.metadata, "example": example}
            else:
                fallback = fallback_example(field)
                field.metadata = {**field.metadata, "example": {} if fallback is None else fallback}
