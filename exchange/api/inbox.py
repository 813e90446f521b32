"""Pull delivery: ``GET /v1/inbox`` and ``POST /v1/inbox/acks``."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_smorest import Blueprint

from exchange.api.auth import authenticate_partner
from exchange.api.examples import acks_example
from exchange.api.messages import json_body
from exchange.api.problems import problem_document
from exchange.api.schemas import AckResultsSchema, AcksSchema, InboxQuerySchema, InboxSchema
from exchange.errors import SchemaInvalid
from exchange.hub import current_hub
from exchange.transport.inbox import acknowledge, pull

blp = Blueprint("inbox", __name__, url_prefix="/v1", description="Pull and acknowledge")
blp.before_request(authenticate_partner)


@blp.route("/inbox", methods=["GET"])
@blp.arguments(InboxQuerySchema, location="query")
@blp.response(200, InboxSchema)
def inbox(query: dict[str, Any]) -> Any:
    """Released messages for the caller, oldest first, from a cursor."""
    the_hub = current_hub()
    after = int(query["after"]) if "after" in query else None
    with the_hub.sessions.begin() as session:
        items, next_cursor = pull(
            session,
            the_hub.trust,
            g.partner_id,
            after=after,
            limit=query["limit"],
            unacked=query["unacked"],
            now=the_hub.now(),
        )
    return {"items": items, "next": str(next_cursor) if next_cursor is not None else None}


@blp.route("/inbox/acks", methods=["POST"])
@blp.doc(
    requestBody={"content": {"application/json": {"schema": AcksSchema, "example": acks_example()}}}
)
@blp.response(200, AckResultsSchema)
def acks() -> Any:
    """Acknowledge messages with signed acks (kept as evidence for the sender)."""
    the_hub = current_hub()
    body = json_body(the_hub.config.max_batch_bytes)
    if (
        not isinstance(body, dict)
        or not isinstance(body.get("acks"), list)
        or set(body) != {"acks"}
        or not 1 <= len(body["acks"]) <= 500
    ):
        raise SchemaInvalid(errors={"acks": ["Expected 1..500 acks."]})
    with the_hub.sessions.begin() as session:
        results = acknowledge(session, g.partner_id, body["acks"], now=the_hub.now())
    return {
        "results": [
            {"id": r.id, "status": "acked"}
            if r.refusal is None
            else {"id": r.id, "error": problem_document(r.refusal)}
            for r in results
        ]
    }
