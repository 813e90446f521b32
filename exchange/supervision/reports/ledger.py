"""The 整改台账 report: one row per ledger item the caller may see, as of the latest line it
sent or received, and the rectification figures (整改率 …) on its summary sheet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.supervision.figures import stats
from exchange.supervision.reports.reading import (
    beijing,
    context,
    money,
    partner_names,
    payloads,
    person,
    summary_title,
    yes_no,
)
from exchange.supervision.reports.workbook import Block, Cell, Column, Report, Table
from exchange.supervision.scope import Period, scoped_items
from exchange.supervision.visibility import SeenItem, seen_rows
from exchange.trust.hub_keys import HubTrust
from schemas.rectification import (
    AMOUNT_CATEGORIES,
    RECTIFICATION_CLASSES,
    RECTIFICATION_SOURCES,
    RECTIFICATION_STATUSES,
)

LEDGER_COLUMNS: Final = (
    Column("台账编号", 20),
    Column("报送单位", 18),
    Column("问题来源", 12),
    Column("来源文书文号", 22),
    Column("整改责任单位", 30),
    Column("统一社会信用代码", 21),
    Column("第一责任人", 22),
    Column("问题描述", 48, wrap=True),
    Column("整改措施", 48, wrap=True),
    Column("整改类型", 12),
    Column("整改状态", 14),
    Column("整改时限", 12),
    Column("下一阶段时限", 13),
    Column("是否逾期", 10),
    Column("涉及金额(元)", 16),
    Column("已整改金额(元)", 16),
    Column("完善制度数", 11),
    Column("问责人数", 10),
    Column("首次报送", 20),
    Column("最近报送", 20),
)


def ledger_items(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> list[SeenItem]:
    """The ledger items ``partner_id`` may see (all when None) first reported in the period,
    each as of the latest line it sent or received.
    """
    lateral = session.get_bind().dialect.name == "postgresql"
    scoped = scoped_items(partner_id, period, period.day(now), lateral=lateral)
    return seen_rows(session, select(scoped).order_by(scoped.c.owner, scoped.c.ledger_item_id))


def ledger_rows(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Table:
    """One row per visible ledger item; the texts come from the latest status line the
    partner sent or received (unsealed), the line its figures are of too.
    """
    items = ledger_items(session, partner_id, period, now)
    names = partner_names(session)
    texts = payloads(session, trust, (i.last_message_id for i in items))
    rows: list[tuple[Cell, ...]] = []
    for item in items:
        payload = texts.get(item.last_message_id, {})
        rows.append(
            (
                item.ledger_item_id,
                names.get(item.owner, item.owner),
                RECTIFICATION_SOURCES.get(item.source, item.source),
                item.source_doc_number,
                item.unit_name,
                item.unit_uscc,
                person(payload.get("first_responsible")),
                payload.get("problem_description"),
                payload.get("measures"),
                RECTIFICATION_CLASSES.get(item.rectification_class, item.rectification_class),
                RECTIFICATION_STATUSES.get(item.status, item.status),
                item.deadline,
                item.milestone_due,
                yes_no(item.overdue),
                money(item.amount_involved),
                money(item.amount_rectified),
                item.rules_made,
                item.persons_held_accountable,
                beijing(item.first_reported_at),
                beijing(item.reported_at),
            )
        )
    return Table(LEDGER_COLUMNS, rows)


def ledger_report(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Report:
    """The 整改台账 with the rectification figures (整改率 …) on its summary sheet."""
    figures = stats(session, partner_id, period, now)
    rectification = figures["rectification"]
    main: list[tuple[Cell, ...]] = [
        ("台账条目总数", rectification["total"]),
        ("已完成整改", rectification["completed"]),
        ("已销号", rectification["closed"]),
        ("持续整改", rectification["ongoing"]),
        ("未整改", rectification["not_rectified"]),
        ("整改中(含待整改、已报送待认定)", rectification["in_progress"]),
        ("逾期", rectification["overdue"]),
        ("整改率(%)", rectification["rectification_rate"]),
        ("立行立改条目数", rectification["immediate_total"]),
        ("立行立改完成率(%)", rectification["immediate_rate"]),
        ("涉及金额(元)", money(rectification["amount_involved"])),
        ("已整改金额(元)", money(rectification["amount_rectified"])),
        ("完善制度数", rectification["rules_made"]),
        ("问责人数", rectification["persons_held_accountable"]),
        ("持续整改占比(%)", rectification["ongoing_rate"]),
        ("追责问责人数(去重)", figures["accountability"]["persons"]),
    ]
    by_category_amounts = [
        (AMOUNT_CATEGORIES.get(category, category), money(amount))
        for category, amount in rectification["amounts_by_category"].items()
    ]
    units = [
        (
            unit["unit"]["name"],
            unit["unit"]["uscc"],
            unit["total"],
            unit["completed"],
            unit["closed"],
            unit["ongoing"],
            unit["not_rectified"],
            unit["overdue"],
            unit["rectification_rate"],
            money(unit["amount_involved"]),
            money(unit["amount_rectified"]),
            unit["rules_made"],
            unit["persons_held_accountable"],
        )
        for unit in rectification["by_unit"]
    ]
    return Report(
        name="整改台账",
        ascii_name="ledger",
        as_of=period.day(now),
        title=summary_title("整改台账", period, now),
        table=ledger_rows(session, trust, partner_id, period, now),
        summary=[
            context(session, partner_id, period, now, "首次报送日期"),
            Block("主要指标", ("项目", "数值"), main),
            Block("按金额口径", ("金额口径", "金额(元)"), by_category_amounts),
            Block(
                "按整改责任单位",
                (
                    "整改责任单位",
                    "统一社会信用代码",
                    "台账条目总数",
                    "已完成整改",
                    "已销号",
                    "持续整改",
                    "未整改",
                    "逾期",
                    "整改率(%)",
                    "涉及金额(元)",
                    "已整改金额(元)",
                    "完善制度数",
                    "问责人数",
                ),
                units,
            ),
        ],
    )
