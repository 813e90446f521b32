"""The figures' statements on PostgreSQL, with and without planner statistics: a selective
filter (one report's ``source_doc_number``, one unit) reads only its items' lines, and the
cells' catch-up only the lines of the items logged since — index scans, no sequential scan
of ``ledger_lines`` or ``ledger_items``, the rows read bounded by the scope's lines — under
``EXPLAIN (ANALYZE)``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.supervision.cells import cells_before, changed_items
from exchange.supervision.figures import ledger_statement
from exchange.supervision.scope import Period, plan_settings
from tests.conftest import PG_URL
from tests.exchange.test_query_plans import filled_database, nodes, statistics_absent

pytestmark = pytest.mark.skipif(
    PG_URL is None, reason="PostgreSQL only (EXCHANGE_TEST_DATABASE_URL)"
)

OWNER = "audit.figplans"
ITEMS, LINES, DOCS, UNITS = 4000, 4, 40, 200
AS_OF = date(2022, 6, 30)

_FILL = [
    "SET session_replication_role = replica",
    # Each item: LINES lines, status dates a month apart from January; its report and unit
    # fixed by its number (ITEMS / DOCS items a report, ITEMS / UNITS a unit).
    f"""INSERT INTO ledger_lines (message_id, owner, ledger_item_id, log_index, received_at,
        source, source_doc_number, unit_name, unit_uscc, rectification_class, status, deadline,
        amount_involved, amount_rectified, rules_made, persons_held_accountable, reported_at,
        status_date, problem_category, first_reported_at, superseded_on)
      SELECT 'm-' || g || '-' || s, '{OWNER}', 'ZG-' || lpad(g::text, 6, '0'), g * 10 + s,
        now(), 'audit', 'doc-' || g % {DOCS}, 'unit ' || g % {UNITS}, 'U' || g % {UNITS},
        'immediate', CASE WHEN s = {LINES - 1} THEN 'completed' ELSE 'in_progress' END,
        '2022-09-30', 100, 10 * s, 0, 0, now(), date '2022-01-10' + s * 60,
        'cat ' || g % 7, now(),
        CASE WHEN s < {LINES - 1} THEN date '2022-01-10' + (s + 1) * 60 END
      FROM generate_series(1, {ITEMS}) g, generate_series(0, {LINES - 1}) s""",
    f"""INSERT INTO ledger_items (owner, ledger_item_id, first_reported_at, last_message_id,
        source, source_doc_number, unit_name, unit_uscc, rectification_class, status, deadline,
        amount_involved, amount_rectified, rules_made, persons_held_accountable, reported_at,
        status_date, problem_category)
      SELECT owner, ledger_item_id, now(), message_id, source, source_doc_number, unit_name,
        unit_uscc, rectification_class, status, deadline, amount_involved, amount_rectified,
        rules_made, persons_held_accountable, reported_at, status_date, problem_category
      FROM ledger_lines WHERE log_index % 10 = {LINES - 1}""",
]


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A migrated database of its own, filled and never analysed."""
    yield from filled_database("_figplans", _FILL)


def analysed_plan(engine: Engine, period: Period, partner_id: str | None) -> dict[str, Any]:
    """The statement's plan as run, with the settings the hub runs it with."""
    return plan_as_run(engine, ledger_statement(partner_id, period, AS_OF, lateral=True))


def plan_as_run(engine: Engine, statement: Any) -> dict[str, Any]:
    """A statement's plan as run (``EXPLAIN ANALYZE``), with the item-by-item settings."""
    compiled = statement.compile(
        dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
    )
    with Session(engine) as session, session.begin(), plan_settings(session):
        row = session.connection().exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + str(compiled), compiled.params
        )
        (value,) = row.one()
    plan = value if not isinstance(value, str) else json.loads(value)
    return dict(plan[0]["Plan"])


def lines_read(plan: dict[str, Any]) -> int:
    """Rows the scans of ``ledger_lines`` and ``ledger_items`` read, over every loop: those
    they returned and those their filters removed (a whole index read and filtered counts).
    """
    return sum(
        (int(node["Actual Rows"]) + int(node.get("Rows Removed by Filter", 0)))
        * int(node["Actual Loops"])
        for node in nodes(plan)
        if node.get("Relation Name") in {"ledger_lines", "ledger_items"}
    )


def assert_scoped(plan: dict[str, Any], bound: int) -> None:
    for node in nodes(plan):
        if node.get("Relation Name") in {"ledger_lines", "ledger_items"}:
            assert node["Node Type"] in {"Index Scan", "Index Only Scan"}, (node, plan)
    assert 0 < lines_read(plan) <= bound, (lines_read(plan), plan)


FILTERS = [
    pytest.param(Period(source_doc_number="doc-7", as_of=AS_OF), ITEMS // DOCS, id="report"),
    pytest.param(Period(unit="U17", as_of=AS_OF), ITEMS // UNITS, id="unit-uscc"),
    pytest.param(Period(unit="unit 17", as_of=AS_OF), ITEMS // UNITS, id="unit-name"),
]


@pytest.mark.parametrize(("period", "items"), FILTERS)
@pytest.mark.parametrize("partner_id", [OWNER, None, "discipline.other"])
def test_selective_filter_reads_only_its_lines(
    engine: Engine, period: Period, items: int, partner_id: str | None
) -> None:
    assert statistics_absent(engine)
    # Each item of the scope: its lines found by the filter's index, then its item row and
    # its latest line (at most LINES each); nothing of the other items.
    bound = items * (3 * LINES + 2)
    assert_scoped(analysed_plan(engine, period, partner_id), bound)


@pytest.mark.parametrize("before", [100 * 10, 140 * 10], ids=["old-size", "new-size"])
def test_the_cells_catch_up_reads_only_the_changed_items(engine: Engine, before: int) -> None:
    assert statistics_absent(engine)
    # Items 100 to 139 have lines logged at indices 1000 to 1399 (g * 10 + s).
    keys = changed_items(100 * 10, 140 * 10)
    statement = cells_before(keys, Period(), AS_OF, before=before, lateral=True)
    assert_scoped(plan_as_run(engine, statement), 40 * (3 * LINES + 2))


@pytest.fixture(scope="module")
def analysed() -> Iterator[Engine]:
    """The same rows in a database of their own, analysed."""
    for engine in filled_database("_figplans_analysed", _FILL):
        with engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
        yield engine


@pytest.mark.parametrize(("period", "items"), FILTERS)
def test_with_statistics_the_plans_keep_their_shape(
    analysed: Engine, period: Period, items: int
) -> None:
    assert not statistics_absent(analysed)
    assert_scoped(analysed_plan(analysed, period, OWNER), items * (3 * LINES + 2))
    keys = changed_items(100 * 10, 140 * 10)
    statement = cells_before(keys, Period(), AS_OF, before=140 * 10, lateral=True)
    assert_scoped(plan_as_run(analysed, statement), 40 * (3 * LINES + 2))
