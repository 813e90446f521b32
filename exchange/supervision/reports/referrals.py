"""The 移送线索台账 report: one row per recipient's handling of a referral the caller may see,
and the referral figures on its summary sheet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy.orm import Session

from exchange.store.models import ReferralCase
from exchange.supervision.days import china_date, china_today
from exchange.supervision.figures import stats
from exchange.supervision.reads import days_to_first_feedback
from exchange.supervision.reports.reading import (
    context,
    in_order,
    money,
    partner_names,
    payloads,
    summary_title,
    yes_no,
)
from exchange.supervision.reports.workbook import Block, Cell, Column, Report, Table
from exchange.supervision.scope import Period
from exchange.supervision.visibility import cases_seen
from exchange.trust.hub_keys import HubTrust
from schemas.clue import DISPOSITIONS, ISSUE_CATEGORIES, REFERRAL_STATES

REFERRAL_COLUMNS: Final = (
    Column("移送编号", 20),
    Column("文号", 22),
    Column("被审计(巡察)单位", 30),
    Column("移送单位", 18),
    Column("接收单位", 18),
    Column("问题类别", 16),
    Column("涉及金额(元)", 16),
    Column("移送日期", 12),
    Column("反馈时限", 12),
    Column("当前状态", 12),
    Column("处置方式", 14),
    Column("是否逾期", 10),
    Column("首次反馈用时(天)", 17),
    Column("办结日期", 12),
    Column("处理人数", 10),
    Column("追回金额(元)", 16),
)


def referral_cases(
    session: Session, partner_id: str | None, period: Period, now: datetime
) -> list[tuple[ReferralCase, bool]]:
    """The referral cases ``partner_id`` may see (all when None) sent in the period, each with
    whether it is overdue.
    """
    query = cases_seen(partner_id, china_today(now)).order_by(
        ReferralCase.sent_at, ReferralCase.referral_id, ReferralCase.recipient
    )
    return [(c, bool(late)) for c, late in session.execute(query) if period.holds(c.sent_at)]


def referral_rows(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Table:
    """One row per recipient's handling of a visible referral; 文号, the unit and the amount
    come from the referral itself (unsealed).
    """
    cases = referral_cases(session, partner_id, period, now)
    names = partner_names(session)
    texts = payloads(session, trust, {c.message_id for c, _ in cases})
    rows: list[tuple[Cell, ...]] = []
    for case, late in cases:
        payload = texts.get(case.message_id, {})
        unit = payload.get("audited_unit") or {}
        amount = payload.get("amount_involved")
        rows.append(
            (
                case.referral_id,
                payload.get("doc_number"),
                unit.get("name"),
                names.get(case.sender, case.sender),
                names.get(case.recipient, case.recipient),
                ISSUE_CATEGORIES.get(case.issue_category, case.issue_category),
                money(amount) if amount is not None else None,
                china_date(case.sent_at),
                case.feedback_due,
                REFERRAL_STATES.get(case.state, case.state),
                DISPOSITIONS.get(case.disposition, case.disposition) if case.disposition else None,
                yes_no(late),
                days_to_first_feedback(case),
                china_date(case.concluded_at) if case.concluded_at else None,
                case.persons_handled,
                money(case.recovered_amount),
            )
        )
    return Table(REFERRAL_COLUMNS, rows)


def referral_report(
    session: Session, trust: HubTrust, partner_id: str | None, period: Period, now: datetime
) -> Report:
    """The 移送线索台账 with the referral figures on its summary sheet."""
    referrals = stats(session, partner_id, period, now)["referrals"]
    main: list[tuple[Cell, ...]] = [
        ("已放行移送(件次)", referrals["total"]),
        ("移送线索(件)", referrals["referrals"]),
        ("审核驳回", referrals["rejected"]),
        ("待审核", referrals["held"]),
        ("逾期未反馈", referrals["overdue"]),
        ("已反馈", referrals["with_feedback"]),
        ("反馈用时中位数(天)", referrals["median_days_to_feedback"]),
        ("办结", referrals["concluded"]),
        ("处理人数", referrals["persons_handled"]),
        ("追回金额(元)", money(referrals["recovered_amount"])),
    ]
    by_state = [
        (REFERRAL_STATES.get(state, state), count)
        for state, count in in_order(referrals["by_state"], REFERRAL_STATES)
    ]
    by_category = [
        (ISSUE_CATEGORIES.get(category, category), count)
        for category, count in in_order(referrals["by_category"], ISSUE_CATEGORIES)
    ]
    return Report(
        name="移送线索台账",
        ascii_name="referrals",
        as_of=period.day(now),
        title=summary_title("移送线索台账", period, now),
        table=referral_rows(session, trust, partner_id, period, now),
        summary=[
            context(session, partner_id, period, now, "移送日期"),
            Block("主要指标", ("项目", "数值"), main),
            Block("按当前状态", ("当前状态", "件数"), by_state),
            Block("按问题类别", ("问题类别", "件数"), by_category),
        ],
    )
