"""The ledger lifecycle (DOMAIN.md): each rectification.status.v1 is one line of a ledger item
(整改台账条目); its status must follow the transition table, and each line is kept with the
state it leaves the item in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

from exchange.errors import InvalidTransition, SchemaInvalid
from exchange.store.models import LEDGER_STATE
from exchange.store.rows import LedgerItemRow
from exchange.supervision.lifecycles.base import (
    LEDGER_ITEMS,
    LINES,
    Concerned,
    Lifecycle,
    LifecycleState,
    ReadModel,
    Step,
)
from exchange.supervision.states import RectificationStatus
from schemas import Envelope
from schemas.rectification import RECTIFICATION_TRANSITIONS


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
        """The status follows the item's, by the transition table."""
        payload = envelope.payload
        item = state.items.get((envelope.sender, payload["ledger_item_id"]))
        check_status(
            item["status"] if item else None, payload["status"], payload.get("reopen_reason")
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
        row: LedgerItemRow = {
            "owner": envelope.sender,
            "ledger_item_id": payload["ledger_item_id"],
            "source": payload["source"],
            "source_doc_number": payload["source_doc_number"],
            "unit_name": payload["responsible_unit"]["name"],
            "unit_uscc": payload["responsible_unit"].get("uscc"),
            "rectification_class": payload["rectification_class"],
            "status": payload["status"],
            "deadline": payload["deadline"],
            "milestone_due": milestone_due(payload.get("milestones", [])),
            "amount_involved": payload.get("amount_involved", Decimal(0)),
            "amount_rectified": payload.get("amount_rectified", Decimal(0)),
            "rules_made": payload.get("rules_made", 0),
            "persons_held_accountable": payload.get("persons_held_accountable", 0),
            "first_reported_at": item["first_reported_at"] if item else envelope.sent_at,
            "reported_at": envelope.sent_at,
            "last_message_id": envelope.id,
            "notified_at": item["notified_at"] if item else None,
        }
        state.items[key] = row
        if item is None:
            state.insert(LEDGER_ITEMS.table, key, row)
        else:
            state.stage(LEDGER_ITEMS.table, key, row)
        # The line itself, with the state it leaves the item in: what its recipients see.
        line = {name: row[name] for name in LEDGER_STATE}  # type: ignore[literal-required]
        state.insert(
            LINES,
            (envelope.id, ""),
            {
                "message_id": envelope.id,
                "log_index": step.log_index,
                "received_at": step.now,
                **line,
            },
        )
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
            )
