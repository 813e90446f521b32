"""Reading one index range of the log in index order without holding the range in memory: a
server-side cursor on PostgreSQL, keyset chunks on SQLite (whose driver has no server-side
cursors; each chunk is an index range scan); and the messages its received entries name, by
primary key (``messages`` has no index on ``log_index``: a range's messages by log index
would cost every range a scan and a sort of the whole table).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import Any, cast

from sqlalchemy import Connection, Select, Table

from exchange.store.models import Message
from exchange.transparency.tree import ENTRIES

MESSAGES = cast(Table, Message.__table__)
CHUNK = 2000
ID_BATCH = 500

ENTRY_COLUMNS = (
    ENTRIES.c.idx,
    ENTRIES.c.entry,
    ENTRIES.c.leaf_hash,
    ENTRIES.c.nodes,
    ENTRIES.c.actor,
    ENTRIES.c.action,
    ENTRIES.c.message_id,
    ENTRIES.c.at,
)
_MESSAGE_COLUMNS = (
    MESSAGES.c.id,
    MESSAGES.c.log_index,
    MESSAGES.c.sender,
    MESSAGES.c.envelope_sha256,
    MESSAGES.c.sealed_envelope,
    MESSAGES.c.signature,
    MESSAGES.c.signer_kid,
    MESSAGES.c.receipt,
)


def entry_rows(connection: Connection, start: int, end: int) -> Generator[Any, None, None]:
    """The rows of entries ``start..end-1`` that are stored, by index: (idx, entry, leaf_hash,
    nodes, actor, action, message_id, at).
    """
    query = ENTRIES.select().with_only_columns(*ENTRY_COLUMNS)
    query = query.where(ENTRIES.c.idx >= start, ENTRIES.c.idx < end)
    if connection.dialect.name == "postgresql":
        yield from _cursor(connection, query.order_by(ENTRIES.c.idx))
        return
    after = start - 1
    while True:
        rows = connection.execute(
            query.where(ENTRIES.c.idx > after).order_by(ENTRIES.c.idx).limit(CHUNK)
        ).all()
        yield from rows
        if len(rows) < CHUNK:
            return
        after = rows[-1].idx


def messages_named(connection: Connection, ids: Sequence[str]) -> dict[str, Any]:
    """The messages with these ids (primary-key lookups, ``ID_BATCH`` ids a query), by id."""
    found: dict[str, Any] = {}
    for first in range(0, len(ids), ID_BATCH):
        batch = ids[first : first + ID_BATCH]
        query = MESSAGES.select().with_only_columns(*_MESSAGE_COLUMNS)
        for row in connection.execute(query.where(MESSAGES.c.id.in_(batch))):
            found[row.id] = row
    return found


def _cursor(connection: Connection, query: Select[Any]) -> Generator[Any, None, None]:
    # A named (server-side) cursor: PostgreSQL sends CHUNK rows a round trip.
    result = connection.execution_options(stream_results=True, yield_per=CHUNK).execute(query)
    try:
        yield from result
    finally:
        result.close()
