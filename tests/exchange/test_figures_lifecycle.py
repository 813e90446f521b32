"""The Version 1 lifecycle rules over real HTTP: status dates in order and not past the day
received, an omitted field keeps the item's value (a blank amount is never zero), a competent
authority answers with its own dispositions — each refusal names the field and stores nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from exchange.hub import Hub
from exchange.store.models import LedgerItem, LedgerLine, LedgerLineAct, LedgerLineUnit, ShareUse
from exchange.supervision.days import china_today
from schemas import examples
from tests.exchange.test_lifecycle import refused
from tests.support import PartnerKeys, register, review

Partners = dict[str, PartnerKeys]


def line(item: str, status: str = "in_progress", **payload: Any) -> dict[str, Any]:
    raw = examples.rectification_example(status=status, payload=payload)
    raw["payload"]["ledger_item_id"] = raw["subject"] = item
    return raw


def stored_item(hub: Hub, item: str) -> LedgerItem:
    with hub.sessions() as session:
        row = session.scalar(select(LedgerItem).where(LedgerItem.ledger_item_id == item))
        assert row is not None
        session.expunge(row)
        return row


def test_a_status_date_after_the_day_received_is_refused(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    item = f"ZG-{uuid.uuid4().hex[:8]}"
    tomorrow = china_today(hub.now()) + timedelta(days=1)
    refusal = refused(lambda: audit.send(line(item, status_date=tomorrow.isoformat())), hub=hub)
    assert "payload.status_date" in refusal.problem["detail"]
    with hub.sessions() as session:
        assert session.scalar(select(LedgerLine).where(LedgerLine.ledger_item_id == item)) is None


def test_a_status_date_before_the_previous_line_is_refused(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    item = f"ZG-{uuid.uuid4().hex[:8]}"
    audit.send(line(item, "pending", status_date="2025-03-01"))
    audit.send(line(item, "in_progress", status_date="2025-03-01"))  # the same day is in order
    refusal = refused(
        lambda: audit.send(line(item, "submitted", status_date="2025-02-28")), hub=hub
    )
    assert "payload.status_date" in refusal.problem["detail"]
    assert refusal.problem["current"] == "2025-03-01"
    row = stored_item(hub, item)
    assert (row.status, row.status_date) == ("in_progress", date(2025, 3, 1))


def test_the_status_date_defaults_to_the_beijing_day_sent(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    item = f"ZG-{uuid.uuid4().hex[:8]}"
    raw = line(item)
    audit.send(raw)
    assert stored_item(hub, item).status_date == date.fromisoformat(raw["sent_at"][:10])


def test_an_omitted_field_keeps_the_items_value_and_an_explicit_one_replaces_it(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    item = f"ZG-{uuid.uuid4().hex[:8]}"
    first = line(
        item,
        "pending",
        status_date="2025-01-15",
        amount_rectified="1200000.00",
        source_project="2024年度预算执行审计",
        amounts=[
            {"category": "violation", "amount": "1500000.00"},
            {"category": "recovered", "amount": "1200000.00"},
        ],
        co_responsible_units=[{"name": "区财政局", "uscc": examples.AUDIT_BUREAU_USCC}],
        supervision=[{"kind": "urge_letter", "date": "2025-01-10"}],
    )
    audit.send(first)
    # A later line with the amount left blank (absent), one category restated, nothing else.
    blank = line(item, "in_progress", status_date="2025-03-01")
    for name in ("amount_rectified", "rules_made", "persons_held_accountable"):
        blank["payload"].pop(name, None)
    blank["payload"]["amounts"] = [{"category": "recovered", "amount": "1300000.00"}]
    audit.send(blank)
    row = stored_item(hub, item)
    assert row.amount_rectified == Decimal("1200000.00")  # blank is absent, never zero
    assert row.rules_made == 1
    assert row.source_project == "2024年度预算执行审计"
    assert (row.amount_violation, row.amount_recovered) == (
        Decimal("1500000.00"),
        Decimal("1300000.00"),
    )
    assert row.source_year == 2025  # from 阎审经责报〔2025〕2号
    with hub.sessions() as session:
        last = blank["id"]
        units = session.scalars(
            select(LedgerLineUnit).where(LedgerLineUnit.message_id == last)
        ).all()
        acts = session.scalars(select(LedgerLineAct).where(LedgerLineAct.message_id == last)).all()
        assert [u.unit_name for u in units] == ["区财政局"]
        assert [(a.kind, a.day) for a in acts] == [("urge_letter", date(2025, 1, 10))]
    # Explicit values replace: "0.00", [] .
    audit.send(
        line(
            item,
            "submitted",
            status_date="2025-04-01",
            amount_rectified="0.00",
            co_responsible_units=[],
            supervision=[],
        )
    )
    row = stored_item(hub, item)
    assert row.amount_rectified == Decimal("0.00")
    assert row.co_units_json == "[]"
    assert row.amount_recovered == Decimal("1300000.00")


def authority_referral(
    base_url: str, hub: Hub, partners: Partners
) -> tuple[dict[str, Any], PartnerKeys]:
    authority = register(hub, "authority.caizheng")
    raw = examples.referral_example(recipients=[authority.partner_id])
    raw["payload"]["referral_id"] = raw["subject"] = f"YL-YS-{uuid.uuid4().hex[:6]}"
    sent = partners["audit"].client(base_url).send(raw)
    review(hub, sent.id, "zhang.reviewer")
    review(hub, sent.id, "li.reviewer")
    client = authority.client(base_url)
    client.ack([i.envelope["id"] for i in client.inbox().items])
    client.send(examples.clue_feedback_example(stage="accepted", referral=raw))
    return raw, authority


def test_a_competent_authority_answers_with_its_own_dispositions(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    referral, authority = authority_referral(base_url, hub, partners)
    client = authority.client(base_url)
    theirs = examples.clue_feedback_example(
        stage="disposed", referral=referral, payload={"disposition": "talk_inquiry"}
    )
    refusal = refused(lambda: client.send(theirs), "schema-invalid", hub=hub)
    assert "payload.disposition" in refusal.problem["errors"]
    client.send(
        examples.clue_feedback_example(
            stage="disposed", referral=referral, payload={"disposition": "investigation"}
        )
    )
    client.send(
        examples.clue_feedback_example(
            stage="disposed", referral=referral, payload={"disposition": "case_filed"}
        )
    )


def test_discipline_may_not_use_an_authoritys_disposition(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    referral = examples.referral_example()
    sent = partners["audit"].client(base_url).send(referral)
    review(hub, sent.id, "zhang.reviewer")
    review(hub, sent.id, "li.reviewer")
    discipline = partners["discipline"].client(base_url)
    discipline.ack([i.envelope["id"] for i in discipline.inbox().items])
    discipline.send(examples.clue_feedback_example(stage="accepted", referral=referral))
    penalty = examples.clue_feedback_example(
        stage="disposed", referral=referral, payload={"disposition": "penalty"}
    )
    refusal = refused(lambda: discipline.send(penalty), "schema-invalid", hub=hub)
    assert "payload.disposition" in refusal.problem["errors"]


def test_feedback_dated_before_the_cases_last_step_is_refused(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    referral, authority = authority_referral(base_url, hub, partners)
    client = authority.client(base_url)
    early = examples.clue_feedback_example(
        stage="disposed",
        referral=referral,
        payload={"disposition": "investigation", "occurred_at": "2020-01-01"},
    )
    refusal = refused(lambda: client.send(early), "invalid-transition", hub=hub)
    assert "payload.occurred_at" in refusal.problem["detail"]


def test_an_unknown_amount_category_and_a_plan_item_without_kind_are_refused_by_path(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    item = f"ZG-{uuid.uuid4().hex[:8]}"
    bribes = [{"category": "bribes", "amount": "1.00"}]
    refusal = refused(lambda: audit.send(line(item, amounts=bribes)), "schema-invalid", hub=hub)
    assert "payload.amounts[0].category" in str(refusal.problem)
    plan_item = {
        "project": "区交通局2025年度预算执行审计",
        "unit": {"name": examples.COMPANY_NAME, "uscc": examples.COMPANY_USCC},
        "period": {"from": "2025-03-01", "to": "2025-06-30"},
        "joint": True,
    }
    plan = examples.share_example(payload={"share_type": "annual_plan", "plan_items": [plan_item]})
    refusal = refused(lambda: audit.send(plan), "schema-invalid", hub=hub)
    assert "payload.plan_items[0].kind" in str(refusal.problem)
    with hub.sessions() as session:
        assert session.scalar(select(LedgerLine).where(LedgerLine.ledger_item_id == item)) is None
        assert session.scalar(select(ShareUse).where(ShareUse.message_id == plan["id"])) is None
