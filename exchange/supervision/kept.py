"""Sums kept per process for one cut-off day and first-reported range, made by a scan and
brought up to date from the transparency log (issue 15, item 2).

An entry is stamped with the log's size its scan saw. A later ask reads only what was logged
since (``catch_up``) and moves the sums on; when that is too much, it scans again. An entry
is used only while the log's root at its size is the root it was made at (RFC 6962 §2.1: the
same root, the same entries below it), so the sums answer exactly what a scan would, whatever
the process holds: the cache decides only how much is read.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from exchange.supervision.scope import Period
from exchange.transparency.tree import StoredTree

T = TypeVar("T")

Scan = Callable[[Session, Period, date, int], tuple[T, int]]
"""The sums as of a day by one statement, and the log size it saw (the size read before when
it saw nothing)."""

CatchUp = Callable[[Session, T, int, int, Period, date], T | None]
"""The sums moved from the log's size ``start`` to ``end``; None when too much changed."""


@dataclass
class Entry(Generic[T]):
    """Sums as the log stood at ``size``, whose root was ``root``; ``derived`` holds what the
    figures compute from them, once per entry.
    """

    size: int
    root: bytes
    sums: T
    derived: dict[str, Any] = field(default_factory=dict)


class Kept(Generic[T]):
    """One engine's entries per cut-off day and first-reported range (least recently used
    dropped first, past ``entries`` or past ``budget`` in all by ``weight``), safe to share
    between a process's threads.
    """

    def __init__(
        self,
        scan: Scan[T],
        catch_up: CatchUp[T],
        weight: Callable[[T], int],
        *,
        entries: int,
        budget: Callable[[], int],
    ) -> None:
        self._scan, self._catch_up, self._weight = scan, catch_up, weight
        self._limits = (entries, budget)
        self._entries: OrderedDict[tuple[Any, ...], Entry[T]] = OrderedDict()
        self._lock = threading.Lock()

    def entry(self, session: Session, period: Period, day: date) -> Entry[T]:
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
            sums, size = self._scan(session, period, day, size)
            fresh = Entry(size, tree.root(size), sums)
        with self._lock:
            self._entries[key] = fresh
            self._entries.move_to_end(key)
            entries, budget = self._limits[0], self._limits[1]()
            kept = sum(self.weights())
            while self._entries and (len(self._entries) > entries or kept > budget):
                _, dropped = self._entries.popitem(last=False)
                kept -= self._weight(dropped.sums)
        return fresh

    def weights(self) -> list[int]:
        """What each entry kept weighs."""
        return [self._weight(e.sums) for e in self._entries.values()]

    def _caught_up(
        self, session: Session, entry: Entry[T], size: int, period: Period, day: date
    ) -> Entry[T] | None:
        sums = self._catch_up(session, entry.sums, entry.size, size, period, day)
        if sums is None:
            return None
        return Entry(size, StoredTree(session.connection()).root(size), sums)


Sums = dict[tuple[Any, ...], dict[str, Any]]
"""Sums per cell: what each cell is keyed by, and its sums by name."""


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


_ENGINES: weakref.WeakKeyDictionary[Engine, dict[str, Kept[Any]]] = weakref.WeakKeyDictionary()
_ENGINES_LOCK = threading.Lock()


def kept_for(session: Session, name: str, make: Callable[[], Kept[T]]) -> Kept[T]:
    """The session's engine's cache called ``name``, made on first use."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _ENGINES_LOCK:
        caches = _ENGINES.setdefault(engine, {})
        if name not in caches:
            caches[name] = make()
        return caches[name]


def kept_weights(name: str) -> list[int]:
    """What each entry of every engine's cache called ``name`` weighs."""
    with _ENGINES_LOCK:
        return [w for caches in _ENGINES.values() if name in caches for w in caches[name].weights()]


def forget() -> None:
    """Every entry of every cache dropped (the next ask scans)."""
    with _ENGINES_LOCK:
        _ENGINES.clear()
