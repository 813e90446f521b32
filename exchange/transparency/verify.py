"""``exchange log verify``: recompute the whole log and every message digest from the store.

Catches what an operator or a database administrator could do behind the hub's back: an
entry edited, deleted or moved, a sealed payload changed, a digest swapped, a checkpoint
forged, the log cut short. The first failure is reported with the log index it concerns.

``verify_store`` is the reference: one pass in one process, the plainest statement of the
order in which the checks of ``checks`` run. ``parallel.verify_log`` (what the CLI runs) must
fail with the same reason on every store, and pass on the same ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import Message
from exchange.transparency.checkpoints import CHECKPOINTS
from exchange.transparency.checks import (
    IntegrityFailure,
    Logged,
    MessageKeys,
    check_checkpoint,
    check_clear_columns,
    check_entry,
    check_message,
    received_by,
)
from exchange.transparency.stream import ENTRY_COLUMNS
from exchange.transparency.tree import ENTRIES
from exchange.trust.hub_keys import HubTrust
from keys.merkle import CompactTree

__all__ = ["IntegrityFailure", "IntegrityReport", "verify_store"]

_CHUNK = 2000


@dataclass(frozen=True)
class IntegrityReport:
    """What a clean run checked."""

    entries: int
    checkpoints: int
    messages: int
    root_hash: str


def verify_store(
    session: Session, trust: HubTrust, *, progress: Callable[[int], None] | None = None
) -> IntegrityReport:
    """Check every entry, every checkpoint and every message; raise ``IntegrityFailure``."""
    connection = session.connection()
    checkpoints = list(connection.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.tree_size)))
    keys = MessageKeys.load(connection, trust)
    tree = CompactTree()
    received: dict[str, Logged] = {}
    pending = iter(checkpoints)
    due = next(pending, None)
    verified_size = 0
    # A checkpoint of the empty log (`exchange log checkpoint` before any entry) is due now.
    while due is not None and due.tree_size == tree.size:
        check_checkpoint(due, tree.root(), keys.hub, verified_size)
        due = next(pending, None)
    while True:
        rows = list(
            connection.execute(
                select(*ENTRY_COLUMNS)
                .where(ENTRIES.c.idx >= tree.size)
                .order_by(ENTRIES.c.idx)
                .limit(_CHUNK)
            )
        )
        for index, entry_bytes, stored_leaf, stored_nodes, *clear in rows:
            entry = check_entry(tree, index, entry_bytes, stored_leaf, stored_nodes)
            if (named := received_by(entry)) is not None:
                received[named[0]] = named[1]
            check_clear_columns(index, entry, *clear)
            while due is not None and due.tree_size == tree.size:
                check_checkpoint(due, tree.root(), keys.hub, verified_size)
                verified_size = tree.size
                due = next(pending, None)
        if progress is not None and rows:
            progress(len(rows))
        if len(rows) < _CHUNK:
            break
    if due is not None:
        raise IntegrityFailure(
            tree.size,
            f"a checkpoint covers {due.tree_size} entries but the log has {tree.size}: "
            "entries from here on were removed",
        )
    messages = 0
    for message in session.scalars(select(Message).order_by(Message.log_index)).yield_per(500):
        check_message(message, received.get(message.id), tree.size, keys)
        messages += 1
    return IntegrityReport(tree.size, len(checkpoints), messages, tree.root().hex())
