"""What both reports read: partners' names, unsealed payloads, the context block, and the
way cells show money, dates and yes/no.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange.store.models import Message, Partner
from exchange.supervision.days import CHINA
from exchange.supervision.reports.workbook import Block
from exchange.supervision.scope import Period
from exchange.trust.envelopes import open_envelope
from exchange.trust.hub_keys import HubTrust

_CHUNK: Final = 500  # ids per IN (…) when loading envelopes


def partner_names(session: Session) -> dict[str, str]:
    """Partner id → the body's name."""
    return {pid: name for pid, name in session.execute(select(Partner.id, Partner.name))}


def payloads(session: Session, trust: HubTrust, message_ids: Iterable[str]) -> dict[str, Any]:
    """Message id → its unsealed payload."""
    ids = sorted(set(message_ids))
    payloads: dict[str, Any] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        for message in session.scalars(select(Message).where(Message.id.in_(chunk))):
            payloads[message.id] = open_envelope(trust, message).get("payload", {})
    return payloads


def context(
    session: Session, partner_id: str | None, period: Period, now: datetime, counted_by: str
) -> Block:
    """The block that heads a summary: scope, period and 截至 date."""
    scope = "全部报送单位" if partner_id is None else partner_names(session).get(partner_id)
    start = period.start.isoformat() if period.start else "不限"
    end = period.end.isoformat() if period.end else "不限"
    return Block(
        None,
        None,
        [
            ("统计范围", scope or partner_id),
            ("统计期间", f"{start} 至 {end}（按{counted_by}）"),
            ("截至日期", period.day(now)),
            *((name, value) for name, value in period.filters().items()),
        ],
    )


def summary_title(name: str, period: Period, now: datetime) -> str:
    """``<name>汇总（截至2025年6月30日；来源文书文号：…）``: the cut-off day and the filters."""
    day = period.day(now)
    parts = [f"截至{day.year}年{day.month}月{day.day}日"]
    parts += [
        f"{FILTER_LABELS.get(k, k)}：{v}" for k, v in period.filters().items() if k != "as_of"
    ]
    return f"{name}汇总（{'；'.join(parts)}）"


FILTER_LABELS: Final = {
    "from": "起始日期",
    "to": "截止日期",
    "owner": "报送单位",
    "source": "问题来源",
    "source_doc_number": "来源文书文号",
    "source_year": "问题所属年度",
    "source_project": "项目名称",
    "unit": "整改责任单位",
    "problem_category": "问题类别",
}
"""The report titles' names of the figures' filters."""


def in_order(counts: dict[str, int], labels: dict[str, str]) -> list[tuple[str, int]]:
    """Counts in the enumeration's own order."""
    # The enumeration's own order (as DOMAIN.md lists it), unknown values last.
    order = {value: n for n, value in enumerate(labels)}
    return sorted(counts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def person(person: Any) -> str | None:
    """A person as a cell shows them: 姓名（职务）."""
    if not isinstance(person, dict) or not person.get("name"):
        return None
    position = person.get("position")
    return f"{person['name']}（{position}）" if position else str(person["name"])


def yes_no(flag: bool) -> str:
    """是 or 否."""
    return "是" if flag else "否"


def money(value: Decimal | str) -> Decimal:
    """An amount in yuan, to the fen."""
    return Decimal(value).quantize(Decimal("0.01"))


def beijing(moment: datetime) -> datetime:
    """A stored moment as Beijing wall-clock time, to the second."""
    # Spreadsheets hold no time zones: Beijing wall-clock time, to the second.
    return moment.astimezone(CHINA).replace(tzinfo=None, microsecond=0)
