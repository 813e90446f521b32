"""Unauthenticated endpoints: liveness, readiness, metrics and the hub's JWK Set."""

from __future__ import annotations

import os

from flask import Blueprint, Response, jsonify
from sqlalchemy import Connection, text

from exchange import metrics
from exchange.errors import NotSetUp, Unavailable
from exchange.hub import current_hub
from exchange.store.db import sqlite_file

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
            read_only = _read_only(connection)
            if read_only:
                # A session opened read-only stays so: drop it, so that the next probe (and
                # the next write) asks a fresh one once the database takes writes again.
                connection.invalidate()
    except Exception:
        raise Unavailable("The database does not answer.") from None
    if read_only:
        # Ready means ready to take messages: a hub that can only read is not.
        raise Unavailable("The database is read-only.")
    return jsonify(status="ready")


def _read_only(connection: Connection) -> bool:
    """Whether the store refuses writes: PostgreSQL in a read-only transaction (a standby, or
    ``default_transaction_read_only``), or an SQLite file or directory that cannot be written.
    """
    if connection.dialect.name == "sqlite":
        connection.execute(text("SELECT 1"))
        database = sqlite_file(str(connection.engine.url))
        return database is not None and not (
            os.access(database, os.W_OK) and os.access(database.parent, os.W_OK)
        )
    return connection.execute(text("SHOW transaction_read_only")).scalar() == "on"


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
