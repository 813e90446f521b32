"""The referral figures' sums kept across asks (``supervision.referral_sums``) answer exactly
what a fresh scan answers — after reviews, pulls, acks and feedback logged since (caught up),
past the catch-up limit (scanned again) — for every caller and scope, against a cold cache,
and against the cases counted here one by one from their rows and steps. Referrals and
feedback go in over real HTTP, signed; reviews through the hub's own decide.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from sqlalchemy import func, select, update

from exchange.hub import Hub
from exchange.store.db import alembic_config, upgrade
from exchange.store.models import ReferralCase, Transition
from exchange.supervision import kept, referral_sums
from exchange.supervision.days import china_today
from exchange.supervision.figures import stats
from exchange.supervision.reads import amount_text
from exchange.supervision.scope import Period
from exchange.supervision.states import REFERRAL_OPEN
from schemas import body_of, examples
from tests.conftest import Clock
from tests.support import PartnerKeys, review

Partners = dict[str, PartnerKeys]

CALLERS = [
    None,
    examples.AUDIT,
    examples.INSPECTION,
    examples.DISCIPLINE,
    examples.PERSONNEL,
]
CATEGORIES = ["state_asset_loss", "finance_discipline", "eight_rules"]
HIDDEN = {"pending_review", "rejected"}
# The stages each recipient's case may go through after its ack, in order.
PATHS = {
    examples.DISCIPLINE: ["accepted", "disposed", "concluded"],
    examples.PERSONNEL: ["accepted"],
}


class Exchange:
    """What the test drives: referrals sent, reviewed, pulled, acked and answered."""

    def __init__(self, base_url: str, hub: Hub, partners: Partners, clock: Clock) -> None:
        self.rng = random.Random(15)
        self.hub, self.clock = hub, clock
        self.clients = {
            keys.partner_id: keys.client(base_url, hub.now) for keys in partners.values()
        }
        self.pending: list[str] = []
        self.referrals: dict[str, dict[str, Any]] = {}
        self.steps: dict[tuple[str, str], int] = {}  # (message, recipient) -> stages done

    def send(self, count: int) -> None:
        """New referrals: from inspection to two bodies, from audit to one."""
        for _ in range(count):
            sender = self.rng.choice([examples.AUDIT, examples.INSPECTION])
            to = [examples.DISCIPLINE]
            if sender == examples.INSPECTION:
                to.append(examples.PERSONNEL)
            referral = examples.referral_example(
                sender=sender, recipients=to, sent_at=self.hub.now()
            )
            key = f"YJ-{self.rng.getrandbits(40):010x}"
            due = china_today(self.hub.now()) + timedelta(days=self.rng.choice([-2, 1, 30]))
            referral["payload"].update(
                referral_id=key,
                issue_category=self.rng.choice(CATEGORIES),
                feedback_due=due.isoformat(),
            )
            referral["subject"] = key
            sent = self.clients[sender].send(referral)
            self.referrals[sent.id] = referral
            self.pending.append(sent.id)

    def review(self) -> None:
        """Most referrals held from earlier rounds released (four eyes), some rejected, some
        left held (those sent in a round stay held until the next).
        """
        for message_id in list(self.pending):
            roll = self.rng.random()
            if roll < 0.6:
                review(self.hub, message_id, "zhang")
                review(self.hub, message_id, "li")
            elif roll < 0.8:
                review(self.hub, message_id, "zhang", reason="材料不全")
            else:
                continue
            self.pending.remove(message_id)

    def handle(self) -> None:
        """Each recipient pulls and acks what was released to it, and moves some of its
        cases a stage on, a few hours or days after the last.
        """
        for recipient, path in PATHS.items():
            client = self.clients[recipient]
            page = client.inbox(unacked=True, limit=100)
            received = [i.envelope["id"] for i in page.items if i.envelope["id"] in self.referrals]
            if received:
                client.ack(received)
            for message_id in received:
                self.steps.setdefault((message_id, recipient), 0)
            for (message_id, to), done in list(self.steps.items()):
                if to != recipient or done == len(path) or self.rng.random() < 0.2:
                    continue
                self.clock.offset += timedelta(hours=self.rng.choice([3, 20, 50]))
                stage = path[done]
                feedback = examples.clue_feedback_example(
                    stage=stage,
                    referral=self.referrals[message_id],
                    sender=recipient,
                    sent_at=self.hub.now(),
                )
                if stage == "concluded":
                    feedback["payload"]["outcomes"] = [
                        {
                            "outcome": "party_discipline",
                            "persons": self.rng.choice([0, 2, 3]),
                            "recovered_amount": f"{self.rng.randrange(1, 10**6)}.00",
                        }
                    ]
                client.send(feedback)
                self.steps[(message_id, to)] = done + 1

    def round(self, new: int) -> None:
        self.review()
        self.send(new)
        self.handle()
        self.clock.offset += timedelta(days=2)


def periods(start: date) -> list[Period]:
    """No scope, cut-offs within the rounds, a sent-on range, one sender's."""
    return [
        Period(),
        Period(as_of=start + timedelta(days=3)),
        Period(as_of=start + timedelta(days=8), start=start, end=start + timedelta(days=2)),
        Period(owner=examples.INSPECTION),
        Period(owner=examples.AUDIT, as_of=start + timedelta(days=5)),
    ]


def figures(hub: Hub, start: date) -> dict[tuple[int, str | None], dict[str, Any]]:
    """The referral figures of every period for every caller, as the hub answers them."""
    answers = {}
    with hub.readers() as session:
        for n, period in enumerate(periods(start)):
            for caller in CALLERS:
                answer = stats(session, caller, period, hub.now())
                answers[(n, caller)] = answer["referrals"] | {"acc": answer["accountability"]}
    return answers


def cold(hub: Hub, start: date) -> dict[tuple[int, str | None], dict[str, Any]]:
    kept.forget()
    return figures(hub, start)


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """How many times the sums were made by a whole scan (the real scan, counted)."""
    made: list[int] = []
    real = referral_sums._scan

    def counted(*args: Any, **kwargs: Any) -> Any:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(referral_sums, "_scan", counted)
    yield made


def counted_here(hub: Hub, start: date) -> dict[tuple[int, str | None], dict[str, Any]]:
    """The same figures from the cases' rows and steps, one case at a time."""
    with hub.readers() as session:
        cases = list(session.scalars(select(ReferralCase)))
        steps = list(session.scalars(select(Transition).where(Transition.kind == "referral")))
    answers = {}
    for n, period in enumerate(periods(start)):
        day = period.day(hub.now())
        latest: dict[tuple[str, str, str], Transition] = {}
        for step in sorted(steps, key=lambda s: s.log_index):
            if step.business_date is not None and step.business_date <= day:
                latest[(step.owner, step.key, step.party)] = step
        for caller in CALLERS:
            seen = []
            for case in cases:
                last = latest.get((case.sender, case.referral_id, case.recipient))
                if last is None or not period.holds(case.sent_at):
                    continue
                if period.owner is not None and case.sender != period.owner:
                    continue
                mine = caller is None or case.sender == caller
                if not mine and not (case.recipient == caller and last.to_state not in HIDDEN):
                    continue
                seen.append((case, last.to_state))
            answers[(n, caller)] = _counted(seen, day)
    return answers


def _counted(seen: list[tuple[ReferralCase, str]], day: date) -> dict[str, Any]:
    released = [(c, s) for c, s in seen if s not in HIDDEN]
    concluded = [c for c, s in released if s == "concluded"]
    delays = [
        round((c.first_feedback_at - c.released_at).total_seconds() / 86400, 2)
        for c, _ in released
        if c.first_feedback_at is not None and c.released_at is not None
    ]
    persons: dict[tuple[str, str], int] = {}
    for c in concluded:
        key = (c.sender, c.referral_id)
        persons[key] = max(persons.get(key, 0), c.persons_handled)
    from_referrals = sum(persons.values())
    return {
        "total": len(released),
        "referrals": len({(c.sender, c.referral_id) for c, _ in released}),
        "rejected": sum(s == "rejected" for _, s in seen),
        "held": sum(s == "pending_review" for _, s in seen),
        "by_state": dict(sorted(Counter(s for _, s in released).items())),
        "by_category": dict(sorted(Counter(c.issue_category for c, _ in released).items())),
        "by_recipient_body": dict(
            sorted(Counter(body_of(c.recipient) for c, _ in released).items())
        ),
        "overdue": sum(s in REFERRAL_OPEN and c.feedback_due < day for c, s in released),
        "with_feedback": len(delays),
        "median_days_to_feedback": round(statistics.median(delays), 2) if delays else None,
        "concluded": len(concluded),
        "persons_handled": sum(c.persons_handled for c in concluded),
        "recovered_amount": amount_text(sum((c.recovered_amount for c in concluded), Decimal(0))),
        "acc": {"persons": from_referrals, "from_referrals": from_referrals, "from_ledger": 0},
    }


def test_sums_caught_up_on_new_steps_answer_what_a_scan_and_a_count_answer(
    base_url: str, hub: Hub, partners: Partners, clock: Clock, scans: list[int]
) -> None:
    start = china_today(hub.now())
    exchange = Exchange(base_url, hub, partners, clock)
    exchange.round(new=8)
    first = cold(hub, start)
    assert scans, "a cold cache is made by a scan"
    for _ in range(5):
        exchange.round(new=3)
        scans.clear()
        warm = figures(hub, start)
        # The clock moved on: today is a new cut-off, scanned once; the fixed cut-offs are
        # caught up.
        assert len(scans) == 1, "a warm cache catches up on the steps since, without a scan"
        assert warm == cold(hub, start)
        assert warm == counted_here(hub, start)
    assert warm != first, "the later steps moved the figures"
    everything = warm[(0, None)]

    assert everything["concluded"] and everything["with_feedback"] and everything["rejected"]
    assert everything["held"] and everything["overdue"] and everything["acc"]["persons"]
    assert everything["total"] > everything["referrals"], "a referral with two cases counts once"
    assert china_today(hub.now()) > start + timedelta(days=8), "the cut-offs fall within"


def test_past_the_catch_up_limit_the_sums_are_scanned_again(
    base_url: str,
    hub: Hub,
    partners: Partners,
    clock: Clock,
    scans: list[int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = china_today(hub.now())
    exchange = Exchange(base_url, hub, partners, clock)
    exchange.round(new=6)
    cold(hub, start)
    monkeypatch.setattr(referral_sums, "PATCH_LIMIT", 2)
    exchange.round(new=3)
    scans.clear()
    warm = figures(hub, start)
    assert scans, "more changed referrals than the limit: scanned again"
    assert warm == cold(hub, start) == counted_here(hub, start)


def last_steps(hub: Hub) -> dict[tuple[str, str], tuple[date | None, date | None]]:
    """Each case's stored ``last_step_date``, beside the date of its last step in log order."""
    with hub.readers() as session:
        cases = list(session.scalars(select(ReferralCase)))
        steps = session.scalars(
            select(Transition).where(Transition.kind == "referral").order_by(Transition.log_index)
        )
        last = {(s.owner, s.key, s.party): s.business_date for s in steps}
    return {
        (c.message_id, c.recipient): (
            c.last_step_date,
            last[(c.sender, c.referral_id, c.recipient)],
        )
        for c in cases
    }


def test_each_case_keeps_the_date_of_its_last_step_even_one_dated_back(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    start = china_today(hub.now())
    exchange = Exchange(base_url, hub, partners, clock)
    for new in (6, 3, 3):
        exchange.round(new=new)
    # A referral acked two days after it was sent, then answered three days later with a
    # feedback dated back to the day it was sent: its last step is dated before the step
    # logged before it.
    sent_on = china_today(hub.now())
    referral = examples.referral_example(
        sender=examples.AUDIT, recipients=[examples.DISCIPLINE], sent_at=hub.now()
    )
    referral["payload"]["referral_id"] = referral["subject"] = "YJ-DATED-BACK"
    sent = exchange.clients[examples.AUDIT].send(referral)
    review(hub, sent.id, "zhang")
    review(hub, sent.id, "li")
    clock.offset += timedelta(days=2)
    discipline = exchange.clients[examples.DISCIPLINE]
    discipline.ack([item.envelope["id"] for item in discipline.inbox(unacked=True).items])
    clock.offset += timedelta(days=3)
    feedback = examples.clue_feedback_example(
        stage="accepted", referral=referral, sender=examples.DISCIPLINE, sent_at=hub.now()
    )
    feedback["payload"]["occurred_at"] = sent_on.isoformat()
    discipline.send(feedback)
    dated_back = (sent.id, examples.DISCIPLINE)

    with hub.readers() as session:
        dated = session.scalars(
            select(Transition.business_date).where(
                Transition.kind == "referral",
                Transition.key == "YJ-DATED-BACK",
                Transition.party == examples.DISCIPLINE,
            )
        )
        assert max(d for d in dated if d is not None) > sent_on, "the ack is dated later"

    kept_dates = last_steps(hub)
    assert kept_dates[dated_back] == (sent_on, sent_on)
    assert all(stored == last for stored, last in kept_dates.values())
    assert len({stored for stored, _ in kept_dates.values()}) > 2, "the cases' days differ"
    assert cold(hub, start) == counted_here(hub, start)


def test_the_migration_dates_stored_cases_by_their_last_step(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    start = china_today(hub.now())
    exchange = Exchange(base_url, hub, partners, clock)
    for new in (6, 3):
        exchange.round(new=new)
    before = last_steps(hub)
    # One case whose last step is undated (as no step of the hub writes): it stays undated.
    undated = sorted(before)[0]
    with hub.engine.begin() as connection:
        case_row = connection.execute(
            select(ReferralCase.sender, ReferralCase.referral_id).where(
                ReferralCase.message_id == undated[0], ReferralCase.recipient == undated[1]
            )
        ).one()
        last_index = connection.scalar(
            select(func.max(Transition.log_index)).where(
                Transition.kind == "referral",
                Transition.owner == case_row.sender,
                Transition.key == case_row.referral_id,
                Transition.party == undated[1],
            )
        )
        undated_step = connection.execute(
            update(Transition)
            .where(
                Transition.kind == "referral",
                Transition.owner == case_row.sender,
                Transition.key == case_row.referral_id,
                Transition.party == undated[1],
                Transition.log_index == last_index,
            )
            .values(business_date=None)
        )
        assert undated_step.rowcount == 1
    config = alembic_config(hub.config.database_url)
    command.downgrade(config, "0014")
    upgrade(hub.config.database_url)

    after = last_steps(hub)
    assert after[undated] == (None, None)
    assert {k: v for k, v in after.items() if k != undated} == {
        k: v for k, v in before.items() if k != undated
    }
    assert cold(hub, start) == counted_here(hub, start)
