"""The message search: every message the hub took, newest first, filtered by id, business
key, partner, type, state and day of receipt, in keyset pages (no offsets).

A page walks ``ix_messages_log_index`` backwards from the cursor's entry and stops at the
page's LIMIT: its cost is a page's rows (and, with a partner, one probe of the delivery's
primary key each), not the table's, at any depth. A message's log index is unique and
increases with receipt, so it is the whole sort key. A message id is answered from the
primary key. (A business key alone is a filter on the walk: no index has the subject first.)
The cursor is an ``exchange.api.cursors`` cursor of the list ``console.messages``; it carries
no filter, and every page is filtered by the filters given with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from sqlalchemy import Select, literal, or_, select, text
from sqlalchemy.orm import Session

from exchange.api.cursors import decode_cursor, encode_cursor
from exchange.store.models import Delivery, Message

LIST_NAME: Final = "console.messages"
# Cursors name the partner whose list they continue; the console's list is everyone's.
_EVERYONE: Final = "*"
LARGEST_PAGE: Final = 200


@dataclass(frozen=True)
class MessageFilter:
    """What the search keeps; ``None`` keeps every value. ``partner`` is the sender or a
    recipient; ``received_from`` / ``received_to`` are days (UTC), both included.
    """

    message_id: str | None = None
    business_key: str | None = None
    partner: str | None = None
    type: str | None = None
    state: str | None = None
    received_from: date | None = None
    received_to: date | None = None


@dataclass(frozen=True)
class MessageRow:
    """One message as the search lists it."""

    id: str
    type: str
    sender: str
    business_key: str | None
    state: str
    sent_at: datetime
    received_at: datetime
    log_index: int


@dataclass(frozen=True)
class MessagePage:
    """A page of the search, and the cursor of the next (``None`` on the last)."""

    rows: list[MessageRow]
    next: str | None


def message_page_query(found: MessageFilter, *, before: int | None, limit: int) -> Select[Message]:
    """The statement of one page: the messages ``found`` keeps with a log index below
    ``before`` (all, without), newest first, at most ``limit``.
    """
    query = select(Message)
    if found.message_id is not None:
        query = query.where(Message.id == found.message_id)
    if found.business_key is not None:
        query = query.where(Message.subject == found.business_key)
    if found.partner is not None:
        # OFFSET 0 keeps the probe correlated: PostgreSQL would otherwise hash every
        # delivery of the partner first (an AlternativeSubPlan) when it has no statistics.
        received = (
            select(literal(1))
            .where(Delivery.message_id == Message.id, Delivery.recipient == found.partner)
            .offset(0)
            .exists()
        )
        query = query.where(or_(Message.sender == found.partner, received))
    if found.type is not None:
        query = query.where(Message.type == found.type)
    if found.state is not None:
        query = query.where(Message.status == found.state)
    if found.received_from is not None:
        query = query.where(Message.received_at >= _midnight(found.received_from))
    if found.received_to is not None:
        query = query.where(Message.received_at < _midnight(found.received_to + timedelta(days=1)))
    if before is not None:
        query = query.where(Message.log_index < before)
    if found.message_id is not None:
        return query.limit(limit)  # one row at most, from the primary key: not a walk
    return query.order_by(Message.log_index.desc()).limit(limit)


def search_messages(
    session: Session, found: MessageFilter, *, cursor: str | None = None, page_size: int = 50
) -> MessagePage:
    """One page of the messages ``found`` keeps, after ``cursor`` (from the start without).
    A cursor that is not this list's is refused (``BadRequest`` naming ``cursor``).
    """
    page_size = max(1, min(page_size, LARGEST_PAGE))
    before = None
    if cursor is not None:
        (last,) = decode_cursor(cursor, LIST_NAME, _EVERYONE, (int,))
        assert isinstance(last, int)  # the shape asked for
        before = last
    walk_the_log_index(session)
    # One row more than the page: whether there is a next page, without counting.
    messages = list(session.scalars(message_page_query(found, before=before, limit=page_size + 1)))
    rows = [_row(message) for message in messages[:page_size]]
    more = len(messages) > page_size
    return MessagePage(
        rows=rows,
        next=encode_cursor(LIST_NAME, _EVERYONE, (rows[-1].log_index,)) if more else None,
    )


def walk_the_log_index(session: Session) -> None:
    """For the rest of ``session``'s transaction (PostgreSQL; a no-op elsewhere): no
    sequential scan, no bitmap, no sort. Without statistics PostgreSQL guesses that a type or
    a state keeps a handful of rows, and reads them all and sorts them for one page; a page
    of this search is always cheapest along the log index, which stops at the LIMIT.
    """
    if session.get_bind().dialect.name == "postgresql":
        for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
            session.execute(text(f"SET LOCAL {setting} = off"))


def _row(message: Message) -> MessageRow:
    return MessageRow(
        id=message.id,
        type=message.type,
        sender=message.sender,
        business_key=message.subject,
        state=message.status,
        sent_at=message.sent_at,
        received_at=message.received_at,
        log_index=message.log_index,
    )


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)
