"""The console's message search (issue 11), read side: messages sent through the real hub,
walked newest first by cursor to the end (no message twice, none skipped), each filter
keeping exactly the messages it names, and a cursor that is not this list's refused.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from adapters.client import SendResult
from exchange.api.cursors import encode_cursor
from exchange.console.oversight.messages import (
    MessageFilter,
    MessageRow,
    search_messages,
)
from exchange.errors import BadRequest
from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys

Partners = dict[str, PartnerKeys]
DISCIPLINE, INSPECTION = "discipline.yanliang", "inspection.yanliang"


def ledger_line(n: int, recipient: str) -> dict[str, Any]:
    line = examples.rectification_example(recipients=[recipient])
    line["payload"]["ledger_item_id"] = line["subject"] = (
        f"YL-SJ-ZG-C{n:04d}-{uuid.uuid4().hex[:6]}"
    )
    return line


def referral(n: int) -> dict[str, Any]:
    clue = examples.referral_example(recipients=[DISCIPLINE])
    clue["payload"]["referral_id"] = clue["subject"] = f"YL-SJ-YJ-C{n:04d}-{uuid.uuid4().hex[:6]}"
    return clue


@pytest.fixture
def sent(base_url: str, hub: Hub, partners: Partners) -> list[SendResult]:
    """17 ledger lines (alternately to discipline and to inspection) and 6 referrals (held
    for review), all from audit.
    """
    audit = partners["audit"].client(base_url, hub.now)
    envelopes = [ledger_line(n, DISCIPLINE if n % 2 else INSPECTION) for n in range(17)]
    envelopes += [referral(n) for n in range(6)]
    results = audit.send_batch(envelopes)
    assert all(isinstance(r, SendResult) for r in results), results
    return [r for r in results if isinstance(r, SendResult)]


def walk(hub: Hub, found: MessageFilter, page_size: int) -> tuple[list[MessageRow], int]:
    """Every row of the search, page by page: the rows and how many pages."""
    rows: list[MessageRow] = []
    cursor, pages = None, 0
    while True:
        with hub.readers() as session:
            page = search_messages(session, found, cursor=cursor, page_size=page_size)
        rows += page.rows
        pages += 1
        assert len(page.rows) <= page_size
        if page.next is None:
            return rows, pages
        assert len(page.rows) == page_size
        cursor = page.next


def test_the_search_pages_by_cursor_newest_first(hub: Hub, sent: list[SendResult]) -> None:
    rows, pages = walk(hub, MessageFilter(), page_size=5)
    ids = [row.id for row in rows]
    assert len(ids) == len(set(ids)) == len(sent) == 23
    assert set(ids) == {s.id for s in sent}
    assert pages == 5  # 5 + 5 + 5 + 5 + 3
    indexes = [row.log_index for row in rows]
    assert indexes == sorted(indexes, reverse=True)


def test_each_filter_keeps_what_it_names(hub: Hub, sent: list[SendResult]) -> None:
    with hub.readers() as session:
        everything = search_messages(session, MessageFilter(), page_size=200).rows
    by_id = {row.id: row for row in everything}
    some = by_id[sent[3].id]

    def found(**given: Any) -> set[str]:
        return {row.id for row in walk(hub, MessageFilter(**given), page_size=4)[0]}

    assert found(message_id=some.id) == {some.id}
    assert found(business_key=some.business_key) == {some.id}
    assert found(type="clue.referral.v1") == {s.id for s in sent[17:]}
    assert found(type="rectification.status.v1") == {s.id for s in sent[:17]}
    assert found(state="pending_review") == {s.id for s in sent[17:]}
    # A recipient finds what was sent to it (a delivery), the sender everything it sent.
    assert found(partner=INSPECTION) == {s.id for s in sent[:17:2]}
    assert found(partner=DISCIPLINE) == {s.id for s in sent[1:17:2]} | {s.id for s in sent[17:]}
    assert found(partner="audit.yanliang") == {s.id for s in sent}
    assert found(partner="personnel.nobody") == set()
    today = some.received_at.date()
    assert found(received_from=today, received_to=today) == set(by_id)
    assert found(received_to=today - timedelta(days=1)) == set()
    assert found(received_from=today + timedelta(days=1)) == set()
    assert found(type="clue.referral.v1", partner=INSPECTION) == set()


def test_a_cursor_not_of_this_list_is_refused(hub: Hub, sent: list[SendResult]) -> None:
    for cursor in [
        "not-a-cursor",
        encode_cursor("inbox", "*", (3,)),
        encode_cursor("console.messages", "*", ("x",)),
    ]:
        with hub.readers() as session, pytest.raises(BadRequest) as refused:
            search_messages(session, MessageFilter(), cursor=cursor)
        assert "cursor" in (refused.value.errors or {}), cursor
