"""The log window: a transaction that holds the log lock from its first read to its commit.

Every writer of the hub works inside one, as ``with log_window(tx, now, notary) as window``:
it takes the lock and reads the log's head (with whatever else the caller reads in the same
round trip), collects entries and rows, and on a clean exit flushes them — with a checkpoint
when the log crossed a thousand entries — through the store's one write path. It cannot be
left open: leaving the block either flushes or writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

from exchange.store.writer import Changes, Read, SessionTransaction, Transaction
from exchange.transparency.checkpoints import CHECKPOINTS, Notary, crossed, latest_checkpoint
from exchange.transparency.log import LOG_LOCK_KEY, LogAppender
from exchange.transparency.tree import EDGE, ENTRIES, NEXT_INDEX, edge_tree

# On PostgreSQL a transaction-scoped advisory lock: a fair queue, unlike a hot row's FOR
# UPDATE, whose waiters all wake at each commit. SQLite serialises writers itself (the hub's
# write sessions BEGIN IMMEDIATE).
_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


@dataclass
class LogWindow:
    """Inside the window: the appender, the rows to flush, and the caller's reads."""

    log: LogAppender
    changes: Changes
    reads: list[list[dict[str, Any]]]
    transaction: Transaction


@contextmanager
def log_window(
    tx: Transaction, now: datetime, notary: Notary | None, reads: Sequence[Read] = ()
) -> Iterator[LogWindow]:
    """Lock the log and read its head (and ``reads``) in one round trip; flush on exit.

    Indices are dense and assigned in commit order: under the lock the log's size is
    ``max(index) + 1``. ``notary`` signs the checkpoint that a thousand entries make due.
    """
    head: list[Read] = [(NEXT_INDEX, {}), (EDGE, {})]
    if tx.dialect == "postgresql":
        head.insert(0, (_LOCK, {"key": LOG_LOCK_KEY}))
    results = tx.read([*head, *reads])
    size = int(next(iter(results[len(head) - 2][0].values())))
    edge = [(r["k"], r["leaf_hash"], r["nodes"]) for r in results[len(head) - 1]]
    window = LogWindow(LogAppender(edge_tree(size, edge)), Changes(), results[len(head) :], tx)
    yield window
    appender = window.log
    if appender.rows:
        window.changes.insert(ENTRIES, appender.rows)
        if notary is not None and crossed(appender.first_index, appender.tree.size):
            tree = appender.tree
            window.changes.insert(CHECKPOINTS, [notary.checkpoint(tree.size, tree.root(), now)])
    tx.write(window.changes)


@contextmanager
def session_window(
    session: Session, now: datetime, reads: Sequence[Read] = ()
) -> Iterator[LogWindow]:
    """``log_window`` on a session's transaction; the session's ``info["notary"]`` (set by the
    hub) signs the checkpoints.
    """
    with log_window(SessionTransaction(session), now, session.info.get("notary"), reads) as w:
        yield w


def append_one(session: Session, **entry: Any) -> int:
    """Lock and append one entry, in the session's transaction."""
    with session_window(session, entry["at"]) as window:
        return window.log.append(**entry)


def sign_checkpoint(session: Session, notary: Notary, now: datetime) -> Any:
    """Sign a checkpoint of the log as it is now, unless the newest already covers it."""
    with session_window(session, now) as window:
        connection = session.connection()
        newest = latest_checkpoint(connection)
        tree = window.log.tree
        if newest is None or newest.tree_size != tree.size:
            window.changes.insert(CHECKPOINTS, [notary.checkpoint(tree.size, tree.root(), now)])
    return latest_checkpoint(session.connection())
