"""The append-only event log: dense indices, JCS entries, RFC 6962 leaf hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, text
from sqlalchemy.orm import Session

from exchange.models import LogEntry
from keys.merkle import leaf_hash
from schemas import canonical_bytes


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, the form every log entry and receipt uses."""
    return moment.isoformat().replace("+00:00", "Z")


ENTRIES = cast(Table, LogEntry.__table__)
NEXT_INDEX = select(func.coalesce(func.max(ENTRIES.c.idx) + 1, 0))


class LogAppender:
    """Collects the entries of one transaction, from the locked head's size on."""

    def __init__(self, first_index: int) -> None:
        self.next_index = first_index
        self.rows: list[dict[str, Any]] = []

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
        index = self.next_index
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
        self.rows.append(
            {
                "idx": index,
                "at": at,
                "actor": actor,
                "action": action,
                "message_id": message_id,
                "entry": entry_bytes,
                "leaf_hash": leaf_hash(entry_bytes),
            }
        )
        self.next_index += 1
        return index


# Any constant: the key of the PostgreSQL advisory lock that serialises appends.
LOG_LOCK_KEY = 0x65786368  # "exch"


def open_log(session: Session) -> LogAppender:
    """Take the log lock for the rest of the caller's transaction; return an appender.

    Every writer waits its turn, so indices are dense and assigned in commit order. On
    PostgreSQL the lock is a transaction-scoped advisory lock (a fair queue, unlike a hot
    row's ``FOR UPDATE``, whose waiters all wake at each commit); SQLite already serialises
    writers (BEGIN IMMEDIATE). Under the lock, the log's size is ``max(index) + 1``.
    Call ``close_log`` before the transaction commits.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.connection().execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOG_LOCK_KEY}
        )
    return LogAppender(session.connection().execute(NEXT_INDEX).scalar_one())


def close_log(session: Session, appender: LogAppender) -> None:
    """Write the collected entries."""
    if appender.rows:
        session.connection().execute(ENTRIES.insert(), appender.rows)
        appender.rows = []


def append_one(session: Session, **entry: Any) -> int:
    """Lock, append one entry and record the head: for the rare events outside the intake path."""
    appender = open_log(session)
    index = appender.append(**entry)
    close_log(session, appender)
    return index
