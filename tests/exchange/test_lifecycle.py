"""Each lifecycle of DOMAIN.md walked through every allowed step and tried with every other one:
refused steps get 409 `invalid-transition` naming both states and leave the read model as it
was. The expected tables are written here from DOMAIN.md, not imported from the hub.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from adapters import ExchangeClient, HubError
from exchange.hub import Hub
from exchange.store.models import LedgerItem, LogEntry, ReferralCase, ShareUse
from schemas import examples
from tests.conftest import Clock
from tests.support import PartnerKeys, message_count, review

Partners = dict[str, PartnerKeys]

# --- rectification: DOMAIN.md's table ---------------------------------------------------------

STATUSES = [
    "pending",
    "in_progress",
    "submitted",
    "ongoing",
    "not_rectified",
    "completed",
    "closed",
]
ALLOWED_STATUS = {
    "pending": {"in_progress", "submitted"},
    "in_progress": {"submitted", "ongoing", "not_rectified"},
    "submitted": {"completed", "in_progress", "ongoing"},
    "ongoing": {"in_progress", "submitted"},
    "not_rectified": {"in_progress"},
    "completed": {"closed"},
    "closed": {"pending"},
}


def status_line(item: str, status: str, **payload: Any) -> dict[str, Any]:
    line = examples.rectification_example(status=status)
    line["payload"]["ledger_item_id"] = line["subject"] = item
    line["payload"].update(payload)
    return line


def item_row(hub: Hub, item: str) -> dict[str, Any] | None:
    with hub.sessions() as session:
        row = session.scalar(select(LedgerItem).where(LedgerItem.ledger_item_id == item))
        if row is None:
            return None
        return {c.name: getattr(row, c.key) for c in LedgerItem.__table__.columns}


def refused(send: Any, code: str = "invalid-transition", *, hub: Hub) -> HubError:
    """The send is refused with ``code``, and the hub stored no message for it."""
    before = message_count(hub)
    with pytest.raises(HubError) as refusal:
        send()
    assert refusal.value.code == code, refusal.value.problem
    assert message_count(hub) == before
    return refusal.value


@pytest.mark.parametrize("before", STATUSES)
def test_every_ledger_status_step(base_url: str, hub: Hub, partners: Partners, before: str) -> None:
    audit = partners["audit"].client(base_url)
    for after in STATUSES:
        item = f"T-ZG-{uuid.uuid4().hex[:10]}"
        audit.send(status_line(item, before))  # the first message may carry any status
        assert item_row(hub, item)["status"] == before  # type: ignore[index]
        snapshot = item_row(hub, item)
        extra = (
            {"reopen_reason": "复查发现问题反弹。"}
            if (before, after) == ("closed", "pending")
            else {}
        )
        line = status_line(item, after, **extra)
        if after == before or after in ALLOWED_STATUS[before]:
            audit.send(line)
            assert item_row(hub, item)["status"] == after  # type: ignore[index]
        else:
            refusal = refused(lambda line=line: audit.send(line), hub=hub)
            assert (refusal.problem["current"], refusal.problem["attempted"]) == (before, after)
            assert before in refusal.problem["detail"] and after in refusal.problem["detail"]
            assert item_row(hub, item) == snapshot


def test_reopening_a_closed_item_needs_a_reason(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    audit.send(status_line("T-ZG-REOPEN", "closed"))
    snapshot = item_row(hub, "T-ZG-REOPEN")
    refusal = refused(
        lambda: audit.send(status_line("T-ZG-REOPEN", "pending")), "schema-invalid", hub=hub
    )
    assert "payload.reopen_reason" in refusal.problem["errors"]
    assert item_row(hub, "T-ZG-REOPEN") == snapshot
    audit.send(status_line("T-ZG-REOPEN", "pending", reopen_reason="整改后问题反弹，重新整改。"))
    assert item_row(hub, "T-ZG-REOPEN")["status"] == "pending"  # type: ignore[index]


def test_status_steps_are_logged_and_the_read_model_follows_the_latest_line(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    first = audit.send(status_line("T-ZG-LOG", "pending", amount_rectified="0.00"))
    audit.send(status_line("T-ZG-LOG", "pending", amount_rectified="100.00"))  # same status
    third = audit.send(status_line("T-ZG-LOG", "in_progress", amount_rectified="200.50"))
    row = item_row(hub, "T-ZG-LOG")
    assert row is not None
    assert (row["status"], str(row["amount_rectified"]), row["last_message_id"]) == (
        "in_progress",
        "200.50",
        third.id,
    )
    with hub.sessions() as session:
        entries = [
            json.loads(e)
            for e in session.scalars(
                select(LogEntry.entry)
                .where(LogEntry.action == "message:received")
                .order_by(LogEntry.index)
            )
        ]
    # Each status line's received entry records the step it took (none for the same status).
    assert [(e.get("from_state"), e.get("to_state"), e["ledger_item_id"]) for e in entries] == [
        (None, "pending", "T-ZG-LOG"),
        (None, None, "T-ZG-LOG"),
        ("pending", "in_progress", "T-ZG-LOG"),
    ]
    assert entries[2]["message_id"] == third.id and entries[0]["message_id"] == first.id


# --- referrals: DOMAIN.md's order --------------------------------------------------------------

# Each state a referral case can be in before a feedback, and how a test reaches it.
CASE_STATES = [
    "released",
    "delivered",
    "acked",
    "accepted",
    "returned",
    "transferred",
    "disposed",
    "concluded",
]
STAGES = ["received", "accepted", "returned", "transferred", "disposed", "concluded"]
STAGE_STATE = {"received": "acked"}  # the others are their own state
ALLOWED_STAGE = {
    ("released", "received"),
    ("delivered", "received"),
    ("acked", "received"),
    ("acked", "accepted"),
    ("acked", "returned"),
    ("acked", "transferred"),
    ("accepted", "disposed"),
    ("disposed", "concluded"),
}
PATH = {  # the feedback stages that lead from acked to each state
    "accepted": ["accepted"],
    "returned": ["returned"],
    "transferred": ["transferred"],
    "disposed": ["accepted", "disposed"],
    "concluded": ["accepted", "disposed", "concluded"],
}
DISPOSITIONS = [
    "talk_inquiry",
    "preliminary_verification",
    "shelved",
    "closed_no_action",
    "filed_investigation",
]
DISPOSITION_CHANGES = {
    ("talk_inquiry", "preliminary_verification"),
    ("talk_inquiry", "closed_no_action"),
    ("shelved", "preliminary_verification"),
    ("preliminary_verification", "filed_investigation"),
    ("preliminary_verification", "closed_no_action"),
}


class Referral:
    """One referral from audit to discipline, driven through its life by real clients."""

    def __init__(self, base_url: str, hub: Hub, partners: Partners) -> None:
        self.hub = hub
        self.audit: ExchangeClient = partners["audit"].client(base_url, hub.now)
        self.discipline: ExchangeClient = partners["discipline"].client(base_url, hub.now)
        self.envelope = examples.referral_example()
        key = f"T-YJ-{uuid.uuid4().hex[:10]}"
        self.envelope["payload"]["referral_id"] = self.envelope["subject"] = key
        self.id = self.audit.send(self.envelope).id
        for reviewer in ("zhang", "li"):
            review(hub, self.id, reviewer)

    def feedback(self, stage: str, disposition: str | None = None) -> dict[str, Any]:
        line = examples.clue_feedback_example(stage=stage, referral=self.envelope)
        if disposition is not None:
            line["payload"]["disposition"] = disposition
        return line

    def reach(self, state: str) -> None:
        if state in ("delivered", "acked") or state in PATH:
            self.discipline.inbox()
        if state == "acked" or state in PATH:
            self.discipline.ack([self.id])
        for stage in PATH.get(state, []):
            self.discipline.send(self.feedback(stage))
        assert self.case()["state"] == state

    def case(self) -> dict[str, Any]:
        with self.hub.sessions() as session:
            row = session.get(ReferralCase, (self.id, "discipline.yanliang"))
            assert row is not None
            return {c.name: getattr(row, c.key) for c in ReferralCase.__table__.columns}


@pytest.mark.parametrize("state", CASE_STATES)
@pytest.mark.parametrize("stage", STAGES)
def test_every_feedback_stage_from_every_state(
    base_url: str, hub: Hub, partners: Partners, state: str, stage: str
) -> None:
    referral = Referral(base_url, hub, partners)
    referral.reach(state)
    before = referral.case()
    line = referral.feedback(stage)
    attempted = STAGE_STATE.get(stage, stage)
    current = state
    if state == stage == "disposed":  # the same disposition again: not one of its changes
        current = attempted = f"disposed ({before['disposition']})"
    if (state, stage) in ALLOWED_STAGE:
        referral.discipline.send(line)
        assert referral.case()["state"] == attempted
    else:
        refusal = refused(lambda: referral.discipline.send(line), hub=referral.hub)
        assert refusal.problem["attempted"] == attempted
        assert refusal.problem["current"] == current
        assert referral.case() == before


@pytest.mark.parametrize("first", DISPOSITIONS)
def test_every_disposition_change(base_url: str, hub: Hub, partners: Partners, first: str) -> None:
    for then in DISPOSITIONS:
        if then == first:
            continue
        referral = Referral(base_url, hub, partners)
        referral.reach("accepted")
        referral.discipline.send(referral.feedback("disposed", first))
        before = referral.case()
        line = referral.feedback("disposed", then)
        if (first, then) in DISPOSITION_CHANGES:
            referral.discipline.send(line)
            assert referral.case()["disposition"] == then
        else:
            refusal = refused(
                lambda send=referral.discipline.send, line=line: send(line), hub=referral.hub
            )
            assert refusal.problem["current"] == f"disposed ({first})"
            assert refusal.problem["attempted"] == f"disposed ({then})"
            assert referral.case() == before


def test_a_referral_key_is_sent_once_and_feedback_must_name_it(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    referral = Referral(base_url, hub, partners)
    again = dict(referral.envelope, id=examples.new_message_id())
    refused(lambda: referral.audit.send(again), hub=referral.hub)
    referral.reach("acked")
    wrong = referral.feedback("accepted")
    wrong["payload"]["referral_id"] = wrong["subject"] = "T-YJ-OTHER"
    refusal = refused(lambda: referral.discipline.send(wrong), "schema-invalid", hub=referral.hub)
    assert "payload.referral_id" in refusal.problem["errors"]


def test_hub_events_move_the_case_and_feedback_timings_are_kept(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    referral = Referral(base_url, hub, partners)
    case = referral.case()
    assert case["state"] == "released" and case["released_at"] is not None
    clock.offset += timedelta(days=3)
    referral.reach("concluded")
    case = referral.case()
    assert case["first_feedback_at"] - case["released_at"] >= timedelta(days=3)
    assert case["disposition"] == "filed_investigation"
    assert (case["persons_handled"], str(case["recovered_amount"])) == (2, "9886000.00")
    with hub.sessions() as session:
        steps = [
            (entry.get("from_state"), entry.get("to_state"), entry.get("referral_id"))
            for entry in map(
                json.loads,
                session.scalars(
                    select(LogEntry.entry)
                    .where(LogEntry.action == "message:received", LogEntry.actor.like("disc%"))
                    .order_by(LogEntry.index)
                ),
            )
        ]
    key = referral.envelope["payload"]["referral_id"]
    assert steps == [
        ("acked", "accepted", key),
        ("accepted", "disposed", key),
        ("disposed", "concluded", key),
    ]


# --- result shares --------------------------------------------------------------------------


def test_result_use_is_recorded_once_released_and_only_from_a_recipient(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    personnel = partners["personnel"].client(base_url)
    share = examples.share_example()
    sent = audit.send(share)
    feedback = examples.result_feedback_example(share=share)
    refused(lambda: personnel.send(feedback), "route-not-allowed", hub=hub)  # still held for review
    review(hub, sent.id, "zhang")
    refused(lambda: audit.send(dict(share, id=examples.new_message_id())), hub=hub)  # same share_id
    personnel.send(feedback)
    with hub.sessions() as session:
        use = session.get(ShareUse, (sent.id, "personnel.yanliang"))
        assert use is not None
        assert (use.state, use.feedbacks) == ("used", 1)
        assert set((use.used_for or "").split()) == set(feedback["payload"]["used_for"])
