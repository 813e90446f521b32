"""Unauthenticated endpoints: liveness, readiness, metrics and the hub's JWK Set."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify
from sqlalchemy import text

from exchange import metrics
from exchange.errors import NotSetUp, Unavailable
from exchange.hub import current_hub

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    """The process is alive."""
    return jsonify(status="ok")


@blp.get("/readyz")
def readyz() -> Response:
    """The store and the keys are in place, and the database answers."""
    missing = current_hub().missing()
    if missing:
        raise NotSetUp(f"Not set up: {', '.join(missing)} missing; run `exchange init`.")
    try:
        with current_hub().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception:
        raise Unavailable("The database does not answer.") from None
    return jsonify(status="ready")


@blp.get("/metrics")
def prometheus() -> Response:
    """Prometheus text exposition."""
    the_hub = current_hub()
    store = None if the_hub.missing() else metrics.StoreCollector(the_hub.readers, the_hub.now)
    body, content_type = metrics.render(store)
    return Response(body, content_type=content_type)


@blp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The hub's public signing keys (receipts, checkpoints, notices)."""
    return jsonify(current_hub().trust.jwks())
