"""Every list's plan, on PostgreSQL without planner statistics: index scans on the named
indexes, in their order — no sequential scan of a big table, no bitmap, no sort.

A database of its own, migrated and filled by SQL with a few thousand rows and never
analysed (the tables' ``pg_statistic`` is checked empty), reads the statements the hub runs
(built by the same functions) under ``EXPLAIN (FORMAT JSON)``; then once more after
``ANALYZE``, which must not change the shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session

from exchange.store.db import upgrade
from exchange.store.models import RECEIVED_VISIBLE
from exchange.store.plans import read_in_index_order
from exchange.supervision.lifecycles import LEDGER_ITEMS, REFERRAL_CASES
from exchange.supervision.lifecycles.base import Concerned
from exchange.supervision.reads import (
    ledger_page_query,
    listed_items,
    referral_page_query,
)
from exchange.supervision.visibility import HIDDEN_FROM_RECIPIENT
from exchange.transport.inbox import inbox_query
from tests.conftest import (
    PG_URL,
    ensure_postgres_database,
    reset_postgres,
    worker_database_url,
    xdist_worker,
)

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="PostgreSQL only (EXCHANGE_TEST_DATABASE_URL)"
)

OWNER, RECIPIENT, OTHER = "audit.plans", "discipline.plans", "inspection.plans"
ITEMS = 4000
BIG = {"deliveries", "ledger_items", "ledger_lines", "referral_cases", "messages"}
TODAY = date(2026, 12, 2)

_FILL = [
    # Plans, not integrity, are under test: rows go in without their foreign keys' checks.
    "SET session_replication_role = replica",
    f"""INSERT INTO ledger_items (owner, ledger_item_id, first_reported_at, last_message_id,
        source, source_doc_number, unit_name, rectification_class, status, deadline,
        amount_involved, amount_rectified, rules_made, persons_held_accountable, reported_at,
        status_date)
      SELECT CASE WHEN g % 5 = 0 THEN '{OTHER}' ELSE '{OWNER}' END, 'ZG-' || lpad(g::text, 6, '0'),
        now(), 'm-' || g, 'audit', 'doc', 'unit', 'immediate', 'in_progress', '2027-01-01',
        0, 0, 0, 0, now(), current_date
      FROM generate_series(1, {ITEMS}) g""",
    # Two lines an item: the first and a later one; each released to both other bodies.
    f"""INSERT INTO ledger_lines (message_id, owner, ledger_item_id, log_index, received_at,
        source, source_doc_number, unit_name, rectification_class, status, deadline,
        amount_involved, amount_rectified, rules_made, persons_held_accountable, reported_at,
        status_date, first_reported_at, superseded_on)
      SELECT 'm-' || (g + s * {ITEMS}), i.owner, i.ledger_item_id, g * 10 + s, now(), 'audit',
        'doc', 'unit', 'immediate', 'in_progress', '2027-01-01', 0, 0, 0, 0, now(), current_date,
        now(), CASE WHEN s = 0 THEN current_date END
      FROM generate_series(1, {ITEMS}) g
      JOIN ledger_items i ON i.ledger_item_id = 'ZG-' || lpad(g::text, 6, '0'),
      generate_series(0, 1) s""",
    f"""INSERT INTO deliveries (message_id, recipient, state, cursor, attempts, acked_at)
      SELECT l.message_id, r, 'queued', l.log_index * 3 + length(r) % 3,
        0, CASE WHEN l.log_index % 4 = 0 THEN now() END
      FROM ledger_lines l, (VALUES ('{RECIPIENT}'), ('{OTHER}'), ('{OWNER}')) v(r)
      WHERE l.owner <> r""",
    f"""INSERT INTO referral_cases (message_id, recipient, sender, referral_id, issue_category,
        sent_at, feedback_due, state, persons_handled, recovered_amount, updated_at)
      SELECT 'r-' || g, CASE WHEN g % 3 = 0 THEN '{OWNER}' ELSE '{RECIPIENT}' END,
        CASE WHEN g % 3 = 0 THEN '{OTHER}' ELSE '{OWNER}' END, 'YJ-' || g, 'other',
        timestamptz '2026-01-01' + g * interval '1 minute', '2026-06-01',
        CASE WHEN g % 7 = 0 THEN 'pending_review' ELSE 'released' END, 0, 0, now()
      FROM generate_series(1, {ITEMS * 2}) g""",
]


def filled_database(suffix: str, fill: list[str]) -> Iterator[Engine]:
    """A migrated database of its own (the worker's, plus ``suffix``), filled by the ``fill``
    statements and never analysed.
    """
    assert PG_URL
    url = worker_database_url(PG_URL, xdist_worker()) + suffix
    ensure_postgres_database(PG_URL, url)
    reset_postgres(url)
    upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in fill:
            connection.execute(text(statement))
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A migrated database of its own, filled and never analysed."""
    yield from filled_database("_plans", _FILL)


@contextmanager
def explained(
    engine: Engine, *, analyse: bool = False, in_index_order: bool = True
) -> Iterator[tuple[Session, list[dict[str, Any]]]]:
    """A session whose statements are explained instead of run (``analyse``: and run, with
    the rows each node read): their plans, in order. ``in_index_order`` as a keyset read.
    """
    plans: list[dict[str, Any]] = []
    prefix = "EXPLAIN (ANALYZE, FORMAT JSON) " if analyse else "EXPLAIN (FORMAT JSON) "

    def explain(
        _conn: Any, cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool
    ) -> tuple[str, Any]:
        if statement.lstrip().upper().startswith("SELECT"):
            return prefix + statement, parameters
        return statement, parameters

    def keep(
        _conn: Any, cursor: Any, statement: str, _parameters: Any, _context: Any, _many: bool
    ) -> None:
        if statement.startswith("EXPLAIN"):
            (row,) = cursor.fetchall()
            plan = row[0] if not isinstance(row[0], str) else json.loads(row[0])
            plans.append(plan[0]["Plan"])

    event.listen(engine, "before_cursor_execute", explain, retval=True)
    event.listen(engine, "after_cursor_execute", keep)
    try:
        with Session(engine) as session, session.begin():
            if in_index_order:
                read_in_index_order(session)
            yield session, plans
    finally:
        event.remove(engine, "before_cursor_execute", explain)
        event.remove(engine, "after_cursor_execute", keep)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of a plan, depth first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def plan_of(
    engine: Engine, statement: Any, parameters: Mapping[str, Any] | None = None, **how: bool
) -> Any:
    """The plan of one statement, as the hub would run it."""
    with explained(engine, **how) as (session, plans):
        # Not fetched: the rows are the plan, which the cursor hook has taken already.
        session.connection().execute(statement, dict(parameters or {})).close()
    assert len(plans) == 1
    return plans[0]


def limited(plan: dict[str, Any]) -> bool:
    """Whether every scan below ``plan`` is under a Limit: it reads a page at most."""
    if plan["Node Type"] == "Limit":
        return True
    if "Relation Name" in plan:
        return False
    return all(limited(child) for child in plan.get("Plans", []))


def assert_indexed(plan: dict[str, Any], expected: dict[str, set[str]]) -> None:
    """Each big table read only by index scans, on the indexes named for it (and each named
    index used); no bitmap, no hash over a table, no sort but of rows already limited.
    """
    used: dict[str, set[str]] = {}
    for node in nodes(plan):
        kind = node["Node Type"]
        assert kind not in {"Bitmap Heap Scan", "Hash"}, (kind, plan)
        if kind in {"Sort", "Incremental Sort"}:
            assert all(limited(child) for child in node["Plans"]), plan
        table = node.get("Relation Name")
        if table in BIG:
            assert kind in {"Index Scan", "Index Only Scan"}, (table, kind, plan)
            used.setdefault(table, set()).add(node["Index Name"])
    for table, indexes in expected.items():
        assert used.get(table) == indexes, (table, used, plan)


def statistics_absent(engine: Engine) -> bool:
    """Whether no big table has planner statistics."""
    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT count(*) FROM pg_statistic s JOIN pg_class c ON c.oid = s.starelid "
                "WHERE c.relname = ANY(:tables)"
            ),
            {"tables": sorted(BIG)},
        ).scalar()
    return count == 0


LEDGER_READ = {
    "ledger_items": {"ledger_items_pkey"},
    "ledger_lines": {"ix_ledger_lines_item", "ledger_lines_pkey"},
}


def ledger_plans(engine: Engine, partner_id: str) -> list[dict[str, Any]]:
    """The ledger's first page and a page from the middle, for one partner."""
    seen = listed_items(partner_id, TODAY, lateral=True)
    first = ledger_page_query(seen, [], after=None, limit=51)
    middle = ledger_page_query(seen, [], after=(OWNER, "ZG-002000"), limit=51)
    return [plan_of(engine, first), plan_of(engine, middle)]


@pytest.mark.parametrize("analysed", [False, True], ids=["no-statistics", "analysed"])
def test_every_list_reads_its_index_in_order(engine: Engine, analysed: bool) -> None:
    if analysed:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    assert statistics_absent(engine) is not analysed

    # The ledger, as its owner (every line) and as a recipient (the lines released to it:
    # a probe of the delivery's primary key a line).
    for plan in ledger_plans(engine, OWNER):
        assert_indexed(plan, {**LEDGER_READ, "deliveries": {"deliveries_pkey"}})
    for plan in ledger_plans(engine, RECIPIENT):
        assert_indexed(plan, {**LEDGER_READ, "deliveries": {"deliveries_pkey"}})

    # The referrals: the sent half and the received half, a page each along its own index
    # (the received half along the partial index of the cases a recipient may see).
    received = "ix_referral_cases_received_visible"
    for partner_id in (OWNER, RECIPIENT):
        for before in (None, (datetime(2026, 1, 3, tzinfo=UTC), "r-3000", RECIPIENT)):
            plan = plan_of(
                engine, referral_page_query(partner_id, TODAY, [], before=before, limit=51)
            )
            assert_indexed(plan, {"referral_cases": {"ix_referral_cases_sent", received}})
            halves = [n for n in nodes(plan) if n.get("Relation Name") == "referral_cases"]
            assert len(halves) == 2, plan

    # The inbox: all of it along ix_deliveries_inbox, the un-acked backlog along its own.
    for after in (None, 20_000):
        plan = plan_of(engine, inbox_query(RECIPIENT, after=after, limit=100, unacked=False))
        assert_indexed(plan, {"deliveries": {"ix_deliveries_inbox"}})
        plan = plan_of(engine, inbox_query(RECIPIENT, after=after, limit=100, unacked=True))
        assert_indexed(plan, {"deliveries": {"ix_deliveries_unacked"}})

    # The intake's lookup of the items a batch names, under the log lock (not a keyset read:
    # a bitmap may serve it, but from the keys, never by every item of the sender).
    statement, parameters = LEDGER_ITEMS.read(
        Concerned(senders={OWNER}, keys={"ZG-000001", "ZG-003999"}), "postgresql"
    )
    plan = plan_of(engine, statement, parameters, in_index_order=False)
    assert {n.get("Index Name") for n in nodes(plan)} - {None} == {"ix_ledger_items_key"}, plan
    assert all(n["Node Type"] != "Seq Scan" for n in nodes(plan)), plan

    # And of the referral cases, for a batch of a hundred: by the ids it answers and by its
    # (sender, referral id) pairs, each arm along its own index (under an OR, without
    # statistics, the table was read whole for every batch).
    batch = range(1, 4000, 40)
    statement, parameters = REFERRAL_CASES.read(
        Concerned(
            message_ids={f"r-{n}" for n in batch},
            senders={OWNER},
            keys={f"YJ-{n}" for n in batch},
        ),
        "postgresql",
    )
    plan = plan_of(engine, statement, parameters, in_index_order=False)
    used = {n.get("Index Name") for n in nodes(plan)} - {None}
    assert used == {"referral_cases_pkey", "ix_referral_cases_sender_key"}, plan
    assert all(n["Node Type"] != "Seq Scan" for n in nodes(plan)), plan


def test_a_deep_page_reads_a_page_not_the_table(engine: Engine) -> None:
    # Run, with the rows each node read: the recipient's ledger from item 3,000 of 4,000.
    seen = listed_items(RECIPIENT, TODAY, lateral=True)
    statement = ledger_page_query(seen, [], after=(OWNER, "ZG-003000"), limit=51)
    plan = plan_of(engine, statement, analyse=True)
    scans = [n for n in nodes(plan) if n.get("Relation Name") == "ledger_items"]
    assert scans, plan
    assert all(n["Actual Rows"] * n["Actual Loops"] <= 70 for n in scans), plan


def test_the_partial_index_names_the_states_a_recipient_does_not_see() -> None:
    hidden = ", ".join(f"'{state}'" for state in HIDDEN_FROM_RECIPIENT)
    assert f"state NOT IN ({hidden})" == RECEIVED_VISIBLE
