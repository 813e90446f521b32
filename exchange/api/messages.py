"""Submit and read messages: ``POST /v1/messages``, ``:batch``, ``GET /v1/messages/{id}``."""

from __future__ import annotations

import json
import time
from datetime import datetime
from typing import Any

from flask import g, request
from flask_smorest import Blueprint
from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.api.auth import authenticate_partner
from exchange.api.examples import submission_example
from exchange.api.problems import problem_document
from exchange.api.schemas import (
    AcceptedSchema,
    BatchResultSchema,
    BatchSchema,
    EvidenceSchema,
    MessageViewSchema,
    ProblemSchema,
    SubmissionSchema,
)
from exchange.errors import ExchangeError, InvalidJson, NotFound, PayloadTooLarge, SchemaInvalid
from exchange.hub import current_hub
from exchange.metrics import count_refusal, count_submission, observe_intake
from exchange.store.models import Delivery, LogEntry, Message
from exchange.transparency.evidence import export_evidence
from exchange.transparency.log import format_time
from exchange.trust.envelopes import open_envelope
from exchange.trust.hub_keys import HubTrust
from schemas import JsonInvalid, parse_json

blp = Blueprint("messages", __name__, url_prefix="/v1", description="Submit and read messages")
blp.before_request(authenticate_partner)

_ERRORS = {"content": {"application/problem+json": {"schema": ProblemSchema}}}


def json_body(limit: int) -> Any:
    """The request body parsed as JSON, after the size check (the signature is already verified)."""
    body = request.get_data(cache=True)
    if len(body) > limit:
        raise PayloadTooLarge(f"The body may not exceed {limit} bytes.")
    try:
        return parse_json(body)
    except JsonInvalid as invalid:
        errors = None if invalid.path is None else {invalid.path: [invalid.reason]}
        raise InvalidJson(invalid.reason, errors=errors) from None


@blp.route("/messages", methods=["POST"])
@blp.doc(
    requestBody={
        "content": {
            "application/json": {"schema": SubmissionSchema, "example": submission_example()}
        }
    },
    responses={"4XX": _ERRORS},
)
@blp.response(
    201, AcceptedSchema, description="Stored; 200 when the identical message is resubmitted"
)
def submit() -> Any:
    """Submit one signed message."""
    the_hub = current_hub()
    limit = the_hub.config.max_message_bytes * 2 + 65536  # the envelope plus its JSON wrapping
    started = time.perf_counter()
    outcome = the_hub.intake.submit(
        g.partner_id, json_body(limit), lookup=g.key_lookup, now=the_hub.now()
    )
    observe_intake("single", started)
    count_submission(outcome.status, created=outcome.created)
    return outcome.as_json(), 201 if outcome.created else 200


@blp.route("/messages:batch", methods=["POST"])
@blp.doc(
    requestBody={
        "content": {
            "application/json": {
                "schema": BatchSchema,
                "example": {"messages": [submission_example(), submission_example()]},
            }
        }
    },
    responses={"4XX": _ERRORS},
)
@blp.response(200, BatchResultSchema)
def submit_batch() -> Any:
    """Submit up to 100 signed messages; each item succeeds or fails on its own."""
    the_hub = current_hub()
    body = json_body(the_hub.config.max_batch_bytes)
    if (
        not isinstance(body, dict)
        or set(body) != {"messages"}
        or not isinstance(body["messages"], list)
    ):
        raise SchemaInvalid(errors={"messages": ['Expected {"messages": [...]}.']})
    items = body["messages"]
    if not 1 <= len(items) <= the_hub.config.max_batch_items:
        raise SchemaInvalid(errors={"messages": ["Between 1 and 100 messages per batch."]})
    started = time.perf_counter()
    results = the_hub.intake.submit_batch(
        g.partner_id, items, lookup=g.key_lookup, now=the_hub.now()
    )
    observe_intake("batch", started)
    out: list[dict[str, Any]] = []
    for item, result in zip(items, results, strict=True):
        if isinstance(result, ExchangeError):
            count_refusal(result.code)
            envelope = item.get("envelope") if isinstance(item, dict) else None
            item_id = envelope.get("id") if isinstance(envelope, dict) else None
            out.append(
                {
                    "id": item_id if isinstance(item_id, str) else None,
                    "error": problem_document(result),
                }
            )
        else:
            count_submission(result.status, created=result.created)
            out.append({"id": result.id, **result.as_json()})
    return {"results": out}


@blp.route("/messages/<message_id:message_id>", methods=["GET"])
@blp.doc(responses={"404": _ERRORS})
@blp.response(200, MessageViewSchema)
def read(message_id: str) -> Any:
    """A message, its deliveries and its events, for its sender or a recipient."""
    message = g.reader.get(Message, message_id)
    if message is None or not may_read(message, g.partner_id):
        raise NotFound("No such message for you.")
    return message_view(g.reader, current_hub().trust, message)


def message_view(session: Session, trust: HubTrust, message: Message) -> dict[str, Any]:
    """A message as its readers see it: the envelope opened, its deliveries (with acks and
    pushes) and its log entries, oldest first. The console's message detail shows the same.
    """
    events = session.scalars(
        select(LogEntry.entry).where(LogEntry.message_id == message.id).order_by(LogEntry.index)
    )
    return {
        "envelope": open_envelope(trust, message),
        "signature": message.signature,
        "status": message.status,
        "receipt": message.receipt,
        "log_index": message.log_index,
        "deliveries": [
            {
                "recipient": d.recipient,
                "state": d.state,
                "delivered_at": format_time(d.delivered_at) if d.delivered_at else None,
                "acked_at": format_time(d.acked_at) if d.acked_at else None,
                "ack": d.ack,
                "delivered_via": d.delivered_via,
                "push": push_view(d),
            }
            for d in message.deliveries
        ],
        "events": [json.loads(entry) for entry in events],
    }


def push_view(delivery: Delivery) -> dict[str, Any] | None:
    """A delivery's push to the recipient's webhook (PROTOCOL §7), or None if it pulls."""
    if delivery.push_state is None:
        return None

    def stamp(moment: datetime | None) -> str | None:
        return format_time(moment) if moment else None

    return {
        "state": delivery.push_state,
        "attempts": delivery.attempts,
        "last_attempt_at": stamp(delivery.last_attempt_at),
        "last_duration_ms": delivery.last_duration_ms,
        "last_error": delivery.last_error,
        "next_attempt_at": stamp(delivery.next_attempt_at),
    }


def may_read(message: Message, partner_id: str) -> bool:
    """The sender always; a recipient once the message is released."""
    if message.sender == partner_id:
        return True
    return message.status == "released" and any(
        d.recipient == partner_id for d in message.deliveries
    )


@blp.route("/messages/<message_id:message_id>/evidence", methods=["GET"])
@blp.doc(responses={"404": _ERRORS})
@blp.response(200, EvidenceSchema)
def evidence(message_id: str) -> Any:
    """The message's evidence bundle, for its sender or a recipient.

    It verifies offline, with nothing but the `keys` package: `keys.evidence.verify_evidence`,
    or `exchange evidence verify FILE`.
    """
    the_hub = current_hub()
    message = g.reader.get(Message, message_id)
    if message is None or not may_read(message, g.partner_id):
        raise NotFound("No such message for you.")
    with the_hub.sessions.begin() as session:
        return export_evidence(
            session, the_hub.trust, the_hub.notary, message_id, now=the_hub.now()
        )
