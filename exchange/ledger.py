"""The append-only event log: dense indices, JCS entries, RFC 6962 leaf hashes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from exchange.models import LogEntry, LogHead
from keys.merkle import leaf_hash
from schemas import canonical_bytes


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, the form every log entry and receipt uses."""
    return moment.isoformat().replace("+00:00", "Z")


ENTRIES = cast(Table, LogEntry.__table__)
HEAD = cast(Table, LogHead.__table__)


class LogAppender:
    """Collects entries for one transaction; built by ``open_log`` or ``reserve_log``, written
    by ``close_log``."""

    def __init__(self, first_index: int, reserved: int | None = None) -> None:
        self.first_index = first_index
        self.next_index = first_index
        self.reserved = reserved
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


def open_log(session: Session) -> LogAppender:
    """Lock the log head for the rest of the caller's transaction and return an appender.

    ``FOR UPDATE`` on PostgreSQL (SQLite serialises writers with BEGIN IMMEDIATE) makes every
    writer wait its turn, so indices are dense and assigned in commit order. Call
    ``close_log`` before the transaction commits.
    """
    size = session.execute(
        select(LogHead.size).where(LogHead.id == 1).with_for_update()
    ).scalar_one()
    return LogAppender(size)


def reserve_log(session: Session, count: int) -> LogAppender:
    """Lock the head and reserve ``count`` indices in one statement (the intake's hot path)."""
    size = session.execute(
        update(HEAD).where(HEAD.c.id == 1).values(size=HEAD.c.size + count).returning(HEAD.c.size)
    ).scalar_one()
    return LogAppender(size - count, reserved=count)


def close_log(session: Session, appender: LogAppender) -> None:
    """Write the collected entries and, unless reserved up front, the new head size."""
    reserved = appender.reserved
    if reserved is not None and appender.next_index != appender.first_index + reserved:
        raise RuntimeError("a reserved log range must be used exactly")
    if appender.rows:
        session.execute(ENTRIES.insert(), appender.rows)
        if appender.reserved is None:
            session.execute(update(HEAD).where(HEAD.c.id == 1).values(size=appender.next_index))
        appender.rows = []


def append_one(session: Session, **entry: Any) -> int:
    """Lock, append one entry and record the head: for the rare events outside the intake path."""
    appender = open_log(session)
    index = appender.append(**entry)
    close_log(session, appender)
    return index
