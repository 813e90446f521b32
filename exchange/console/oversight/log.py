"""The console's log browser: the newest checkpoint, a page of entries newest first (keyset
by index), and one entry with its inclusion proof under that checkpoint — the document the
page's "verify this entry" checks in the browser (``static/oversight-verify.js``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from exchange.store.models import LogEntry
from exchange.transparency.checkpoints import latest_checkpoint
from exchange.transparency.tree import StoredTree


@dataclass(frozen=True)
class Checkpoint:
    """The newest signed tree head."""

    tree_size: int
    root_hash: str
    issued_at: datetime


@dataclass(frozen=True)
class EntryRow:
    """One log entry as the browser lists it."""

    index: int
    at: datetime
    actor: str
    action: str
    message_id: str | None


def newest_checkpoint(connection: Connection) -> Checkpoint | None:
    """The newest checkpoint, or None before the first."""
    row = latest_checkpoint(connection)
    if row is None:
        return None
    return Checkpoint(row.tree_size, row.root_hash.hex(), row.issued_at)


def entries_page(connection: Connection, *, before: int | None, limit: int) -> list[EntryRow]:
    """Up to ``limit`` entries with an index below ``before`` (from the newest without),
    newest first, along the primary key.
    """
    query = select(
        LogEntry.index, LogEntry.at, LogEntry.actor, LogEntry.action, LogEntry.message_id
    )
    if before is not None:
        query = query.where(LogEntry.index < before)
    rows = connection.execute(query.order_by(LogEntry.index.desc()).limit(limit))
    return [EntryRow(*row) for row in rows]


def entry_proof(connection: Connection, index: int) -> dict[str, Any] | None:
    """Entry ``index``, its audit path (RFC 9162 §2.1.3) in the newest checkpoint's tree and
    that tree's root; None when there is no such entry or no checkpoint covers it yet.
    """
    checkpoint = latest_checkpoint(connection)
    if checkpoint is None or not 0 <= index < checkpoint.tree_size:
        return None
    tree = StoredTree(connection)
    row = tree.entry(index)
    if row is None:
        return None
    return {
        "index": index,
        "tree_size": checkpoint.tree_size,
        "entry": json.loads(row.entry),
        "hashes": [h.hex() for h in tree.inclusion(index, checkpoint.tree_size)],
        "root_hash": checkpoint.root_hash.hex(),
    }
