"""The ledger items in a figure's scope, each as one caller sees it as of a cut-off day
(DOMAIN.md, Version 1 additions): one report's, one year's, one unit's… items, by the rule of
``visibility.seen_items``, in SQL — item by item from a selective filter's index, or the whole
ledger as of the day by a range condition over its lines.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from sqlalchemy import (
    CTE,
    ColumnElement,
    CompoundSelect,
    Select,
    Subquery,
    and_,
    exists,
    false,
    join,
    not_,
    or_,
    select,
    text,
    true,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.orm import Session, aliased

from exchange.store.models import (
    LEDGER_STATE,
    Delivery,
    LedgerItem,
    LedgerLine,
    LedgerLineUnit,
    Message,
    UtcDateTime,
)
from exchange.supervision.days import CHINA, china_date, china_today
from exchange.supervision.overdue import ledger_overdue
from exchange.supervision.visibility import visible_lines

LEDGER_FILTERS: Final = (
    "owner",
    "source",
    "source_doc_number",
    "source_year",
    "source_project",
    "problem_category",
)
"""Filters that equal one column of a ledger item's state (``unit`` also matches co-units)."""


@dataclass(frozen=True)
class Period:
    """Which figures count: referrals by the day sent and ledger items by the day first
    reported (``start``/``end``, Beijing dates), as of ``as_of`` (default: today), within one
    report's scope (owner, source, source document, year, project, unit, problem category).
    """

    start: date | None = None
    end: date | None = None
    as_of: date | None = None
    owner: str | None = None
    source: str | None = None
    source_doc_number: str | None = None
    source_year: int | None = None
    source_project: str | None = None
    unit: str | None = None
    problem_category: str | None = None

    def holds(self, moment: datetime) -> bool:
        """Whether a moment's Beijing date lies in the period (both ends included)."""
        day = china_date(moment)
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)

    def day(self, now: datetime) -> date:
        """The cut-off day: ``as_of``, or today in Beijing."""
        return self.as_of or china_today(now)

    def ledger_scoped(self) -> bool:
        """Whether a filter narrows the ledger beyond owner and period."""
        return any(getattr(self, name) is not None for name in (*LEDGER_FILTERS[1:], "unit"))

    def filters(self) -> dict[str, Any]:
        """The filters given, by their query names (for the answer and the report titles)."""
        named = {"from": self.start, "to": self.end, "as_of": self.as_of}
        named.update({name: getattr(self, name) for name in (*LEDGER_FILTERS, "unit")})
        return {
            name: value.isoformat() if isinstance(value, date) else value
            for name, value in named.items()
            if value is not None
        }


_ALONG_INDEXES: Final = (
    "enable_hashjoin",
    "enable_mergejoin",
    "enable_bitmapscan",
    "enable_seqscan",
)


@contextmanager
def plan_settings(session: Session, *, item_by_item: bool = True) -> Iterator[None]:
    """For one statement on PostgreSQL: no JIT (its compilation costs more than the
    statement), room to group in memory, and — when the scope is read item by item — nested
    loops along the indexes whatever the statistics say (no hash or merge join over a whole
    table, no bitmap, no sequential scan where an index serves).
    """
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    connection = session.connection()
    # The hub's readers are autocommit: no transaction for SET LOCAL to last in (it would
    # do nothing). There the settings are the connection's, put back after, error or not.
    local = connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT"
    names = ("jit", *(_ALONG_INDEXES if item_by_item else ()))
    scope = "LOCAL " if local else ""
    for name in names:
        connection.execute(text(f"SET {scope}{name} = off"))
    connection.execute(text(f"SET {scope}work_mem = '{_WORK_MEM}'"))
    try:
        yield
    except BaseException:
        # After an error a transaction is over, and so are its settings; not a connection's.
        if not local:
            _reset(connection, names, local=False)
        raise
    _reset(connection, names, local=local)


def _reset(connection: Any, names: Sequence[str], *, local: bool) -> None:
    for name in (*names, "work_mem"):
        connection.execute(text(f"SET LOCAL {name} TO DEFAULT" if local else f"RESET {name}"))


_WORK_MEM: Final = "64MB"
"""Enough to group a ledger of a million items by unit and category without spilling."""


def beijing_midnight(day: date) -> datetime:
    """The first moment of a Beijing day."""
    return datetime.combine(day, time(0), CHINA)


_DRIVERS: Final = ("source_doc_number", "source_project")
"""Filters selective enough to drive the line scan item by item, each by an index of
``ledger_lines`` led by it (``unit`` too, by its own indexes); without one, the ledger as of
the day is read by a range condition (``whole_as_of``)."""


def item_by_item(period: Period) -> bool:
    """Whether the scope is read item by item from a selective filter's index."""
    return period.unit is not None or any(getattr(period, n) is not None for n in _DRIVERS)


def _candidates(period: Period, day: date) -> Select[str, str] | CompoundSelect[str, str]:
    """The keys of the items one of whose lines dated up to ``day`` matches every filter on
    a line's own columns, read by the index of the selective filter given. The item's latest
    line as of ``day`` must match them all, so the candidates hold every item in scope (and
    are checked again).
    """
    line = LedgerLine
    conditions = [line.status_date <= day]
    for name in LEDGER_FILTERS:
        value = getattr(period, name)
        if value is not None:
            conditions.append(getattr(line, name) == value)
    keys = select(line.owner, line.ledger_item_id)
    if period.unit is not None:
        co = keys.join(LedgerLineUnit, LedgerLineUnit.message_id == line.message_id)
        return union(
            keys.where(line.unit_uscc == period.unit, *conditions),
            keys.where(line.unit_name == period.unit, *conditions),
            co.where(LedgerLineUnit.unit_uscc == period.unit, *conditions),
            co.where(LedgerLineUnit.unit_name == period.unit, *conditions),
        )
    return keys.where(*conditions).distinct()


def received_keys(partner_id: str, day: date) -> Select[str, str]:
    """The keys of other owners' items of which ``partner_id`` was sent a line dated up to
    ``day`` and released (by its inbox index): the only ones it sees in part.
    """
    line = LedgerLine
    return (
        select(line.owner, line.ledger_item_id)
        .join(Delivery, Delivery.message_id == line.message_id)
        .where(Delivery.recipient == partner_id, Delivery.cursor.is_not(None))
        .where(line.owner != partner_id, line.status_date <= day)
        .distinct()
    )


def _whole(columns: Any, partner_id: str | None) -> ColumnElement[bool]:
    # Items whose every line the caller sees: everyone's for the hub, else its own.
    return true() if partner_id is None else columns.owner == partner_id


def _itself(item: Any, day: date, *, log_index: bool) -> Select[Any]:
    # An item row as its latest line left it, overdue as of ``day`` (and its entry's index).
    entry = select(Message.log_index).where(Message.id == item.last_message_id)
    return select(
        *(getattr(item, name) for name in LEDGER_STATE),
        item.first_reported_at,
        item.last_message_id,
        ledger_overdue(item, day).label("overdue"),
        *([entry.scalar_subquery().label("log_index")] if log_index else []),
    )


def whole_as_of(partner_id: str | None, day: date, *, log_index: bool) -> list[Select[Any]]:
    """Each item the caller sees whole, as of ``day``, without a search per item: the item
    row itself when its latest line is dated by then, else the one line that held its state
    on that day (dated by then, superseded by a line dated after it).
    """
    item, line = LedgerItem, LedgerLine
    current = _itself(item, day, log_index=log_index)
    current = current.where(item.status_date <= day, _whole(item, partner_id))
    held = select(
        *(getattr(line, name) for name in LEDGER_STATE),
        line.first_reported_at,
        line.message_id.label("last_message_id"),
        ledger_overdue(line, day).label("overdue"),
        *([line.log_index] if log_index else []),
    ).where(line.superseded_on > day, line.status_date <= day, _whole(line, partner_id))
    return [current, held]


def item_rows(
    partner_id: str | None,
    keys: Subquery,
    day: date,
    *,
    lateral: bool,
    log_index: bool,
    before: int | None = None,
) -> list[Select[Any]]:
    """Each item of ``keys`` as ``partner_id`` sees it as of ``day`` (the rule of
    ``visibility.seen_items``): the item row itself when the caller sees all its lines and it
    is dated up to ``day``; else its latest visible line dated up to ``day``, read item by
    item along ``ix_ledger_lines_item``. First reported at its first visible line. With
    ``before``, as the log stood at that size: only lines logged below it count.
    """
    by_key = and_(
        LedgerItem.owner == keys.c.owner, LedgerItem.ledger_item_id == keys.c.ledger_item_id
    )
    item: Any = LedgerItem
    source: Any = join(keys, item, by_key)
    if lateral:
        # Each key's item by its primary key, in the keys' order: a LATERAL the planner
        # cannot flatten (LIMIT 1), so no plan probes the items by owner alone and filters
        # every item of the owner, whatever the statistics.
        found = select(LedgerItem).where(by_key).limit(1).lateral("item")
        item = aliased(LedgerItem, found)
        source = join(keys, found, true())
    shortcut = and_(_whole(item, partner_id), item.status_date <= day)
    if before is not None:
        shortcut = false()
    itself = _itself(item, day, log_index=log_index).select_from(source)

    line, mine = LedgerLine, aliased(LedgerLine, name="latest_line")
    visible = (
        select(line.message_id)
        .where(line.owner == item.owner, line.ledger_item_id == item.ledger_item_id)
        .where(true() if partner_id is None else visible_lines(partner_id))
        .where(true() if before is None else line.log_index < before)
    )
    newest = visible.where(line.status_date <= day).order_by(line.log_index.desc()).limit(1)
    first = visible.with_only_columns(line.reported_at).order_by(line.log_index).limit(1)
    by_line = select(
        item.owner,
        item.ledger_item_id,
        *(getattr(mine, name) for name in LEDGER_STATE[2:]),
        type_coerce(first.scalar_subquery(), UtcDateTime()).label("first_reported_at"),
        mine.message_id.label("last_message_id"),
        ledger_overdue(mine, day).label("overdue"),
        *([mine.log_index] if log_index else []),
    ).select_from(source)
    if lateral:
        latest = newest.lateral("latest")
        by_line = by_line.join(latest, true()).join(mine, mine.message_id == latest.c.message_id)
    else:
        by_line = by_line.join(mine, mine.message_id == newest.scalar_subquery())
    return [itself.where(shortcut), by_line.where(not_(shortcut))]


def _seen_in_scope(
    partner_id: str | None,
    period: Period,
    day: date,
    *,
    lateral: bool,
    log_index: bool,
    received_only: bool,
) -> Subquery:
    """Each item in scope as ``partner_id`` sees it as of ``day`` (and some beyond, checked
    again): a selective filter's items one by one; else the items it sees whole as of the
    day by a range condition (unless ``received_only``), and the others' items it was sent,
    one by one.
    """
    if item_by_item(period):
        keys = _candidates(period, day).subquery("candidate")
        branches = item_rows(partner_id, keys, day, lateral=lateral, log_index=log_index)
    else:
        branches = [] if received_only else whole_as_of(partner_id, day, log_index=log_index)
        if partner_id is not None:
            keys = received_keys(partner_id, day).subquery("received")
            branches += item_rows(partner_id, keys, day, lateral=lateral, log_index=log_index)
    if period.owner is not None:
        branches = [b.where(b.selected_columns.owner == period.owner) for b in branches]
    return union_all(*branches).subquery("seen")


def scoped_items(
    partner_id: str | None,
    period: Period,
    day: date,
    *,
    lateral: bool,
    log_index: bool = True,
    columns: Sequence[str] | None = None,
    received_only: bool = False,
) -> CTE:
    """The ledger items in scope, each as ``partner_id`` sees it as of ``day`` (only
    ``columns`` of them, when given): only the lines of the scope's candidate items are read
    (``lateral`` where the database has it). With ``received_only`` (and no selective
    filter), only the other owners' items the partner was sent.
    """
    seen = _seen_in_scope(
        partner_id, period, day, lateral=lateral, log_index=log_index, received_only=received_only
    )
    query = select(*(seen.c[name] for name in columns)) if columns else select(seen)
    for name in LEDGER_FILTERS:
        value = getattr(period, name)
        if value is not None:
            query = query.where(seen.c[name] == value)
    if period.unit is not None:
        co_unit = exists().where(
            LedgerLineUnit.message_id == seen.c.last_message_id,
            or_(LedgerLineUnit.unit_uscc == period.unit, LedgerLineUnit.unit_name == period.unit),
        )
        query = query.where(
            or_(seen.c.unit_uscc == period.unit, seen.c.unit_name == period.unit, co_unit)
        )
    return query.where(*reported_within(seen.c.first_reported_at, period)).cte("scoped")


def reported_within(first_reported_at: Any, period: Period) -> list[ColumnElement[bool]]:
    """Items first reported on the period's days (Beijing dates, both ends included)."""
    conditions = []
    if period.start is not None:
        conditions.append(first_reported_at >= beijing_midnight(period.start))
    if period.end is not None:
        conditions.append(first_reported_at < beijing_midnight(period.end + timedelta(days=1)))
    return conditions
