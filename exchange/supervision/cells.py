"""The whole ledger's sums per cell as of a cut-off day, kept per process and brought up to
date from the transparency log (issue 13; issue 15, item 2).

A cell is the finest slice a wide figure is asked by: owner, source, year, problem category,
responsible unit, cited referral. For one cut-off day and one first-reported range, the
cells of every item as its owner sees it are made once by one scan of the ledger as of that
day (``scope.whole_as_of``), stamped with the log's size read in the same statement, and kept
(``kept``). Later asks read only the items with lines logged since: their sums as the log
stood at the old size go out and their sums at the new size come in.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import (
    ColumnElement,
    FromClause,
    Select,
    Subquery,
    and_,
    case,
    func,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from exchange.store.models import LedgerLine, LedgerLineAct
from exchange.supervision.kept import Kept, Source, Sums, kept_for
from exchange.supervision.scope import (
    Period,
    item_rows,
    plan_settings,
    reported_within,
    whole_as_of,
)
from exchange.supervision.states import LEDGER_DONE
from exchange.transparency.tree import NEXT_INDEX
from schemas import AMOUNT_CATEGORIES, RECTIFICATION_STATUSES, SUPERVISION_KINDS

CELL: Final = (
    "owner",
    "source",
    "source_year",
    "problem_category",
    "unit_name",
    "unit_uscc",
    "referral_id",
)
"""What a cell is keyed by."""

COUNTS: Final = (
    "total",
    *(f"n_{status}" for status in RECTIFICATION_STATUSES),
    "overdue",
    "immediate_total",
    "immediate_done",
    "rules_made",
    "persons_held_accountable",
    # How many items gave each amount category: a category none gave stays absent.
    *(f"c_{category}" for category in AMOUNT_CATEGORIES),
    *(f"act_{kind}" for kind in SUPERVISION_KINDS),
)
AMOUNTS: Final = (
    "amount_involved",
    "amount_rectified",
    *(f"a_{category}" for category in AMOUNT_CATEGORIES),
)
SUMS: Final = (*COUNTS, *AMOUNTS)
"""A cell's sums."""

ITEM_COLUMNS: Final = (
    *CELL,
    "status",
    "overdue",
    "rectification_class",
    "amount_involved",
    "amount_rectified",
    "rules_made",
    "persons_held_accountable",
    *(f"amount_{category}" for category in AMOUNT_CATEGORIES),
    "last_message_id",
)
"""What the sums read of each item in scope."""

Cells = Sums

PATCH_LIMIT: Final = 2000
"""Items with new lines beyond which the cells are made again by a scan."""

_ENTRIES: Final = 32
"""Cut-off days and ranges kept per engine, the least recently used dropped first."""

CELLS_KEPT: Final = 100_000
"""Cells kept per engine in all (a cell is about 2 KB): beyond it the least recently used
entries go, and a cut-off with more cells than that alone is answered but not kept."""


def cell_statement(items: FromClause, day: date, *, acts_joined: bool) -> Select[Any]:
    """The items' sums per cell, with their supervision acts dated by ``day`` by kind: the
    acts joined from one pass over those dated by then (``acts_joined``, for the whole
    ledger), or looked up item by item (for a few items).
    """
    c, act = items.c, LedgerLineAct
    if acts_joined:
        per_message = (
            select(
                act.message_id,
                *(func.sum(case((act.kind == k, 1), else_=0)).label(k) for k in SUPERVISION_KINDS),
            )
            .where(act.day <= day)
            .group_by(act.message_id)
            .subquery("acts")
        )
        kinds = [func.coalesce(per_message.c[k], 0).label(f"act_{k}") for k in SUPERVISION_KINDS]
        source: FromClause = items.outerjoin(
            per_message, per_message.c.message_id == c.last_message_id
        )
    else:
        kinds = [
            select(func.count())
            .where(act.message_id == c.last_message_id, act.day <= day, act.kind == k)
            .scalar_subquery()
            .label(f"act_{k}")
            for k in SUPERVISION_KINDS
        ]
        source = items
    row = select(*(c[name] for name in ITEM_COLUMNS), *kinds).select_from(source).subquery("item")
    r = row.c

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def total(column: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(column), 0)

    done = and_(r.rectification_class == "immediate", r.status.in_(sorted(LEDGER_DONE)))
    return select(
        *(r[name] for name in CELL),
        func.count().label("total"),
        *(count(r.status == status).label(f"n_{status}") for status in RECTIFICATION_STATUSES),
        count(r.overdue).label("overdue"),
        count(r.rectification_class == "immediate").label("immediate_total"),
        count(done).label("immediate_done"),
        total(r.rules_made).label("rules_made"),
        total(r.persons_held_accountable).label("persons_held_accountable"),
        *(func.count(r[f"amount_{a}"]).label(f"c_{a}") for a in AMOUNT_CATEGORIES),
        *(total(r[f"act_{k}"]).label(f"act_{k}") for k in SUPERVISION_KINDS),
        total(r.amount_involved).label("amount_involved"),
        total(r.amount_rectified).label("amount_rectified"),
        *(total(r[f"amount_{a}"]).label(f"a_{a}") for a in AMOUNT_CATEGORIES),
    ).group_by(*(r[name] for name in CELL))


def cells_of(rows: Iterable[Mapping[str, Any]]) -> Cells:
    """Rows of ``cell_statement`` keyed by their cell."""
    return {tuple(row[n] for n in CELL): {n: row[n] for n in SUMS} for row in rows}


_ZERO: Final = {n: 0 for n in COUNTS} | {n: Decimal(0) for n in AMOUNTS}


def _scan(session: Session, period: Period, day: date, size: int) -> tuple[Cells, int]:
    # One statement over the whole ledger as of the day, and the log's size it saw. With no
    # item in scope the size read before stands: items only join a scope as lines come.
    items = _reported_within(whole_as_of(None, day, log_index=False), period)
    statement = cell_statement(items, day, acts_joined=True).add_columns(
        NEXT_INDEX.scalar_subquery().label("log_size")
    )
    with plan_settings(session, item_by_item=False):
        rows = [dict(row) for row in session.execute(statement).mappings()]
    return cells_of(rows), int(rows[0]["log_size"]) if rows else size


def _cells_before(
    session: Session, keys: Subquery, period: Period, day: date, before: int
) -> Cells:
    # The changed items' sums per cell as the log stood below ``before``.
    lateral = session.get_bind().dialect.name == "postgresql"
    statement = cells_before(keys, period, day, before=before, lateral=lateral)
    with plan_settings(session):
        return cells_of(dict(row) for row in session.execute(statement).mappings())


def changed_items(start: int, end: int) -> Subquery:
    """The keys of the items with lines logged at indices ``start`` up to ``end`` (by
    ``ix_ledger_lines_log_index``).
    """
    line = LedgerLine
    return (
        select(line.owner, line.ledger_item_id)
        .where(line.log_index >= start, line.log_index < end)
        .distinct()
        .subquery("changed")
    )


def cells_before(
    keys: Subquery, period: Period, day: date, *, before: int, lateral: bool
) -> Select[Any]:
    """The sums per cell of the items of ``keys`` as of ``day``, first reported within the
    period, as the log stood at size ``before``: each item's latest line logged below it,
    read item by item.
    """
    rows = item_rows(None, keys, day, lateral=lateral, log_index=False, before=before)
    return cell_statement(_reported_within(rows, period), day, acts_joined=False)


def _reported_within(rows: list[Select[Any]], period: Period) -> Subquery:
    # The rows of items first reported within the period.
    seen = union_all(*rows).subquery("seen")
    return select(seen).where(*reported_within(seen.c.first_reported_at, period)).subquery()


def _cache() -> Kept:
    return Kept(
        Source(
            scan=lambda *args: _scan(*args),
            changed=changed_items,
            before=_cells_before,
            zero=_ZERO,
            count="total",
            limit=lambda: PATCH_LIMIT,
            derive=lambda sums: None,
        ),
        entries=_ENTRIES,
        budget=lambda: CELLS_KEPT,
    )


def whole_cells(session: Session, period: Period, day: date) -> Cells:
    """The cells of every owner's items as of ``day`` within the period's first-reported
    range, from the cache of the session's engine.
    """
    return kept_for(session, "ledger cells", _cache).entry(session, period, day).sums
