"""The ledger lifecycle (DOMAIN.md): each rectification.status.v1 is one line of a ledger item
(整改台账条目); its status must follow the transition table, its ``status_date`` the previous
line's (and not pass the day received), and each line is kept with the state it leaves the item
in — an optional field the line omits keeps the item's previous value (Version 1 additions).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Final, cast

from sqlalchemy import Table

from exchange.errors import InvalidTransition, SchemaInvalid
from exchange.store.models import LEDGER_STATE, LedgerLineAct, LedgerLineUnit
from exchange.store.rows import LedgerItemRow
from exchange.supervision.days import china_date, china_today
from exchange.supervision.lifecycles.base import (
    LEDGER_ITEMS,
    LINES,
    Concerned,
    Lifecycle,
    LifecycleState,
    ReadModel,
    Step,
    check_business_date,
)
from exchange.supervision.states import RectificationStatus
from schemas import Envelope
from schemas.rectification import AMOUNT_CATEGORIES, RECTIFICATION_TRANSITIONS

UNITS: Final = cast(Table, LedgerLineUnit.__table__)
ACTS: Final = cast(Table, LedgerLineAct.__table__)
_DOC_YEAR: Final = re.compile(r"〔([0-9]{4})〕")

# Optional payload fields kept from the item's previous line when a line omits them, with the
# value an item's first line starts from: (payload field, column, first value).
_KEPT: Final[tuple[tuple[str, str, Any], ...]] = (
    ("amount_involved", "amount_involved", Decimal(0)),
    ("amount_rectified", "amount_rectified", Decimal(0)),
    ("rules_made", "rules_made", 0),
    ("persons_held_accountable", "persons_held_accountable", 0),
    ("source_project", "source_project", None),
    ("problem_category", "problem_category", None),
    ("referral_id", "referral_id", None),
)


def status_date_of(envelope: Envelope) -> date:
    """The line's business date: ``status_date``, by default the Beijing date of ``sent_at``."""
    given = envelope.payload.get("status_date")
    return given if isinstance(given, date) else china_date(envelope.sent_at)


def source_year_of(payload: Mapping[str, Any]) -> int | None:
    """``source_year``, by default the 〔YYYY〕 of ``source_doc_number``."""
    if "source_year" in payload:
        return int(payload["source_year"])
    match = _DOC_YEAR.search(str(payload["source_doc_number"]))
    return int(match[1]) if match else None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def check_status(current: str | None, new: str, reopen_reason: str | None) -> None:
    """Refuse a status the transition table does not allow (an item's first may be any)."""
    if current is None or current == new:
        return
    if new not in RECTIFICATION_TRANSITIONS[current]:
        raise InvalidTransition(
            f"The ledger item is {current}; {new} cannot follow it.",
            current=current,
            attempted=new,
        )
    if current == RectificationStatus.CLOSED and not reopen_reason:
        raise SchemaInvalid(
            errors={"payload.reopen_reason": ["Required when a closed item is reopened."]}
        )


def milestone_due(milestones: Iterable[dict[str, Any]]) -> date | None:
    """The earliest due date of a milestone not yet done, or None."""
    dues = [m["due"] for m in milestones if m.get("due") and not m.get("done_at")]
    return min(dues) if dues else None


class RectificationLifecycle(Lifecycle):
    """rectification.status.v1: a ledger line, keyed by its owner and ledger item id."""

    message_type: ClassVar[str] = "rectification.status.v1"

    def concerns(self, envelope: Envelope) -> dict[ReadModel, Concerned]:
        """The item as the owner's latest line left it."""
        key = str(envelope.payload["ledger_item_id"])
        return {LEDGER_ITEMS: Concerned(senders={envelope.sender}, keys={key})}

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """The status follows the item's, by the transition table; the status date follows
        the previous line's and does not pass the day received.
        """
        payload = envelope.payload
        item = state.items.get((envelope.sender, payload["ledger_item_id"]))
        check_status(
            item["status"] if item else None, payload["status"], payload.get("reopen_reason")
        )
        check_business_date(
            "status_date",
            item["status_date"] if item else None,
            status_date_of(envelope),
            china_today(state.now) if state.now else None,
            "the item's previous line",
        )

    def entry_fields(self, state: LifecycleState, envelope: Envelope) -> dict[str, Any]:
        """The ledger item id; both statuses when the status changes."""
        payload = envelope.payload
        item = state.items.get((envelope.sender, payload["ledger_item_id"]))
        before = item["status"] if item else None
        fields: dict[str, Any] = {"ledger_item_id": payload["ledger_item_id"]}
        if before != payload["status"]:
            fields.update(from_state=before, to_state=payload["status"])
        return fields

    def apply(self, state: LifecycleState, envelope: Envelope, step: Step) -> None:
        """The item takes the line's state; the line is kept with it."""
        payload = envelope.payload
        key = (envelope.sender, payload["ledger_item_id"])
        item = state.items.get(key)
        before = item["status"] if item else None
        previous: Mapping[str, Any] = item or {}
        kept = {
            column: payload[name] if name in payload else previous.get(column, first)
            for name, column, first in _KEPT
        }
        amounts = {
            f"amount_{category}": previous.get(f"amount_{category}")
            for category in AMOUNT_CATEGORIES
        }
        for given in payload.get("amounts", []):
            amounts[f"amount_{given['category']}"] = given["amount"]
        units = payload.get("co_responsible_units")
        acts = payload.get("supervision")
        milestones = payload.get("milestones")
        fields: dict[str, Any] = {
            "owner": envelope.sender,
            "ledger_item_id": payload["ledger_item_id"],
            "source": payload["source"],
            "source_doc_number": payload["source_doc_number"],
            "unit_name": payload["responsible_unit"]["name"],
            "unit_uscc": payload["responsible_unit"].get("uscc"),
            "rectification_class": payload["rectification_class"],
            "status": payload["status"],
            "deadline": payload["deadline"],
            "milestone_due": milestone_due(milestones)
            if milestones is not None
            else previous.get("milestone_due"),
            **kept,
            **amounts,
            "status_date": status_date_of(envelope),
            "source_year": source_year_of(payload),
            "co_units_json": _json(units) if units is not None else previous.get("co_units_json"),
            "acts_json": _json(acts) if acts is not None else previous.get("acts_json"),
            "first_reported_at": item["first_reported_at"] if item else envelope.sent_at,
            "reported_at": envelope.sent_at,
            "last_message_id": envelope.id,
            "notified_at": item["notified_at"] if item else None,
        }
        row = cast(LedgerItemRow, fields)
        state.items[key] = row
        if item is None:
            state.insert(LEDGER_ITEMS.table, key, row)
        else:
            state.stage(LEDGER_ITEMS.table, key, row)
        # The line itself, with the state it leaves the item in: what its recipients see.
        line = {name: row[name] for name in LEDGER_STATE}  # type: ignore[literal-required]
        if item is not None:
            # The line it follows held the item's state up to the day before this one's.
            state.supersede(item["last_message_id"], row["status_date"])
        state.insert(
            LINES,
            (envelope.id, ""),
            {
                "message_id": envelope.id,
                "log_index": step.log_index,
                "received_at": step.now,
                "first_reported_at": row["first_reported_at"],
                "superseded_on": None,
                **line,
            },
        )
        self._facets(state, envelope.id, row)
        if before != row["status"]:
            state.transition(
                kind="ledger_item",
                owner=envelope.sender,
                key=payload["ledger_item_id"],
                party=None,
                message_id=envelope.id,
                before=before,
                after=row["status"],
                detail=None,
                at=step.now,
                log_index=step.log_index,
                business_date=row["status_date"],
            )

    @staticmethod
    def _facets(state: LifecycleState, message_id: str, row: LedgerItemRow) -> None:
        # The line's co-responsible units and acts, as the line left the item, for queries.
        for position, unit in enumerate(json.loads(row["co_units_json"] or "[]")):
            state.insert(
                UNITS,
                (message_id, str(position)),
                {
                    "message_id": message_id,
                    "position": position,
                    "unit_name": unit["name"],
                    "unit_uscc": unit["uscc"],
                },
            )
        for position, act in enumerate(json.loads(row["acts_json"] or "[]")):
            state.insert(
                ACTS,
                (message_id, str(position)),
                {
                    "message_id": message_id,
                    "position": position,
                    "kind": act["kind"],
                    "day": date.fromisoformat(act["date"]),
                    "by": act.get("by"),
                },
            )
