"""The read side of the lifecycles: lists, timelines and the figures — checked against figures
computed here, independently, from what the test itself sent.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from adapters import ExchangeClient
from exchange.hub import Hub
from schemas import examples
from tests.conftest import Clock
from tests.support import PartnerKeys, problem_code, review, signed_request

Partners = dict[str, PartnerKeys]
BEIJING = timezone(timedelta(hours=8))
PROJECTS = ["阎审经责〔2025〕2号", "阎审投〔2025〕5号", "阎审专〔2025〕9号"]
UNITS = [
    {"name": "西安市阎良区国有资产投资有限公司", "uscc": examples.COMPANY_USCC},
    {"name": "阎良区教育局", "uscc": "11610114MB1570820L"},
    {"name": "阎良区卫生健康局", "uscc": "12610114MB15709308"},
    {"name": "阎良区住房和城乡建设局", "uscc": "12610114MB1571040D"},
    {"name": "阎良区农业农村局", "uscc": "11610114MB15711507"},
]
CLASSES = ["immediate", "phased", "continuous"]
# Paths through the transition table (DOMAIN.md), first status free.
HISTORIES = [
    ["pending"],
    ["pending", "in_progress"],
    ["pending", "in_progress", "submitted"],
    ["pending", "submitted", "completed"],
    ["in_progress", "submitted", "completed", "closed"],
    ["in_progress", "ongoing"],
    ["in_progress", "not_rectified"],
    ["completed"],
    ["submitted", "ongoing", "in_progress"],
    ["closed", "pending"],
]
CATEGORIES = ["state_asset_loss", "finance_discipline", "eight_rules", "dereliction"]
# What happens to each of the 12 referrals after it is sent.
PLANS = [
    [],  # rejected in review
    ["release", "pull"],
    ["release", "pull", "ack"],
    ["release", "pull", "ack", "accepted"],
    ["release", "pull", "ack", "returned"],
    ["release", "pull", "ack", "transferred"],
    ["release", "pull", "ack", "accepted", "disposed"],
    ["release", "pull", "ack", "received", "accepted", "disposed"],
    ["release", "pull", "ack", "accepted", "disposed", "concluded"],
    ["release", "pull", "ack", "accepted", "disposed", "concluded"],
    ["release", "pull", "ack", "accepted", "disposed", "concluded"],
    ["release"],  # last: a later pull would deliver it
]


def beijing_today(now: datetime) -> date:
    return now.astimezone(BEIJING).date()


def pct(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(100 * part) / whole).quantize(Decimal("0.01"), ROUND_HALF_UP))


@dataclass
class Item:
    key: str
    unit: dict[str, Any]
    klass: str
    status: str
    deadline: date
    milestone_due: date | None
    involved: Decimal
    rectified: Decimal
    rules: int
    persons: int


@dataclass
class Case:
    category: str
    state: str
    feedback_due: date
    delay_days: int | None = None
    persons: int = 0
    recovered: Decimal = field(default_factory=lambda: Decimal(0))


@dataclass
class Scenario:
    items: list[Item]
    cases: list[Case]


def seed(base_url: str, hub: Hub, partners: Partners, clock: Clock) -> Scenario:
    rng = random.Random(20251122)
    audit = partners["audit"].client(base_url, hub.now)
    discipline = partners["discipline"].client(base_url, hub.now)
    cases = seed_referrals(audit, discipline, hub, clock)
    today = beijing_today(hub.now())
    items = []
    for n in range(40):
        unit = UNITS[n % len(UNITS)]
        klass = CLASSES[n % 3]
        deadline = today + timedelta(days=rng.choice([-40, -5, -1, 0, 1, 30, 90]))
        milestone = None
        if klass == "phased":
            milestone = {"stage": "第一阶段", "target": "完成清退", "due": deadline - timedelta(20)}
            if n % 2:
                milestone["done_at"] = deadline - timedelta(25)
        history = HISTORIES[n % len(HISTORIES)]
        involved = Decimal(rng.randrange(100_00, 5_000_000_00)) / 100
        rectified = (involved * Decimal(rng.choice([0, 25, 50, 100])) / 100).quantize(
            Decimal("0.01")
        )
        rules, persons = rng.randrange(0, 3), rng.randrange(0, 4)
        key = f"YL-SJ-ZG-T{n:03d}"
        for status in history:
            line = examples.rectification_example(status=status)
            payload = line["payload"]
            payload.update(
                ledger_item_id=key,
                source_doc_number=PROJECTS[n % 3],
                responsible_unit=dict(unit),
                rectification_class=klass,
                deadline=deadline.isoformat(),
                amount_involved=str(involved),
                amount_rectified=str(rectified),
                rules_made=rules,
                persons_held_accountable=persons,
            )
            if milestone is None:
                payload.pop("milestones", None)
            else:
                payload["milestones"] = [
                    {k: v.isoformat() if isinstance(v, date) else v for k, v in milestone.items()}
                ]
            if status == "pending" and history[0] != "pending":
                payload["reopen_reason"] = "复查发现问题反弹，重新整改。"
            line["subject"] = key
            audit.send(line)
        undone = milestone is not None and "done_at" not in milestone
        items.append(
            Item(
                key,
                unit,
                klass,
                history[-1],
                deadline,
                milestone["due"] if milestone is not None and undone else None,  # type: ignore[arg-type]
                involved,
                rectified,
                rules,
                persons,
            )
        )
    return Scenario(items, cases)


def seed_referrals(
    audit: ExchangeClient, discipline: ExchangeClient, hub: Hub, clock: Clock
) -> list[Case]:
    cases: list[Case] = []
    for n, plan in enumerate(PLANS):
        referral = examples.referral_example(sent_at=hub.now())
        key = f"YL-SJ-YJ-T{n:03d}"
        category = CATEGORIES[n % len(CATEGORIES)]
        due = beijing_today(hub.now()) + timedelta(days=-3 if n % 2 else 200)
        referral["payload"].update(
            referral_id=key, issue_category=category, feedback_due=due.isoformat()
        )
        referral["subject"] = key
        sent = audit.send(referral)
        case = Case(category, "rejected", due)
        approve = bool(plan)
        for reviewer in ("zhang", "li") if approve else ("zhang",):
            review(hub, sent.id, reviewer, reason=None if approve else "材料不全")
        first_feedback = True
        for step in plan:
            if step == "release":
                case.state = "released"
            elif step == "pull":
                discipline.inbox()  # delivers every released referral not pulled yet
                for earlier in [*cases, case]:
                    if earlier.state == "released":
                        earlier.state = "delivered"
            elif step == "ack":
                discipline.ack([sent.id])
                case.state = "acked"
            else:
                if first_feedback:
                    case.delay_days = n + 1
                    clock.offset += timedelta(days=n + 1)
                    first_feedback = False
                discipline.send(examples.clue_feedback_example(stage=step, referral=referral))
                case.state = "acked" if step == "received" else step
                if step == "concluded":
                    case.persons, case.recovered = 2, Decimal("9886000.00")
        cases.append(case)
    return cases


def expected_rectification(items: list[Item], today: date) -> dict[str, Any]:
    def overdue(i: Item) -> bool:
        late = today > i.deadline or (i.milestone_due is not None and today > i.milestone_due)
        return i.status not in ("completed", "closed") and late

    done = [i for i in items if i.status in ("completed", "closed")]
    immediate = [i for i in items if i.klass == "immediate"]
    return {
        "total": len(items),
        "completed": sum(i.status == "completed" for i in items),
        "closed": sum(i.status == "closed" for i in items),
        "ongoing": sum(i.status == "ongoing" for i in items),
        "not_rectified": sum(i.status == "not_rectified" for i in items),
        "overdue": sum(overdue(i) for i in items),
        "rectification_rate": pct(len(done), len(items)),
        "immediate_total": len(immediate),
        "immediate_rate": pct(sum(i in done for i in immediate), len(immediate)),
        "amount_involved": str(sum((i.involved for i in items), Decimal(0))),
        "amount_rectified": str(sum((i.rectified for i in items), Decimal(0))),
        "rules_made": sum(i.rules for i in items),
        "persons_held_accountable": sum(i.persons for i in items),
    }


def expected_referrals(every_case: list[Case], today: date) -> dict[str, Any]:
    """Version 1: released cases are counted (one per recipient, here one recipient each: the
    discipline body), rejected and held ones apart.
    """
    open_states = {"released", "delivered", "acked", "accepted", "disposed"}
    cases = [c for c in every_case if c.state not in ("rejected", "pending_review")]
    delays = [c.delay_days for c in cases if c.delay_days is not None]
    by_state: dict[str, int] = {}
    by_category: dict[str, int] = {}
    for c in cases:
        by_state[c.state] = by_state.get(c.state, 0) + 1
        by_category[c.category] = by_category.get(c.category, 0) + 1
    return {
        "total": len(cases),
        "referrals": len(cases),
        "rejected": sum(c.state == "rejected" for c in every_case),
        "held": sum(c.state == "pending_review" for c in every_case),
        "by_state": dict(sorted(by_state.items())),
        "by_category": dict(sorted(by_category.items())),
        "by_recipient_body": {"discipline": len(cases)} if cases else {},
        "overdue": sum(c.state in open_states and today > c.feedback_due for c in cases),
        "with_feedback": len(delays),
        "median_days_to_feedback": float(statistics.median(delays)),
        "concluded": sum(c.state == "concluded" for c in cases),
        "persons_handled": sum(c.persons for c in cases),
        "recovered_amount": str(sum((c.recovered for c in cases), Decimal("0.00"))),
    }


def get(base_url: str, who: PartnerKeys, path: str, hub: Hub) -> Any:
    created = int(hub.now().timestamp())
    response = signed_request(base_url, who, "GET", path, created=created)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_figures_match_an_independent_count(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    scenario = seed(base_url, hub, partners, clock)
    today = beijing_today(hub.now())
    figures = get(base_url, partners["audit"], "/v1/stats", hub)
    assert figures["as_of"] == today.isoformat()

    referrals = figures["referrals"]
    assert referrals == expected_referrals(scenario.cases, today)

    rectification = figures["rectification"]
    for name, value in expected_rectification(scenario.items, today).items():
        assert rectification[name] == value, name
    by_unit = {u["unit"]["name"]: u for u in rectification["by_unit"]}
    assert set(by_unit) == {u["name"] for u in UNITS}
    for unit in UNITS:
        mine = [i for i in scenario.items if i.unit["name"] == unit["name"]]
        for name, value in expected_rectification(mine, today).items():
            assert by_unit[unit["name"]][name] == value, (unit["name"], name)

    # Discipline received every status line and the released referrals: the same ledger, and
    # the referrals without the one rejected in review.
    seen = get(base_url, partners["discipline"], "/v1/stats", hub)
    assert seen["rectification"]["total"] == 40
    released = [c for c in scenario.cases if c.state != "rejected"]
    assert seen["referrals"] == expected_referrals(released, today)
    # A period with nothing in it.
    empty = get(base_url, partners["audit"], "/v1/stats?from=2020-01-01&to=2020-12-31", hub)
    assert (empty["referrals"]["total"], empty["rectification"]["total"]) == (0, 0)
    assert empty["rectification"]["rectification_rate"] is None


def test_lists_filters_pages_and_timelines(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    scenario = seed(base_url, hub, partners, clock)
    today = beijing_today(hub.now())
    audit, discipline = partners["audit"], partners["discipline"]

    first = get(base_url, audit, "/v1/ledger?page_size=15&total=true", hub)
    second = get(base_url, audit, f"/v1/ledger?page_size=15&cursor={first['next']}", hub)
    third = get(base_url, audit, f"/v1/ledger?page_size=15&cursor={second['next']}", hub)
    assert (first["total"], len(third["items"]), third["next"]) == (40, 10, None)
    assert "total" not in third  # counted only when asked
    overdue = get(base_url, audit, "/v1/ledger?overdue=true&page_size=500", hub)
    late = [
        i
        for i in scenario.items
        if i.status not in ("completed", "closed")
        and (today > i.deadline or (i.milestone_due is not None and today > i.milestone_due))
    ]
    assert sorted(i["ledger_item_id"] for i in overdue["items"]) == sorted(i.key for i in late)
    closed = get(base_url, audit, "/v1/ledger?status=closed&page_size=500", hub)
    assert {i["ledger_item_id"] for i in closed["items"]} == {
        i.key for i in scenario.items if i.status == "closed"
    }
    unit = get(base_url, audit, f"/v1/ledger?unit={examples.COMPANY_USCC}&total=true", hub)
    assert unit["total"] == 8

    item = get(base_url, audit, "/v1/ledger/YL-SJ-ZG-T004", hub)
    assert [(s["from_state"], s["to_state"]) for s in item["timeline"]] == [
        (None, "in_progress"),
        ("in_progress", "submitted"),
        ("submitted", "completed"),
        ("completed", "closed"),
    ]
    assert item["status"] == "closed" and item["overdue"] is False

    listed = get(base_url, audit, "/v1/referrals?page_size=500&total=true", hub)
    assert listed["total"] == 12
    assert get(base_url, discipline, "/v1/referrals?total=true", hub)["total"] == 11
    concluded = get(base_url, audit, "/v1/referrals?state=concluded&total=true", hub)
    assert concluded["total"] == 3
    late_referrals = get(base_url, audit, "/v1/referrals?overdue=true&page_size=500", hub)
    assert {c["referral_id"] for c in late_referrals["items"]} == {
        f"YL-SJ-YJ-T{n:03d}"
        for n, c in enumerate(scenario.cases)
        if n % 2 and c.state in {"released", "delivered", "acked", "accepted", "disposed"}
    }
    detail = get(base_url, audit, "/v1/referrals/YL-SJ-YJ-T009", hub)
    steps = [s["to_state"] for s in detail["timeline"]]
    assert steps == [
        "pending_review",
        "released",
        "delivered",
        "acked",
        "accepted",
        "disposed",
        "concluded",
    ]
    assert detail["cases"][0]["days_to_first_feedback"] == 10.0
    # The documented `from` member: the referral's sender, on the referral and on each case.
    assert detail["from"] == partners["audit"].partner_id
    assert {c["from"] for c in detail["cases"]} == {partners["audit"].partner_id}
    assert {c["from"] for c in listed["items"]} == {partners["audit"].partner_id}
    assert (
        get(base_url, discipline, "/v1/referrals/YL-SJ-YJ-T009", hub)["timeline"]
        == (detail["timeline"])
    )


def test_outsiders_see_nothing_and_bad_filters_name_the_field(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    audit = partners["audit"].client(base_url, hub.now)
    referral = examples.referral_example()
    audit.send(referral)  # held for review: not the recipient's yet
    line = examples.rectification_example(recipients=["discipline.yanliang"])
    audit.send(line)
    personnel = partners["personnel"]
    assert get(base_url, personnel, "/v1/ledger?total=true", hub)["total"] == 0
    assert get(base_url, personnel, "/v1/referrals?total=true", hub)["total"] == 0
    assert get(base_url, partners["discipline"], "/v1/referrals?total=true", hub)["total"] == 0
    assert get(base_url, partners["discipline"], "/v1/ledger?total=true", hub)["total"] == 1
    for path in (
        f"/v1/ledger/{line['payload']['ledger_item_id']}",
        f"/v1/referrals/{referral['payload']['referral_id']}",
    ):
        response = signed_request(base_url, personnel, "GET", path)
        assert response.status_code == 404 and problem_code(response) == "not-found"
    for path, name in (
        ("/v1/ledger?status=done", "status"),
        ("/v1/referrals?state=lost", "state"),
        ("/v1/ledger?page=0", "page"),
        ("/v1/stats?from=2026-13-01", "from"),
        ("/v1/stats?from=2026-02-01&to=2026-01-01", "from"),
    ):
        response = signed_request(base_url, personnel, "GET", path)
        assert response.status_code == 422, path
        assert name in response.json()["errors"], (path, response.json())


@pytest.fixture(autouse=True)
def _real_clock_after(clock: Clock) -> Any:
    yield
    clock.offset = timedelta()
