"""Issue 13's scenario, "a report's year", over real HTTP: one audit report's items reported in
January, status lines dated through the year, a second report and the inspection office's items
about the bureau loaded beside them, a line with its amount left blank, a referral an item
follows up. ``/v1/stats?source_doc_number=…&as_of=…-06-30`` must equal the figures this test
computes on its own from what it sent — and stay so after September's lines and the other loads.
The XLSX 汇总 for the same filters says the same.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from openpyxl import load_workbook

from exchange.hub import Hub
from schemas import examples
from tests.exchange.test_reports import figures, summary_blocks
from tests.support import PartnerKeys, review, signed_request

Partners = dict[str, PartnerKeys]
YEAR = 2026
REPORT = f"阎审报〔{YEAR}〕1号"
SECOND_REPORT = f"阎审报〔{YEAR - 1}〕9号"
CUT_OFF = date(YEAR, 6, 30)
BUREAU = {"name": "燕良区审计局", "uscc": examples.AUDIT_BUREAU_USCC}
DONE = {"completed", "closed"}


@dataclass
class Item:
    """What the test sent of one item: its lines (status date, status, fields given)."""

    key: str
    doc: str = REPORT
    lines: list[tuple[date, str, dict[str, Any]]] = field(default_factory=list)

    def as_of(self, day: date) -> dict[str, Any] | None:
        """The item's state as of ``day``: the latest line dated up to it, omitted fields
        keeping the earlier value, amounts replaced per category.
        """
        state: dict[str, Any] | None = None
        for status_date, status, given in self.lines:
            if status_date > day:
                break
            state = dict(state or {"amounts": {}})
            state["status"] = status
            for name, value in given.items():
                if name == "amounts":
                    state["amounts"] = {**state["amounts"], **value}
                else:
                    state[name] = value
        return state


def send_line(client: Any, owner: str, item: Item, day: date, status: str, **given: Any) -> None:
    raw = examples.rectification_example(status=status, sender=owner)
    payload = raw["payload"]
    for name in ("amount_involved", "amount_rectified", "rules_made", "persons_held_accountable"):
        payload.pop(name)  # only what the test gives: absent means unchanged
    payload.update(ledger_item_id=item.key, status_date=day.isoformat())
    payload["source_doc_number"] = item.doc  # required on every line
    raw["subject"] = item.key
    wire = dict(given)
    if "amounts" in wire:
        wire["amounts"] = [{"category": c, "amount": a} for c, a in given["amounts"].items()]
    payload.update(wire)
    if owner.startswith("inspection"):
        payload.update(source="inspection", responsible_unit=BUREAU)
        raw["to"] = ["audit.yanliang", "discipline.yanliang"]
    client.send(raw)
    item.lines.append((day, status, given))


def expected(items: list[Item], referral_persons: int, day: date) -> dict[str, Any]:
    """The report's figures as of ``day``, computed from what was sent."""
    states = [s for s in (i.as_of(day) for i in items) if s is not None]
    done = sum(s["status"] in DONE for s in states)
    ongoing = sum(s["status"] == "ongoing" for s in states)
    amounts: dict[str, Decimal] = {}
    for s in states:
        for category, amount in s["amounts"].items():
            amounts[category] = amounts.get(category, Decimal(0)) + Decimal(amount)
    uncited = sum(s.get("persons_held_accountable", 0) for s in states if "referral_id" not in s)
    cited = sum(s.get("persons_held_accountable", 0) for s in states if "referral_id" in s)
    return {
        "total": len(states),
        "rectification_rate": round(100 * done / len(states), 2),
        "ongoing_rate": round(100 * ongoing / len(states), 2),
        "amounts_by_category": {c: f"{a:.2f}" for c, a in sorted(amounts.items())},
        "amount_rectified": f"{sum(Decimal(s.get('amount_rectified', 0)) for s in states):.2f}",
        "accountability": referral_persons + uncited + max(0, cited - referral_persons),
    }


def stats(base_url: str, who: PartnerKeys, query: str) -> dict[str, Any]:
    response = signed_request(base_url, who, "GET", "/v1/stats?" + query)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def concluded_referral(base_url: str, hub: Hub, partners: Partners) -> str:
    """A referral audit → discipline, concluded on 20 May with 2 persons handled."""
    raw = examples.referral_example()
    referral_id = raw["payload"]["referral_id"] = raw["subject"] = f"YL-YJ-{uuid.uuid4().hex[:6]}"
    sent = partners["audit"].client(base_url).send(raw)
    review(hub, sent.id, "zhang.reviewer")
    review(hub, sent.id, "li.reviewer")
    discipline = partners["discipline"].client(base_url)
    discipline.ack([i.envelope["id"] for i in discipline.inbox().items])
    for stage, day in (("accepted", "03-01"), ("disposed", "04-01"), ("concluded", "05-20")):
        feedback = examples.clue_feedback_example(
            stage=stage, referral=raw, payload={"occurred_at": f"{YEAR}-{day}"}
        )
        discipline.send(feedback)
    return referral_id


def test_a_reports_year_as_of_june(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"].client(base_url)
    inspection = partners["inspection"].client(base_url)
    referral_id = concluded_referral(base_url, hub, partners)
    tag = uuid.uuid4().hex[:6]
    items = [Item(f"A{tag}-{n:02d}") for n in range(10)]
    jan = date(YEAR, 1, 15)
    for n, item in enumerate(items):
        send_line(
            audit,
            examples.AUDIT,
            item,
            jan,
            "pending",
            amount_involved=f"{100000 * (n + 1)}.00",
            amounts={"violation": f"{100000 * (n + 1)}.00"},
        )
    d = date
    # Through the spring: five items rectified by June, two 持续整改, the rest in progress.
    for n in range(5):
        send_line(audit, examples.AUDIT, items[n], d(YEAR, 3, 10), "in_progress")
        send_line(audit, examples.AUDIT, items[n], d(YEAR, 4, 20 + n), "submitted")
        send_line(
            audit,
            examples.AUDIT,
            items[n],
            d(YEAR, 6, 10 + n),
            "completed",
            amount_rectified=f"{50000 * (n + 1)}.00",
            amounts={"recovered": f"{50000 * (n + 1)}.00"},
        )
    for n in (5, 6):
        send_line(audit, examples.AUDIT, items[n], d(YEAR, 2, 1), "in_progress")
        send_line(audit, examples.AUDIT, items[n], d(YEAR, 5, 30), "ongoing")
    # The blank-amount item: 120万 rectified in March, a May line with the amount left blank.
    blank = items[7]
    send_line(
        audit, examples.AUDIT, blank, d(YEAR, 3, 1), "in_progress", amount_rectified="1200000.00"
    )
    send_line(audit, examples.AUDIT, blank, d(YEAR, 5, 15), "submitted")
    # An item that follows up the referral (3 persons, 2 of them the referral's) and one with a
    # person of its own.
    send_line(
        audit,
        examples.AUDIT,
        items[8],
        d(YEAR, 4, 1),
        "in_progress",
        referral_id=referral_id,
        persons_held_accountable=3,
    )
    send_line(
        audit, examples.AUDIT, items[9], d(YEAR, 4, 2), "in_progress", persons_held_accountable=1
    )
    # A line dated after the cut-off, loaded the same day: it must not count as of June.
    send_line(audit, examples.AUDIT, items[9], d(YEAR, 7, 20), "submitted")

    query = f"source_doc_number={quote(REPORT)}&as_of={CUT_OFF.isoformat()}"
    june = stats(base_url, partners["audit"], query)
    want = expected(items, referral_persons=2, day=CUT_OFF)
    rectification = june["rectification"]
    assert rectification["total"] == want["total"] == 10
    assert rectification["rectification_rate"] == want["rectification_rate"] == 50.0
    assert rectification["ongoing_rate"] == want["ongoing_rate"] == 20.0
    assert rectification["amounts_by_category"] == want["amounts_by_category"]
    assert rectification["amount_rectified"] == want["amount_rectified"]
    assert want["amount_rectified"] == "1950000.00"  # the blank line kept the 120万
    assert june["accountability"]["persons"] == want["accountability"] == 4
    assert june["as_of"] == "2026-06-30" and june["filters"]["source_doc_number"] == REPORT

    # Later loads, as an office goes on: September's lines, the previous year's report, the
    # inspection office's items about the bureau itself.
    for n in range(5, 10):
        if n in (5, 6, 8):
            send_line(audit, examples.AUDIT, items[n], d(YEAR, 9, 1), "submitted")
        send_line(
            audit, examples.AUDIT, items[n], d(YEAR, 9, 20), "completed", amount_rectified="0.00"
        )
    old = [Item(f"B{tag}-{n}", SECOND_REPORT) for n in range(4)]
    for item in old:
        send_line(
            audit,
            examples.AUDIT,
            item,
            d(YEAR, 2, 1),
            "in_progress",
            source_doc_number=SECOND_REPORT,
        )
    theirs = [Item(f"X{tag}-{n}", f"阎巡反〔{YEAR}〕2号") for n in range(3)]
    for item in theirs:
        send_line(
            inspection,
            examples.INSPECTION,
            item,
            d(YEAR, 3, 1),
            "pending",
        )
    again = stats(base_url, partners["audit"], query)
    assert again["rectification"] == june["rectification"]
    assert again["accountability"] == june["accountability"]
    # Today the report's items are all rectified: the later lines do count, as of today.
    today = stats(
        base_url, partners["audit"], f"source_doc_number={quote(REPORT)}&owner=audit.yanliang"
    )
    assert today["rectification"]["rectification_rate"] == 100.0
    # The inspection office's items about the bureau: found by its unit, apart from the report.
    about_us = stats(base_url, partners["audit"], f"unit={examples.AUDIT_BUREAU_USCC}")
    assert about_us["rectification"]["total"] == 3
    assert about_us["rectification"]["by_unit"][0]["unit"] == BUREAU

    # The XLSX 汇总 for the same filters prints the same figures and its 截至 date.
    response = signed_request(
        base_url, partners["audit"], "GET", "/v1/reports/ledger.xlsx?" + query
    )
    assert response.status_code == 200, response.text
    book = load_workbook(io.BytesIO(response.content))
    rows = list(book.worksheets[0].iter_rows(values_only=True))[1:]
    assert len(rows) == 10
    blocks = summary_blocks(book.worksheets[1])
    main = figures(blocks["主要指标"])
    assert main["整改率(%)"] == june["rectification"]["rectification_rate"] == 50.0
    assert main["持续整改占比(%)"] == 20.0
    assert main["追责问责人数(去重)"] == 4
    assert main["台账条目总数"] == 10
    title = next(t for t in blocks if t.startswith("整改台账汇总"))
    assert title == f"整改台账汇总（截至2026年6月30日；来源文书文号：{REPORT}）"
