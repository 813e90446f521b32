"""The transparency log (PROTOCOL §6): entries of ids and digests, appended with dense indices
and hashed as the leaves of an RFC 6962 tree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from exchange.store.rows import LogEntryRow
from keys.merkle import CompactTree, leaf_hash
from schemas import canonical_bytes

# Any constant: the key of the PostgreSQL advisory lock that serialises appends.
LOG_LOCK_KEY = 0x65786368  # "exch"


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, the form every log entry and receipt uses."""
    return moment.isoformat().replace("+00:00", "Z")


class LogAppender:
    """Collects the entries of one transaction, from the locked head of the log on."""

    def __init__(self, tree: CompactTree) -> None:
        self.tree = tree
        self.first_index = tree.size
        self.rows: list[LogEntryRow] = []

    def append(
        self,
        *,
        at: datetime,
        actor: str,
        action: str,
        message_id: str | None = None,
        **fields: Any,
    ) -> int:
        """Add one entry (ids and digests only, never payload text); return its index."""
        index = self.tree.size
        entry: dict[str, Any] = {
            "index": index,
            "at": format_time(at),
            "actor": actor,
            "action": action,
        }
        if message_id is not None:
            entry["message_id"] = message_id
        entry.update({k: v for k, v in fields.items() if v is not None})
        entry_bytes = canonical_bytes(entry)
        leaf = leaf_hash(entry_bytes)
        self.rows.append(
            {
                "idx": index,
                "at": at,
                "actor": actor,
                "action": action,
                "message_id": message_id,
                "entry": entry_bytes,
                "leaf_hash": leaf,
                "nodes": b"".join(self.tree.append(leaf)),
            }
        )
        return index
