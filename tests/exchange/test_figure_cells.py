"""The figures' cells kept across asks (``supervision.cells``) answer exactly what a fresh
scan answers: after lines logged since (caught up), past the catch-up limit (scanned again),
after the log was replaced under them (its root differs) — for every caller and wide scope,
against a cold cache, and against the items as ``visibility.seen_items`` defines them.
Lines go in over real HTTP, signed, in batches.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from adapters.client import SendResult
from exchange.hub import Hub
from exchange.store.models import Base
from exchange.supervision import cells, kept
from exchange.supervision.figures import stats
from exchange.supervision.scope import Period
from exchange.supervision.states import LEDGER_DONE
from exchange.supervision.visibility import seen_items, seen_rows
from schemas import examples
from schemas.codes import uscc_check_character
from tests.support import PartnerKeys

Partners = dict[str, PartnerKeys]

START = date(2025, 1, 6)
CATEGORIES = ["财务管理", "预算执行", "政府采购"]
UNITS = [
    {
        "name": f"燕良区某单位{n}",
        "uscc": f"91610114MA00000{n}X" + uscc_check_character(f"91610114MA00000{n}X"),
    }
    for n in range(4)
]
DOCS = ["阎审报〔2025〕1号", "阎审报〔2025〕2号"]
NEXT = {  # one allowed next status (RECTIFICATION_TRANSITIONS), the item's path
    "pending": "in_progress",
    "in_progress": "submitted",
    "submitted": "completed",
    "completed": "closed",
    "closed": "pending",
}
PERIODS = [
    Period(),
    Period(as_of=date(2025, 3, 31)),
    Period(as_of=date(2025, 6, 30), start=date(2025, 1, 1), end=date(2025, 2, 28)),
    Period(problem_category=CATEGORIES[1]),
    Period(source_year=2025, as_of=date(2025, 5, 15)),
    Period(owner=examples.INSPECTION, as_of=date(2025, 4, 30)),
]


@dataclass
class Ledger:
    """What the test has sent: each item's status and last status date, per sender."""

    rng: random.Random
    items: dict[tuple[str, str], tuple[str, date]] = field(default_factory=dict)

    def lines(self, sender: str, new: int, moved: int) -> list[dict[str, Any]]:
        """``new`` items' first lines and the next line of ``moved`` earlier items."""
        envelopes = []
        mine = [key for key in self.items if key[0] == sender]
        for key in self.rng.sample(mine, min(moved, len(mine))):
            # Some items move twice in one batch: the batch's first line is superseded too.
            for _ in range(self.rng.choice([1, 1, 2])):
                status, last = self.items[key]
                envelopes.append(self._line(key, NEXT[status], last))
        for _ in range(new):
            key = (sender, f"ZG-{self.rng.getrandbits(40):010x}")
            envelopes.append(self._line(key, "pending", START))
        return envelopes

    def _line(self, key: tuple[str, str], status: str, after: date) -> dict[str, Any]:
        # A status dated on or after the item's last (the same day too), within 2025.
        day = min(after + timedelta(days=self.rng.choice([0, 3, 20, 45])), date(2025, 12, 31))
        payload: dict[str, Any] = {
            "ledger_item_id": key[1],
            "status_date": day.isoformat(),
            "problem_category": self.rng.choice(CATEGORIES),
            "responsible_unit": self.rng.choice(UNITS),
            "source_doc_number": self.rng.choice(DOCS),
            "deadline": (START + timedelta(days=self.rng.randrange(30, 200))).isoformat(),
        }
        if self.rng.random() < 0.5:
            amount = f"{self.rng.randrange(1, 10**6)}.00"
            category = self.rng.choice(["recovered", "violation"])
            payload["amounts"] = [{"category": category, "amount": amount}]
        if self.rng.random() < 0.3:
            act_day = day - timedelta(days=self.rng.randrange(0, 60))
            payload["supervision"] = [{"kind": "interview", "date": act_day.isoformat()}]
        if key[0] == examples.INSPECTION:
            payload["source"] = "inspection"
        self.items[key] = (status, day)
        others = [
            p for p in (examples.AUDIT, examples.DISCIPLINE, examples.INSPECTION) if p != key[0]
        ]
        raw = examples.rectification_example(
            status=status, sender=key[0], recipients=others, payload=payload
        )
        raw["subject"] = key[1]
        return raw


def send(partners: Partners, base_url: str, ledger: Ledger, new: int, moved: int) -> None:
    for body in ("audit", "inspection"):
        keys = partners[body]
        envelopes = ledger.lines(keys.partner_id, new, moved)
        results = keys.client(base_url).send_batch(envelopes)
        refused = [r for r in results if not isinstance(r, SendResult)]
        assert not refused, refused


CALLERS = [None, examples.AUDIT, examples.INSPECTION, examples.DISCIPLINE]


def figures(hub: Hub) -> dict[tuple[int, str | None], dict[str, Any]]:
    """The ledger figures of every period for every caller, as the hub answers them."""
    answers = {}
    with hub.readers() as session:
        for n, period in enumerate(PERIODS):
            for caller in CALLERS:
                answer = stats(session, caller, period, hub.now())
                answers[(n, caller)] = answer["rectification"] | {"acc": answer["accountability"]}
    return answers


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times the cells were made by a whole scan (the real scan, counted)."""
    made: list[int] = []
    real = cells._scan

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(cells, "_scan", counted)
    yield made


def cold(hub: Hub) -> dict[tuple[int, str | None], dict[str, Any]]:
    """The same figures from an empty cache."""
    kept.forget()
    return figures(hub)


def test_cells_caught_up_on_new_lines_answer_what_a_scan_answers(
    base_url: str, hub: Hub, partners: Partners, scans: list[int]
) -> None:
    ledger = Ledger(random.Random(13))
    send(partners, base_url, ledger, new=25, moved=0)
    first = cold(hub)
    assert scans, "a cold cache is made by a scan"
    for _ in range(3):
        send(partners, base_url, ledger, new=5, moved=15)
        scans.clear()
        warm = figures(hub)
        assert not scans, "a warm cache catches up on the lines since, without a scan"
        assert warm == cold(hub)
    assert warm != first, "the later lines moved the figures"
    assert_as_seen(hub, warm)


def test_past_the_catch_up_limit_the_cells_are_scanned_again(
    base_url: str, hub: Hub, partners: Partners, scans: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(random.Random(15))
    send(partners, base_url, ledger, new=20, moved=0)
    cold(hub)
    monkeypatch.setattr(cells, "PATCH_LIMIT", 3)
    send(partners, base_url, ledger, new=2, moved=10)
    scans.clear()
    warm = figures(hub)
    assert scans, "more changed items than the limit: scanned again"
    assert warm == cold(hub)


def test_cells_of_a_replaced_log_are_not_used(
    base_url: str, hub: Hub, partners: Partners, scans: list[int]
) -> None:
    # The same number of log entries, other lines: the root at the cached size differs.
    first = Ledger(random.Random(1))
    send(partners, base_url, first, new=12, moved=6)
    before = cold(hub)
    with hub.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in {"partners", "partner_keys"}:
                connection.execute(table.delete())
    second = Ledger(random.Random(2))
    send(partners, base_url, second, new=12, moved=6)
    scans.clear()
    after = figures(hub)
    assert scans, "the log's root at the cached size changed: scanned again"
    assert after == cold(hub)
    assert after != before


def assert_as_seen(hub: Hub, answers: dict[tuple[int, str | None], dict[str, Any]]) -> None:
    """The totals agree with the items ``visibility.seen_items`` gives, summed here."""
    with hub.readers() as session:
        for n, period in enumerate(PERIODS):
            day = period.day(hub.now())
            for caller in CALLERS:
                seen = seen_items(caller, day)
                items = [
                    item
                    for item in seen_rows(session, select(seen))
                    if in_period(item, replace(period, as_of=day))
                ]
                figures = answers[(n, caller)]
                assert figures["total"] == len(items), (n, caller)
                done = sum(item.status in LEDGER_DONE for item in items)
                assert figures["completed"] + figures["closed"] == done
                assert figures["overdue"] == sum(item.overdue for item in items)
                recovered = [i.amount_recovered for i in items if i.amount_recovered is not None]
                shown = figures["amounts_by_category"].get("recovered")
                assert (shown is None) == (not recovered)
                if recovered:
                    assert Decimal(shown) == sum(recovered)


def in_period(item: Any, period: Period) -> bool:
    checks: list[Callable[[], bool]] = [
        lambda: period.owner is None or item.owner == period.owner,
        lambda: period.problem_category is None or item.problem_category == period.problem_category,
        lambda: period.source_year is None or item.source_year == period.source_year,
        lambda: period.holds(item.first_reported_at),
    ]
    return all(check() for check in checks)


def test_a_cut_off_with_more_cells_than_kept_is_answered_not_kept(
    base_url: str, hub: Hub, partners: Partners, scans: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = Ledger(random.Random(3))
    send(partners, base_url, ledger, new=10, moved=0)
    first = cold(hub)
    monkeypatch.setattr(cells, "CELLS_KEPT", 2)
    assert figures(hub) == first
    weights = kept.kept_weights("ledger cells")
    assert sum(weights) <= 2, weights
    # The same asks again: the cut-offs with more cells than that are scanned again.
    scans.clear()
    assert figures(hub) == first
    assert scans
