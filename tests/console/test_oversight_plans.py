"""The console's message search reads a page, not the table (issue 11): on PostgreSQL,
without planner statistics and after ``ANALYZE``, every search walks ``ix_messages_log_index``
backwards under its LIMIT (or answers from the primary key, or from the business key's
index): no sequential scan, no bitmap, no sort; a page from deep in the table reads about a
page of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text

from exchange.console.oversight.messages import (
    MessageFilter,
    message_page_query,
    walk_the_log_index,
)
from tests.conftest import (
    PG_URL,
)
from tests.exchange.test_query_plans import (
    assert_indexed,
    explained,
    filled_database,
    nodes,
    statistics_absent,
)

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="PostgreSQL only (EXCHANGE_TEST_DATABASE_URL)"
)

MESSAGES = 40_000
SENDERS = ("audit.plans", "discipline.plans", "inspection.plans", "personnel.plans")

_FILL = [
    "SET session_replication_role = replica",
    f"""INSERT INTO messages (id, type, sender, subject, classification, sent_at, received_at,
        envelope_sha256, sealed_envelope, signature, signer_kid, status, required_approvals,
        receipt, receipt_status, log_index, size_bytes)
      SELECT 'm-' || g,
        CASE WHEN g % 3 = 0 THEN 'clue.referral.v1' ELSE 'rectification.status.v1' END,
        (ARRAY{list(SENDERS)})[1 + g % 4], 'KEY-' || g, 'internal',
        timestamptz '2026-01-01' + g * interval '10 minutes',
        timestamptz '2026-01-01' + g * interval '10 minutes', 'x', '\\x00', 's', 'k',
        CASE WHEN g % 9 = 0 THEN 'pending_review' ELSE 'released' END, 0, 'r', 'ok', g, 100
      FROM generate_series(1, {MESSAGES}) g""",
    """INSERT INTO deliveries (message_id, recipient, state, cursor, attempts)
      SELECT m.id, r, 'queued', m.log_index * 4 + length(r) % 4, 0
      FROM messages m, (VALUES ('audit.plans'), ('discipline.plans')) v(r)
      WHERE m.sender <> r""",
]
PAGE = {"messages": {"ix_messages_log_index"}}


def plan_of(engine: Engine, statement: Any, *, analyse: bool = False) -> Any:
    """The plan of one page's statement, as the search runs it."""
    with explained(engine, analyse=analyse, in_index_order=False) as (session, plans):
        walk_the_log_index(session)
        session.connection().execute(statement).close()
    assert len(plans) == 1
    return plans[0]


@pytest.fixture(scope="module")
def filled() -> Iterator[Engine]:
    """A migrated database of its own, filled by SQL and never analysed."""
    yield from filled_database("_console_plans", _FILL)


SEARCHES = [
    MessageFilter(),
    MessageFilter(type="clue.referral.v1"),
    MessageFilter(state="pending_review"),
    MessageFilter(partner="discipline.plans"),
    MessageFilter(received_from=date(2026, 3, 1), received_to=date(2026, 4, 30)),
    MessageFilter(type="rectification.status.v1", partner="audit.plans", state="released"),
]


@pytest.mark.parametrize("analysed", [False, True], ids=["no-statistics", "analysed"])
def test_every_search_walks_the_log_index_under_its_limit(filled: Engine, analysed: bool) -> None:
    if analysed:
        with filled.begin() as connection:
            connection.execute(text("ANALYZE"))
    assert statistics_absent(filled) is not analysed
    for found in SEARCHES:
        for before in (None, MESSAGES // 2):
            plan = plan_of(filled, message_page_query(found, before=before, limit=51))
            assert plan["Node Type"] == "Limit", plan
            expected = dict(PAGE)
            if found.partner is not None:
                expected["deliveries"] = {"deliveries_pkey"}
            assert_indexed(plan, expected)
    # A message by id, and by business key: their own indexes, not the walk.
    plan = plan_of(
        filled, message_page_query(MessageFilter(message_id="m-77"), before=None, limit=51)
    )
    assert {n.get("Index Name") for n in nodes(plan)} - {None} == {"messages_pkey"}, plan
    for before in (None, MESSAGES // 2):
        found = MessageFilter(business_key="KEY-77")
        plan = plan_of(filled, message_page_query(found, before=before, limit=51))
        names = {n.get("Index Name") for n in nodes(plan)} - {None}
        assert names == {"ix_messages_subject_log_index"}, plan


def test_a_deep_page_reads_a_page_not_the_table(filled: Engine) -> None:
    found = MessageFilter(partner="discipline.plans")
    plan = plan_of(filled, message_page_query(found, before=MESSAGES // 10, limit=51), analyse=True)
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "messages"]
    assert scans, plan
    assert all(n["Actual Rows"] * n["Actual Loops"] <= 80 for n in scans), plan
