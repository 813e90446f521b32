"""The transparency log for partners: checkpoints, proofs, and the entries that concern them."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import g
from flask_smorest import Blueprint
from sqlalchemy.orm import Session

from exchange.api.auth import authenticate_partner
from exchange.api.messages import may_read
from exchange.api.schemas import (
    CheckpointSchema,
    ConsistencyProofSchema,
    ConsistencyQuerySchema,
    InclusionProofSchema,
    InclusionQuerySchema,
    LogEntryPathSchema,
    LogEntrySchema,
)
from exchange.errors import NotFound
from exchange.hub import current_hub
from exchange.store.models import Message
from exchange.transparency.checkpoints import latest_checkpoint
from exchange.transparency.log import format_time
from exchange.transparency.tree import StoredTree
from exchange.transparency.window import sign_checkpoint
from schemas import partner_of

blp = Blueprint("log", __name__, url_prefix="/v1/log", description="The transparency log")
blp.before_request(authenticate_partner)

# On demand, at most one new checkpoint a second: partners need not wait for the cadence,
# and no caller can grow the checkpoint table faster than that.
ON_DEMAND_INTERVAL = timedelta(seconds=1)


@blp.route("/checkpoint", methods=["GET"])
@blp.response(200, CheckpointSchema)
def checkpoint() -> Any:
    """The newest signed tree head; signed on demand when the log has grown since."""
    the_hub = current_hub()
    now = the_hub.now()
    connection = g.reader.connection()
    newest = latest_checkpoint(connection)
    size = StoredTree(connection).size()
    if newest is None or (newest.tree_size < size and now - newest.issued_at >= ON_DEMAND_INTERVAL):
        with the_hub.sessions.begin() as session:
            newest = sign_checkpoint(session, the_hub.notary, now)
    return {
        "checkpoint": newest.signed,
        "origin": the_hub.config.origin,
        "tree_size": newest.tree_size,
        "root_hash": newest.root_hash.hex(),
        "issued_at": format_time(newest.issued_at),
    }


@blp.route("/proofs/inclusion", methods=["GET"])
@blp.arguments(InclusionQuerySchema, location="query")
@blp.response(200, InclusionProofSchema)
def inclusion(query: dict[str, Any]) -> Any:
    """The audit path of an entry that concerns the caller, in the tree of tree_size entries
    (RFC 9162 §2.1.3).
    """
    tree = StoredTree(g.reader.connection())
    index, size = query["index"], query["tree_size"]
    hashes = tree.inclusion(index, size)  # ProofOutOfRange is a BadRequest
    row = tree.entry(index)
    # Hashes only, but a proof still tells that an entry exists at this index: theirs alone.
    if row is None or not _concerns(g.reader, json.loads(row.entry), g.partner_id):
        raise NotFound("No such entry for you.")
    return {
        "index": index,
        "tree_size": size,
        "leaf_hash": row.leaf_hash.hex(),
        "hashes": [h.hex() for h in hashes],
    }


@blp.route("/proofs/consistency", methods=["GET"])
@blp.arguments(ConsistencyQuerySchema, location="query")
@blp.response(200, ConsistencyProofSchema)
def consistency(query: dict[str, Any]) -> Any:
    """The proof that the tree of the first size is a prefix of the second (RFC 9162 §2.1.4)."""
    first, second = query["first"], query["second"]
    hashes = StoredTree(g.reader.connection()).consistency(first, second)
    return {"first": first, "second": second, "hashes": [h.hex() for h in hashes]}


@blp.route("/entries/<string:index>", methods=["GET"])
@blp.arguments(LogEntryPathSchema, location="path")
@blp.response(200, LogEntrySchema)
def entry(path: dict[str, Any], **_view_args: Any) -> Any:
    """An entry that concerns the caller: as its actor, or as sender or recipient."""
    index: int = path["index"]
    row = StoredTree(g.reader.connection()).entry(index)
    if row is None:
        raise NotFound("No such entry for you.")
    content = json.loads(row.entry)
    if not _concerns(g.reader, content, g.partner_id):
        raise NotFound("No such entry for you.")
    return {"index": index, "entry": content, "leaf_hash": row.leaf_hash.hex()}


def _concerns(session: Session, entry: dict[str, Any], partner_id: str) -> bool:
    if entry.get("actor") == partner_id or entry.get("partner_id") == partner_id:
        return True
    kid = entry.get("kid")
    if isinstance(kid, str) and "#" in kid and partner_of(kid) == partner_id:
        return True
    message_id = entry.get("message_id")
    if not isinstance(message_id, str):
        return False
    message = session.get(Message, message_id)
    return message is not None and may_read(message, partner_id)
