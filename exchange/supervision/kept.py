"""Sums kept per process for one cut-off day and first-reported range, made by a scan and
brought up to date from the transparency log (issue 15, item 2).

An entry is stamped with the log's size its scan saw. A later ask reads again only the keys
(items, referrals) with entries logged since: their sums as the log stood at the old size go
out and their sums at the new size come in; past a limit of such keys, it scans again. An
entry is used only while the log's root at its size is the root it was made at (RFC 6962
§2.1: the same root, the same entries below it), so the sums answer exactly what a scan
would, whatever the process holds: the cache decides only how much is read.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, Subquery, func, select
from sqlalchemy.orm import Session

from exchange.supervision.scope import Period
from exchange.transparency.tree import StoredTree

Sums = dict[tuple[Any, ...], dict[str, Any]]
"""Sums per cell: what each cell is keyed by, and its sums by name."""


@dataclass(frozen=True)
class Source:
    """How one kind of sums is made, and moved on from one log size to another.

    Each callable is looked up when called, so that a limit or a scan replaced at run time
    (by a test) is the one used.
    """

    scan: Callable[[Session, Period, date, int], tuple[Sums, int]]
    """The sums as of a day by one statement, and the log size it saw (the size read before
    when it saw nothing)."""
    changed: Callable[[int, int], Subquery]
    """The keys with entries logged at indices ``start`` up to ``end``."""
    before: Callable[[Session, Subquery, Period, date, int], Sums]
    """The sums of those keys' rows as the log stood below a size."""
    zero: dict[str, Any]
    """A cell's sums when it holds nothing."""
    count: str
    """The sum that says whether a cell holds anything."""
    limit: Callable[[], int]
    """Changed keys beyond which the sums are made again by a scan."""
    derive: Callable[[Sums], Any]
    """What the figures compute from the sums, once per entry."""


@dataclass(frozen=True)
class Entry:
    """Sums as the log stood at ``size``, whose root was ``root``, and what is derived."""

    size: int
    root: bytes
    sums: Sums
    derived: Any


def moved(sums: Sums, out: Sums, into: Sums, zero: dict[str, Any], count: str) -> Sums:
    """The sums with some rows' old sums taken out and their new sums put in; a cell whose
    ``count`` falls to nothing goes.
    """
    result = {key: dict(cell) for key, cell in sums.items()}
    for sign, part in ((-1, out), (1, into)):
        for key, cell in part.items():
            kept = result.setdefault(key, dict(zero))
            for name in zero:
                kept[name] += sign * cell[name]
    return {key: cell for key, cell in result.items() if cell[count]}


class Kept:
    """One engine's entries of one source per cut-off day and first-reported range (least
    recently used dropped first, past ``entries`` or past ``budget`` cells in all), safe to
    share between a process's threads.
    """

    def __init__(self, source: Source, *, entries: int, budget: Callable[[], int]) -> None:
        self._source = source
        self._limits = (entries, budget)
        self._entries: OrderedDict[tuple[Any, ...], Entry] = OrderedDict()
        self._lock = threading.Lock()

    def entry(self, session: Session, period: Period, day: date) -> Entry:
        """The sums as of ``day`` for the period's first-reported range, as the log stands."""
        key = (day, period.start, period.end)
        with self._lock:
            entry = self._entries.get(key)
        tree = StoredTree(session.connection())
        size = tree.size()
        fresh = None
        if entry is not None and entry.size <= size and tree.root(entry.size) == entry.root:
            fresh = entry
            if entry.size < size:
                fresh = self._caught_up(session, entry, size, period, day)
        if fresh is None:
            sums, size = self._source.scan(session, period, day, size)
            fresh = Entry(size, tree.root(size), sums, self._source.derive(sums))
        with self._lock:
            self._entries[key] = fresh
            self._entries.move_to_end(key)
            entries, budget = self._limits[0], self._limits[1]()
            kept = sum(self.weights())
            while self._entries and (len(self._entries) > entries or kept > budget):
                _, dropped = self._entries.popitem(last=False)
                kept -= len(dropped.sums)
        return fresh

    def weights(self) -> list[int]:
        """How many cells each entry keeps."""
        return [len(e.sums) for e in self._entries.values()]

    def _caught_up(
        self, session: Session, entry: Entry, size: int, period: Period, day: date
    ) -> Entry | None:
        # The entry with the keys that have entries logged in [entry.size, size) moved from
        # their sums at the old size to those at the new; None when they are too many.
        source = self._source
        keys = source.changed(entry.size, size)
        changed = session.execute(select(func.count()).select_from(keys)).scalar_one()
        if changed > source.limit():
            return None
        sums, derived = entry.sums, entry.derived
        if changed:
            out, into = (source.before(session, keys, period, day, n) for n in (entry.size, size))
            sums = moved(sums, out, into, source.zero, source.count)
            derived = source.derive(sums)
        return Entry(size, StoredTree(session.connection()).root(size), sums, derived)


_ENGINES: weakref.WeakKeyDictionary[Engine, dict[str, Kept]] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()


def kept_for(session: Session, name: str, make: Callable[[], Kept]) -> Kept:
    """The session's engine's cache called ``name``, made on first use."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _ENGINES_LOCK:
        caches = _ENGINES.setdefault(engine, {})
        if name not in caches:
            caches[name] = make()
        return caches[name]


def kept_weights(name: str) -> list[int]:
    """How many cells each entry of every engine's cache called ``name`` keeps."""
    with _ENGINES_LOCK:
        return [w for caches in _ENGINES.values() if name in caches for w in caches[name].weights()]


def forget() -> None:
    """Every entry of every cache dropped (the next ask scans)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()
