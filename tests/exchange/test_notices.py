"""Hub notices (hub.notice.v1): signed by the hub, delivered like any message — a rejection's
reason to its sender, overdue feedback and rectification reminded at most once a week.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from adapters import VerificationFailed
from exchange.errors import ExchangeError
from exchange.hub import Hub
from exchange.store.models import LogEntry, Message, Review
from exchange.supervision.days import china_today
from exchange.transport.notices import run_notices
from exchange.trust.envelopes import open_envelope
from keys import jws
from schemas import canonical_bytes, examples
from tests.exchange.test_cli import Cli, cli_env
from tests.support import PartnerKeys, message_count, post_json, problem_code, review

Partners = dict[str, PartnerKeys]
AUDIT, DISCIPLINE = examples.AUDIT, examples.DISCIPLINE
INSPECTION, PERSONNEL = examples.INSPECTION, examples.PERSONNEL
NOTICE = "hub.notice.v1"


@pytest.fixture
def hub_cli(hub: Hub, hub_home: Path, database_url: str) -> Cli:
    """The CLI over the test hub's own home (same keys) and database."""
    return Cli(cli_env(hub_home, database_url))


def released_referral(
    base_url: str,
    hub: Hub,
    sender: PartnerKeys,
    referral_id: str,
    feedback_due: date,
    recipients: tuple[str, ...] = (DISCIPLINE,),
) -> dict[str, Any]:
    """A referral sent, approved by two reviewers and released; its envelope."""
    referral = examples.referral_example(
        sender=sender.partner_id,
        recipients=recipients,
        payload={"referral_id": referral_id, "feedback_due": feedback_due.isoformat()},
    )
    sender.client(base_url).send(referral)
    review(hub, referral["id"], "张审核")
    assert review(hub, referral["id"], "李复核") == "released"
    return referral


def ledger_line(
    base_url: str, audit: PartnerKeys, item_id: str, status: str, deadline: date, milestone: date
) -> dict[str, Any]:
    """A rectification status line of the audit's ledger, sent (released at once)."""
    line = examples.rectification_example(
        status=status,
        payload={
            "ledger_item_id": item_id,
            "deadline": deadline.isoformat(),
            "milestones": [
                {
                    "stage": "第一阶段",
                    "target": "清退违规发放的津贴补贴",
                    "due": milestone.isoformat(),
                }
            ],
        },
    )
    audit.client(base_url).send(line)
    return line


def notices(hub: Hub, now: datetime) -> list[dict[str, Any]]:
    """Run the job at ``now``; the envelopes of the notices it sent."""
    with hub.sessions.begin() as session:
        sent = run_notices(session, hub.trust, now)
    with hub.sessions() as session:
        stored = [session.get(Message, notice.message_id) for notice in sent]
        return [open_envelope(hub.trust, m) for m in stored if m is not None]


def said(envelopes: list[dict[str, Any]]) -> list[tuple[str, str, list[str], str | None]]:
    """(kind, about, recipients, due) of each notice."""
    return [
        (e["payload"]["notice"], e["payload"]["about"], e["to"], e["payload"].get("due"))
        for e in envelopes
    ]


# --- review_rejected --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["referral", "share"])
def test_a_rejection_gives_the_sender_a_notice_with_the_reason(
    base_url: str, hub: Hub, partners: Partners, kind: str
) -> None:
    audit = partners["audit"].client(base_url)
    held = (
        examples.referral_example(payload={"referral_id": "YL-SJ-YJ-2026-R1"})
        if kind == "referral"
        else examples.share_example(payload={"share_id": "YL-SJ-GX-2026-R1"})
    )
    recipient = partners["discipline" if kind == "referral" else "personnel"].client(base_url)
    assert audit.send(held).status == "pending_review"
    reason = "移送材料缺少借款合同复印件，请补充后重新报送。"
    assert review(hub, held["id"], "王审核", reason=reason) == "rejected"

    items = audit.inbox().items  # every signature and receipt verified by the real client
    assert len(items) == 1
    notice = items[0].envelope
    assert notice["type"] == NOTICE and notice["from"] == "hub" and notice["to"] == [AUDIT]
    assert notice["classification"] == "internal"
    assert notice["subject"] == held["id"]
    assert notice["payload"] == {"notice": "review_rejected", "about": held["id"], "reason": reason}
    assert jws.unverified_header(items[0].signature)["kid"] == hub.trust.current.kid
    assert recipient.inbox().items == []
    assert audit.ack([notice["id"]]) == [{"id": notice["id"], "status": "acked"}]
    assert audit.message(notice["id"])["deliveries"][0]["state"] == "acked"
    # Its evidence bundle verifies offline: the hub's key signed the notice itself.
    _bundle, verified = audit.evidence(notice["id"])
    assert (verified.sender_kid, verified.acked_by) == (hub.trust.current.kid, (AUDIT,))
    # A rejected referral is done: never reminded of, even long after its due date.
    assert notices(hub, hub.now() + timedelta(days=400)) == []


def test_a_rejection_whose_reason_carries_a_state_secret_marker_is_refused(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    """The reason would travel in a notice: the rejection is refused whole, nothing stored."""
    referral = examples.referral_example(payload={"referral_id": "YL-SJ-YJ-2026-R2"})
    partners["audit"].client(base_url).send(referral)
    with pytest.raises(ExchangeError) as refused:
        review(hub, referral["id"], "王审核", reason="材料含机密内容，不得经交换中心报送。")
    assert refused.value.code == "classified-content-refused"
    with hub.sessions() as session:
        message = session.get(Message, referral["id"])
        assert message is not None and message.status == "pending_review"
        assert session.scalars(select(Review)).all() == []
    assert message_count(hub) == 1


def test_a_notice_signed_by_another_key_fails_the_clients_check(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    """The client verifies `from: "hub"` with the hub's JWK Set, never the partner directory."""
    share = examples.share_example(payload={"share_id": "YL-SJ-GX-2026-R3"})
    audit = partners["audit"]
    audit.client(base_url).send(share)
    review(hub, share["id"], "王审核", reason="附件不全")
    with hub.sessions() as session:
        notice = session.scalars(select(Message).where(Message.type == NOTICE)).one()
        envelope = open_envelope(hub.trust, notice)
    forged = audit.sign(envelope)["signature"]  # a partner's key signs the very same bytes
    with hub.engine.begin() as connection:
        connection.execute(
            update(Message).where(Message.id == envelope["id"]).values(signature=forged)
        )
    with pytest.raises(VerificationFailed, match="sender signature"):
        audit.client(base_url).inbox()


# --- partners never send notices ---------------------------------------------------------------


def test_partners_cannot_send_hub_notices(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    notice = {
        "id": examples.new_message_id(),
        "type": NOTICE,
        "from": AUDIT,
        "to": [DISCIPLINE],
        "sent_at": "2026-03-02T09:00:00+08:00",
        "classification": "internal",
        "subject": "YL-SJ-YJ-2025-003",
        "payload": {"notice": "feedback_overdue", "about": "YL-SJ-YJ-2025-003"},
    }
    as_hub = {**notice, "from": "hub"}
    for envelope, errors in (
        (notice, {"type": ["Unknown message type."]}),
        (as_hub, {"type": ["Unknown message type."]}),
        (examples.referral_example(sender="hub"), {"from": ["Not a partner id."]}),
    ):
        response = post_json(base_url, audit, "/v1/messages", audit.sign(envelope))
        assert response.status_code == 422, response.text
        assert problem_code(response) == "schema-invalid"
        assert response.json()["errors"] == errors
    # Signed with a `hub#…` kid of the partner's own making: an unknown key.
    hub_kid = jws.sign_detached(
        canonical_bytes(as_hub), audit.key, kid="hub#forged", typ="exchange-message+jws"
    )
    response = post_json(
        base_url, audit, "/v1/messages", {"envelope": as_hub, "signature": hub_kid}
    )
    assert response.status_code == 401 and problem_code(response) == "unknown-key"
    assert message_count(hub) == 0


# --- feedback_overdue -------------------------------------------------------------------------


def test_an_overdue_referral_is_reminded_once_a_week_to_sender_and_recipients(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    now = hub.now()
    due = china_today(now) - timedelta(days=1)
    referral = released_referral(
        base_url, hub, partners["inspection"], "YL-XC-YJ-2026-01", due, (DISCIPLINE, PERSONNEL)
    )
    # Not yet overdue on its due date itself.
    assert notices(hub, now - timedelta(days=1)) == []

    first = notices(hub, now)
    assert said(first) == [
        ("feedback_overdue", "YL-XC-YJ-2026-01", [DISCIPLINE, INSPECTION, PERSONNEL], str(due))
    ]
    assert notices(hub, now) == []  # at once: nothing new
    assert notices(hub, now + timedelta(days=6)) == []  # within the week: nothing new

    # Each recipient finds it in its inbox, verified by the real client, beside the referral.
    for body in ("discipline", "inspection", "personnel"):
        pulled = [i.envelope["id"] for i in partners[body].client(base_url).inbox().items]
        assert first[0]["id"] in pulled

    # Personnel concludes; a week on, only discipline is still overdue with the inspection.
    personnel = partners["personnel"].client(base_url)
    personnel.ack([referral["id"]])
    for stage in ("accepted", "disposed", "concluded"):
        personnel.send(
            examples.clue_feedback_example(stage=stage, referral=referral, sender=PERSONNEL)
        )
    again = notices(hub, now + timedelta(days=8))
    assert said(again) == [
        ("feedback_overdue", "YL-XC-YJ-2026-01", [DISCIPLINE, INSPECTION], str(due))
    ]
    assert again[0]["id"] != first[0]["id"]
    assert notices(hub, now + timedelta(days=8)) == []


def test_concluded_held_and_future_referrals_are_not_reminded(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    now = hub.now()
    past = china_today(now) - timedelta(days=30)
    concluded = released_referral(base_url, hub, partners["audit"], "YL-SJ-YJ-2026-C1", past)
    discipline = partners["discipline"].client(base_url)
    discipline.ack([concluded["id"]])
    for stage in ("accepted", "disposed", "concluded"):
        discipline.send(examples.clue_feedback_example(stage=stage, referral=concluded))
    held = examples.referral_example(
        payload={"referral_id": "YL-SJ-YJ-2026-C2", "feedback_due": past.isoformat()}
    )
    assert partners["audit"].client(base_url).send(held).status == "pending_review"
    released_referral(
        base_url, hub, partners["audit"], "YL-SJ-YJ-2026-C3", china_today(now) + timedelta(days=1)
    )
    assert notices(hub, now) == []
    assert notices(hub, now + timedelta(days=1)) == []
    # The third falls due the day after tomorrow (Beijing time); the others never.
    assert said(notices(hub, now + timedelta(days=2))) == [
        (
            "feedback_overdue",
            "YL-SJ-YJ-2026-C3",
            [AUDIT, DISCIPLINE],
            str(china_today(now) + timedelta(days=1)),
        )
    ]


# --- rectification_overdue --------------------------------------------------------------------


def test_an_overdue_ledger_item_is_reminded_to_its_owner_once_a_week(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    now = hub.now()
    today = china_today(now)
    audit = partners["audit"]
    ledger_line(
        base_url,
        audit,
        "YL-SJ-ZG-2026-01",
        "in_progress",
        today - timedelta(days=3),
        today - timedelta(days=20),
    )
    # Deadline ahead, but a phased milestone has passed: due names the milestone.
    ledger_line(
        base_url,
        audit,
        "YL-SJ-ZG-2026-02",
        "pending",
        today + timedelta(days=60),
        today - timedelta(days=2),
    )

    first = notices(hub, now)
    assert said(first) == [
        ("rectification_overdue", "YL-SJ-ZG-2026-01", [AUDIT], str(today - timedelta(days=3))),
        ("rectification_overdue", "YL-SJ-ZG-2026-02", [AUDIT], str(today - timedelta(days=2))),
    ]
    assert notices(hub, now) == []
    pulled = [i.envelope for i in audit.client(base_url).inbox().items]
    assert [e["id"] for e in pulled] == [e["id"] for e in first]
    # The recipients of the status lines are told nothing: the owner is the one to act.
    told = partners["discipline"].client(base_url).inbox().items
    assert told and all(i.envelope["type"] != NOTICE for i in told)

    # A new status line keeps the item's reminder date: still nothing within the week.
    ledger_line(
        base_url,
        audit,
        "YL-SJ-ZG-2026-01",
        "submitted",
        today - timedelta(days=3),
        today - timedelta(days=20),
    )
    assert notices(hub, now + timedelta(days=3)) == []
    assert [n[1] for n in said(notices(hub, now + timedelta(days=8)))] == [
        "YL-SJ-ZG-2026-01",
        "YL-SJ-ZG-2026-02",
    ]


def test_completed_and_closed_items_are_not_reminded(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    now = hub.now()
    today = china_today(now)
    audit = partners["audit"]
    long_ago = today - timedelta(days=40)
    ledger_line(base_url, audit, "YL-SJ-ZG-2026-11", "completed", long_ago, long_ago)
    ledger_line(base_url, audit, "YL-SJ-ZG-2026-12", "closed", long_ago, long_ago)
    ledger_line(base_url, audit, "YL-SJ-ZG-2026-13", "submitted", long_ago, long_ago)
    assert [n[1] for n in said(notices(hub, now))] == ["YL-SJ-ZG-2026-13"]
    ledger_line(base_url, audit, "YL-SJ-ZG-2026-13", "completed", long_ago, long_ago)
    assert notices(hub, now + timedelta(days=8)) == []


# --- the log and the CLI ----------------------------------------------------------------------


def test_notices_are_logged_sent_by_the_cli_and_the_log_verifies(
    base_url: str, hub: Hub, partners: Partners, hub_cli: Cli
) -> None:
    """`exchange notices run-once` (on the real clock) sends what is due once; the notices'
    entries are in the log, and `exchange log verify` checks their hub signatures.
    """
    today = china_today(hub.now())
    released_referral(
        base_url, hub, partners["audit"], "YL-SJ-YJ-2026-L1", today - timedelta(days=1)
    )
    ledger_line(
        base_url,
        partners["audit"],
        "YL-SJ-ZG-2026-L1",
        "in_progress",
        today - timedelta(days=1),
        today - timedelta(days=1),
    )
    out = hub_cli.ok("notices", "run-once")
    assert out.splitlines() == [
        f"feedback_overdue\tYL-SJ-YJ-2026-L1\t{AUDIT},{DISCIPLINE}",
        f"rectification_overdue\tYL-SJ-ZG-2026-L1\t{AUDIT}",
    ]
    assert hub_cli.ok("notices", "run-once") == "no notices due\n"
    assert hub_cli.ok("worker", "--once").count(" notice ") == 0

    with hub.sessions() as session:
        sent = session.scalars(select(Message).where(Message.type == NOTICE)).all()
        assert len(sent) == 2
        for message in sent:
            assert (message.sender, message.status) == ("hub", "released")
            assert message.signer_kid == hub.trust.current.kid
            entries = session.scalars(
                select(LogEntry).where(LogEntry.message_id == message.id).order_by(LogEntry.index)
            ).all()
            assert [(e.actor, e.action) for e in entries] == [
                ("hub", "message:received"),
                ("hub", "message:released"),
            ]
            assert message.log_index == entries[0].index
            assert {d.cursor for d in message.deliveries} == {entries[1].index}
            assert json.loads(entries[0].entry)["kid"] == hub.trust.current.kid
    out = hub_cli.ok("log", "verify")
    assert out.startswith("ok: ") and f"{message_count(hub)} messages" in out


def test_the_worker_sends_due_notices_after_the_checkpoint(
    base_url: str, hub: Hub, partners: Partners, hub_cli: Cli
) -> None:
    today = china_today(hub.now())
    ledger_line(
        base_url,
        partners["audit"],
        "YL-SJ-ZG-2026-W1",
        "pending",
        today - timedelta(days=1),
        today - timedelta(days=1),
    )
    lines = hub_cli.ok("worker", "--once").splitlines()
    assert len(lines) == 2
    assert " checkpoint tree_size " in lines[0]
    assert lines[1].endswith(f" notice rectification_overdue\tYL-SJ-ZG-2026-W1\t{AUDIT}")
    assert hub_cli.ok("worker", "--once") == ""
