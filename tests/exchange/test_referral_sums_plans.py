"""The referral sums' catch-up on PostgreSQL, with and without planner statistics: it finds
the referrals moved since by ``ix_transitions_log_index`` and reads only their cases and
steps — index scans, the rows read bounded by the changed referrals — under
``EXPLAIN (ANALYZE)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine

from exchange.supervision.referral_sums import case_rows, changed_referrals, sums_statement
from exchange.supervision.scope import Period
from tests.conftest import PG_URL
from tests.exchange.test_figures_plans import plan_as_run
from tests.exchange.test_query_plans import filled_database, nodes

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="PostgreSQL only (EXCHANGE_TEST_DATABASE_URL)"
)

SENDER = "audit.sumplans"
CASES, STEPS = 4000, 3
AS_OF = date(2022, 6, 30)
_TABLES = {"referral_cases", "transitions"}

_FILL = [
    "SET session_replication_role = replica",
    # Case g: referral YJ-g to one body, its steps logged at g * 10 + s, a month apart.
    f"""INSERT INTO referral_cases (message_id, recipient, sender, referral_id, issue_category,
        sent_at, feedback_due, state, released_at, first_feedback_at, persons_handled,
        recovered_amount, updated_at)
      SELECT 'm-' || g, 'discipline.sumplans', '{SENDER}', 'YJ-' || g, 'cat ' || g % 5,
        timestamptz '2022-01-10 08:00+08', date '2022-04-30', 'accepted',
        timestamptz '2022-01-11 08:00+08', timestamptz '2022-02-11 08:00+08', 0, 0, now()
      FROM generate_series(1, {CASES}) g""",
    f"""INSERT INTO transitions (kind, owner, key, log_index, party, message_id, from_state,
        to_state, at, business_date)
      SELECT 'referral', '{SENDER}', 'YJ-' || g, g * 10 + s, 'discipline.sumplans',
        CASE WHEN s = 2 THEN 'f-' || g ELSE 'm-' || g END, NULL,
        (ARRAY['pending_review', 'released', 'accepted'])[s + 1],
        now(), date '2022-01-10' + s * 30
      FROM generate_series(1, {CASES}) g, generate_series(0, {STEPS - 1}) s""",
]


@pytest.fixture(scope="module", params=["bare", "analysed"])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated database of its own, filled; analysed or never."""
    for engine in filled_database(f"_sumplans_{request.param}", _FILL):
        if request.param == "analysed":
            with engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")
        yield engine


def rows_read(plan: dict[str, Any]) -> int:
    """Rows the scans of the cases and steps read, over every loop, filtered ones too."""
    return sum(
        (int(node["Actual Rows"]) + int(node.get("Rows Removed by Filter", 0)))
        * int(node["Actual Loops"])
        for node in nodes(plan)
        if node.get("Relation Name") in _TABLES
    )


@pytest.mark.parametrize("before", [100 * 10, 140 * 10], ids=["old-size", "new-size"])
def test_the_catch_up_reads_only_the_changed_referrals(engine: Engine, before: int) -> None:
    # Referrals 100 to 139 have steps logged at indices 1000 to 1399.
    keys = changed_referrals(100 * 10, 140 * 10)
    rows = case_rows(Period(), AS_OF, dialect="postgresql", keys=keys, before=before)
    plan = plan_as_run(engine, sums_statement(rows, AS_OF))
    for node in nodes(plan):
        if node.get("Relation Name") in _TABLES:
            assert node["Node Type"] in {"Index Scan", "Index Only Scan"}, (node, plan)
    # The changed steps (40 × 3 and their neighbours at most), then per changed referral
    # its case and, for the state and the feedback, its steps twice.
    assert 0 < rows_read(plan) <= 41 * STEPS + 40 * (1 + 2 * STEPS), (rows_read(plan), plan)
