"""Signed checkpoints (PROTOCOL §6): tree heads signed by the hub, kept forever, so that any
two can be proved consistent; one at least every 1,000 entries or 60 s while the log grows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from exchange.store.models import Checkpoint
from exchange.store.rows import CheckpointRow
from exchange.transparency.log import format_time
from exchange.transparency.tree import StoredTree
from keys.protocol import CHECKPOINT_TYP
from schemas import canonical_bytes

# PROTOCOL §6: a checkpoint at least every 1,000 entries (or 60 s: see ``checkpoint_due``).
CHECKPOINT_EVERY = 1000
CHECKPOINT_MAX_AGE_SECONDS = 60

CHECKPOINTS = cast(Table, Checkpoint.__table__)


@dataclass(frozen=True)
class Notary:
    """Signs checkpoints with the hub's key: ``sign(payload, typ)`` returns a JWS compact."""

    origin: str
    sign: Callable[[bytes, str], str]

    def checkpoint(self, tree_size: int, root: bytes, now: datetime) -> CheckpointRow:
        """A checkpoint row for this tree head, signed now."""
        payload = {
            "origin": self.origin,
            "tree_size": tree_size,
            "root_hash": root.hex(),
            "issued_at": format_time(now),
        }
        return {
            "tree_size": tree_size,
            "root_hash": root,
            "issued_at": now,
            "signed": self.sign(canonical_bytes(payload), CHECKPOINT_TYP),
        }


def crossed(before: int, after: int) -> bool:
    """Whether growing the log from ``before`` to ``after`` entries crossed a thousand."""
    return before // CHECKPOINT_EVERY != after // CHECKPOINT_EVERY


def latest_checkpoint(connection: Connection) -> Any:
    """The newest checkpoint row, or None."""
    return connection.execute(
        select(CHECKPOINTS).order_by(CHECKPOINTS.c.tree_size.desc()).limit(1)
    ).first()


def checkpoint_due(connection: Connection, now: datetime) -> bool:
    """Whether the log has grown since the newest checkpoint and that one is 60 s old."""
    newest = latest_checkpoint(connection)
    size = StoredTree(connection).size()
    if newest is None:
        return size > 0
    age = (now - newest.issued_at).total_seconds()
    return bool(size > newest.tree_size and age >= CHECKPOINT_MAX_AGE_SECONDS)
