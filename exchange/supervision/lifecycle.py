"""The lifecycles of DOMAIN.md — referral handling, result use, rectification ledger items.

The rules are tables; ``Lifecycles`` applies them inside the transaction that stores (or
releases, pulls, acks) a message, under the log lock, so two messages about the same business
key are checked one after the other. Each accepted step updates a read model row and adds a
``transitions`` row (timelines, figures); the log entry of the event that caused it (the
message's ``message:received``, or the release, pull or ack) records it (ids and states only).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Select, Table, select
from sqlalchemy.orm import Session

from exchange.errors import ProblemError
from exchange.store.models import (
    LEDGER_STATE,
    LedgerItem,
    LedgerLine,
    Message,
    ReferralCase,
    ShareUse,
    Transition,
)
from schemas import Envelope
from schemas.rectification import RECTIFICATION_TRANSITIONS

CASES = cast(Table, ReferralCase.__table__)
LINES = cast(Table, LedgerLine.__table__)
USES = cast(Table, ShareUse.__table__)
ITEMS = cast(Table, LedgerItem.__table__)
TRANSITIONS = cast(Table, Transition.__table__)

# --- referral handling (clue.feedback.v1 stages) --------------------------------------------

# The state a feedback stage leads to, and the states it may follow. A recipient signs for a
# referral (an ack, or a `received` feedback) before it accepts, returns or transfers it.
STAGE_STATE = {
    "received": "acked",
    "accepted": "accepted",
    "returned": "returned",
    "transferred": "transferred",
    "disposed": "disposed",
    "concluded": "concluded",
}
STAGE_AFTER: dict[str, frozenset[str]] = {
    "received": frozenset({"released", "delivered", "acked"}),
    "accepted": frozenset({"acked"}),
    "returned": frozenset({"acked"}),
    "transferred": frozenset({"acked"}),
    "disposed": frozenset({"accepted"}),
    "concluded": frozenset({"disposed"}),
}
# A disposed referral may change disposition only along these arrows (DOMAIN.md).
DISPOSITION_CHANGES: dict[str, frozenset[str]] = {
    "talk_inquiry": frozenset({"preliminary_verification", "closed_no_action"}),
    "shelved": frozenset({"preliminary_verification"}),
    "preliminary_verification": frozenset({"filed_investigation", "closed_no_action"}),
}
# Hub events on a referral: release after review, pull, signed ack.
HUB_STEPS: dict[str, frozenset[str]] = {
    "released": frozenset({"pending_review"}),
    "rejected": frozenset({"pending_review"}),
    "delivered": frozenset({"released"}),
    "acked": frozenset({"released", "delivered"}),
}
REFERRAL_DONE = frozenset({"rejected", "returned", "transferred", "concluded"})


def invalid(current: str, attempted: str, what: str) -> ProblemError:
    """The 409 naming the current and the attempted state."""
    return ProblemError(
        "invalid-transition",
        f"{what} is {current}; {attempted} cannot follow it.",
        extra={"current": current, "attempted": attempted},
    )


def check_feedback(
    state: str, disposition: str | None, stage: str, new_disposition: str | None
) -> None:
    """Refuse a feedback stage that skips or reverses the referral's order."""
    attempted = STAGE_STATE[stage]
    if stage == "disposed" and state == "disposed":
        allowed = DISPOSITION_CHANGES.get(disposition or "", frozenset())
        if new_disposition not in allowed:
            raise invalid(
                f"disposed ({disposition})",
                f"disposed ({new_disposition})",
                "The referral's disposition",
            )
        return
    if state not in STAGE_AFTER[stage]:
        raise invalid(state, attempted, "The referral")
    # Concluding may name the final disposition: it too must follow the arrows.
    if (
        stage == "concluded"
        and new_disposition is not None
        and new_disposition != disposition
        and new_disposition not in DISPOSITION_CHANGES.get(disposition or "", frozenset())
    ):
        raise invalid(
            f"disposed ({disposition})",
            f"concluded ({new_disposition})",
            "The referral's disposition",
        )


def check_status(current: str | None, new: str, reopen_reason: str | None) -> None:
    """Refuse a ledger status the transition table does not allow (the first may be any)."""
    if current is None or current == new:
        return
    if new not in RECTIFICATION_TRANSITIONS[current]:
        raise invalid(current, new, "The ledger item")
    if current == "closed" and not reopen_reason:
        raise ProblemError(
            "schema-invalid",
            errors={"payload.reopen_reason": ["Required when a closed item is reopened."]},
        )


def milestone_due(milestones: Iterable[dict[str, Any]]) -> Any:
    """The earliest due date of a milestone not yet done, or None."""
    dues = [m["due"] for m in milestones if m.get("due") and not m.get("done_at")]
    return min(dues) if dues else None


# --- applying the rules inside a write transaction -------------------------------------------


@dataclass
class Changes:
    """Read-model rows to insert or update, transitions to add, for one transaction."""

    inserts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    updates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    transitions: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LifecycleState:
    """The rows a batch's messages concern, loaded under the lock, changed as it goes."""

    cases: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    uses: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    items: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    referral_keys: set[tuple[str, str]] = field(default_factory=set)
    share_keys: set[tuple[str, str]] = field(default_factory=set)
    new: set[tuple[str, tuple[str, str]]] = field(default_factory=set)
    changes: Changes = field(default_factory=Changes)

    def insert(self, table: str, key: tuple[str, str], row: dict[str, Any]) -> None:
        """Record a row new in this transaction."""
        self.new.add((table, key))
        self.changes.inserts.setdefault(table, []).append(row)

    def stage(self, table: str, key: tuple[str, str], row: dict[str, Any]) -> None:
        """Record a row as changed (inserted if it was new in this transaction)."""
        if (table, key) not in self.new:
            self.changes.updates.setdefault(table, [])
            rows = self.changes.updates[table]
            rows[:] = [r for r in rows if _pk(table, r) != key]
            rows.append(row)


def _pk(table: str, row: dict[str, Any]) -> tuple[str, str]:
    if table == "ledger_items":
        return (row["owner"], row["ledger_item_id"])
    return (row["message_id"], row["recipient"])


@dataclass(frozen=True)
class Read:
    """One query of the rows a batch concerns: a read model and the keys to look up.

    ``message_ids`` find the rows of the messages answered; ``senders`` × ``keys`` the rows of
    business keys sent before. ``statement()`` is the portable form; ``ANY_SQL`` the form the
    PostgreSQL pipeline runs (one text per table, lists bound as arrays).
    """

    table: Table
    message_ids: tuple[str, ...]
    senders: tuple[str, ...]
    keys: tuple[str, ...]

    def statement(self) -> Select[Any]:
        """The query as SQLAlchemy Core, for any database."""
        key_column = self.table.c[KEY_COLUMNS[self.table.name]]
        by_key = self.table.c[SENDER_COLUMNS[self.table.name]].in_(self.senders) & key_column.in_(
            self.keys
        )
        if "message_id" in self.table.c:
            return select(self.table).where(self.table.c.message_id.in_(self.message_ids) | by_key)
        return select(self.table).where(by_key)

    def params(self) -> dict[str, list[str]]:
        """Parameters of ``ANY_SQL``."""
        return {
            "ids": list(self.message_ids),
            "senders": list(self.senders),
            "keys": list(self.keys),
        }


KEY_COLUMNS = {
    "referral_cases": "referral_id",
    "share_uses": "share_id",
    "ledger_items": "ledger_item_id",
}
SENDER_COLUMNS = {"referral_cases": "sender", "share_uses": "sender", "ledger_items": "owner"}
ANY_SQL = {
    "referral_cases": "SELECT * FROM referral_cases WHERE message_id = ANY(%(ids)s) "
    "OR (sender = ANY(%(senders)s) AND referral_id = ANY(%(keys)s))",
    "share_uses": "SELECT * FROM share_uses WHERE message_id = ANY(%(ids)s) "
    "OR (sender = ANY(%(senders)s) AND share_id = ANY(%(keys)s))",
    "ledger_items": "SELECT * FROM ledger_items "
    "WHERE owner = ANY(%(senders)s) AND ledger_item_id = ANY(%(keys)s)",
}


def lifecycle_reads(envelopes: Iterable[Envelope]) -> list[Read]:
    """The reads that load what a batch's messages concern (run under the log lock)."""
    by_type: dict[str, list[Envelope]] = {}
    for envelope in envelopes:
        by_type.setdefault(envelope.type, []).append(envelope)
    reads = []
    for table, new_type, reply_type, key in (
        (CASES, "clue.referral.v1", "clue.feedback.v1", "referral_id"),
        (USES, "result.share.v1", "result.feedback.v1", "share_id"),
        (ITEMS, None, "rectification.status.v1", "ledger_item_id"),
    ):
        if table is ITEMS:
            answered: list[str] = []
            sent = by_type.get("rectification.status.v1", [])
        else:
            answered = [e.in_reply_to for e in by_type.get(reply_type, []) if e.in_reply_to]
            sent = by_type.get(str(new_type), [])
        if answered or sent:
            reads.append(
                Read(
                    table,
                    tuple(answered),
                    tuple(sorted({e.sender for e in sent})),
                    tuple(sorted({e.payload[key] for e in sent})),
                )
            )
    return reads


def load_state(results: Iterable[tuple[Read, Iterable[Any]]]) -> LifecycleState:
    """Index the loaded rows (mappings or Core rows) by their keys."""
    state = LifecycleState()
    for read, rows in results:
        for row in rows:
            values = dict(row._mapping) if hasattr(row, "_mapping") else dict(row)
            if read.table is CASES:
                state.cases[(values["message_id"], values["recipient"])] = values
                state.referral_keys.add((values["sender"], values["referral_id"]))
            elif read.table is USES:
                state.uses[(values["message_id"], values["recipient"])] = values
                state.share_keys.add((values["sender"], values["share_id"]))
            else:
                state.items[(values["owner"], values["ledger_item_id"])] = values
    return state


class Lifecycles:
    """Checks and applies a message's lifecycle step; hub events too (release, pull, ack)."""

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """Raise ``ProblemError`` if the message may not take its lifecycle step now."""
        kind = envelope.type
        payload = envelope.payload
        if kind == "clue.referral.v1":
            if (envelope.sender, payload["referral_id"]) in state.referral_keys:
                raise ProblemError(
                    "invalid-transition",
                    f"Referral {payload['referral_id']} was already sent; send feedback instead.",
                    extra={"current": "released", "attempted": "submitted"},
                )
        elif kind == "result.share.v1":
            if (envelope.sender, payload["share_id"]) in state.share_keys:
                raise ProblemError(
                    "invalid-transition",
                    f"Result {payload['share_id']} was already shared.",
                    extra={"current": "released", "attempted": "submitted"},
                )
        elif kind == "clue.feedback.v1":
            case = state.cases.get((str(envelope.in_reply_to), envelope.sender))
            if case is None:
                raise ProblemError("route-not-allowed", "No referral of yours to answer.")
            _same_key(payload, "referral_id", case["referral_id"])
            check_feedback(
                case["state"], case["disposition"], payload["stage"], payload.get("disposition")
            )
        elif kind == "result.feedback.v1":
            use = state.uses.get((str(envelope.in_reply_to), envelope.sender))
            if use is None or use["state"] not in {"released", "used"}:
                raise invalid(use["state"] if use else "unknown", "used", "The shared result")
            _same_key(payload, "share_id", use["share_id"])
        elif kind == "rectification.status.v1":
            item = state.items.get((envelope.sender, payload["ledger_item_id"]))
            check_status(
                item["status"] if item else None, payload["status"], payload.get("reopen_reason")
            )

    def entry_fields(self, state: LifecycleState, envelope: Envelope) -> dict[str, Any]:
        """What the message's ``message:received`` log entry records of its step (after
        ``check``): the business key and, when the state changes, both states — so every
        accepted transition is in the log without an entry of its own."""
        payload = envelope.payload
        if envelope.type == "clue.feedback.v1":
            case = state.cases[(str(envelope.in_reply_to), envelope.sender)]
            return {
                "referral_id": case["referral_id"],
                "from_state": case["state"],
                "to_state": STAGE_STATE[payload["stage"]],
                "disposition": payload.get("disposition"),
            }
        if envelope.type == "result.feedback.v1":
            use = state.uses[(str(envelope.in_reply_to), envelope.sender)]
            return {"share_id": use["share_id"], "from_state": use["state"], "to_state": "used"}
        if envelope.type == "rectification.status.v1":
            item = state.items.get((envelope.sender, payload["ledger_item_id"]))
            before = item["status"] if item else None
            fields: dict[str, Any] = {"ledger_item_id": payload["ledger_item_id"]}
            if before != payload["status"]:
                fields.update(from_state=before, to_state=payload["status"])
            return fields
        return {}

    def apply(
        self,
        state: LifecycleState,
        envelope: Envelope,
        *,
        status: str,
        received_index: int,
        now: datetime,
    ) -> None:
        """Update the read models for a stored message (after ``check``)."""
        kind = envelope.type
        payload = envelope.payload
        if kind == "clue.referral.v1":
            state.referral_keys.add((envelope.sender, payload["referral_id"]))
            self._open(
                state,
                state.cases,
                "referral_cases",
                "referral",
                envelope,
                status,
                now,
                received_index,
                {
                    "referral_id": payload["referral_id"],
                    "issue_category": payload["issue_category"],
                    "feedback_due": payload["feedback_due"],
                    "disposition": None,
                    "released_at": now if status == "released" else None,
                    "concluded_at": None,
                    "persons_handled": 0,
                    "recovered_amount": Decimal(0),
                    "notified_at": None,
                },
            )
        elif kind == "result.share.v1":
            state.share_keys.add((envelope.sender, payload["share_id"]))
            self._open(
                state,
                state.uses,
                "share_uses",
                "share",
                envelope,
                status,
                now,
                received_index,
                {
                    "share_id": payload["share_id"],
                    "share_type": payload["share_type"],
                    "used_for": None,
                    "feedbacks": 0,
                },
            )
        elif kind == "clue.feedback.v1":
            key = (str(envelope.in_reply_to), envelope.sender)
            case = state.cases[key]
            before = case["state"]
            after = STAGE_STATE[payload["stage"]]
            if payload.get("disposition"):
                case["disposition"] = payload["disposition"]
            if case["first_feedback_at"] is None:
                case["first_feedback_at"] = now
            if after == "concluded":
                case["concluded_at"] = now
                outcomes = payload.get("outcomes", [])
                case["persons_handled"] = sum(o.get("persons", 0) for o in outcomes)
                case["recovered_amount"] = sum(
                    (o.get("recovered_amount", Decimal(0)) for o in outcomes), Decimal(0)
                )
            case["state"] = after
            case["updated_at"] = now
            state.stage("referral_cases", key, case)
            self._transition(
                state,
                "referral",
                case["sender"],
                case["referral_id"],
                envelope.sender,
                envelope.id,
                before,
                after,
                payload.get("disposition"),
                now,
                received_index,
            )
        elif kind == "result.feedback.v1":
            key = (str(envelope.in_reply_to), envelope.sender)
            use = state.uses[key]
            before = use["state"]
            purposes = set((use["used_for"] or "").split()) | set(payload.get("used_for", []))
            use["used_for"] = " ".join(sorted(purposes)) or None
            use["feedbacks"] += 1
            if use["first_feedback_at"] is None:
                use["first_feedback_at"] = now
            use["state"] = "used"
            use["updated_at"] = now
            state.stage("share_uses", key, use)
            self._transition(
                state,
                "share",
                use["sender"],
                use["share_id"],
                envelope.sender,
                envelope.id,
                before,
                "used",
                None,
                now,
                received_index,
            )
        elif kind == "rectification.status.v1":
            key = (envelope.sender, payload["ledger_item_id"])
            item = state.items.get(key)
            before = item["status"] if item else None
            row = {
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
                state.insert("ledger_items", key, row)
            else:
                state.stage("ledger_items", key, row)
            # The line itself, with the state it leaves the item in: what its recipients see.
            state.insert(
                "ledger_lines",
                (envelope.id, ""),
                {
                    "message_id": envelope.id,
                    "log_index": received_index,
                    "received_at": now,
                    **{name: row[name] for name in LEDGER_STATE},
                },
            )
            if before != row["status"]:
                self._transition(
                    state,
                    "ledger_item",
                    envelope.sender,
                    payload["ledger_item_id"],
                    None,
                    envelope.id,
                    before,
                    row["status"],
                    None,
                    now,
                    received_index,
                )

    def _open(
        self,
        state: LifecycleState,
        rows: dict[tuple[str, str], dict[str, Any]],
        table: str,
        kind: str,
        envelope: Envelope,
        status: str,
        now: datetime,
        received_index: int,
        fields: dict[str, Any],
    ) -> None:
        """One new row per recipient of a referral or a share, in the message's status."""
        business_key = fields["referral_id" if kind == "referral" else "share_id"]
        for recipient in envelope.recipients:
            key = (envelope.id, recipient)
            rows[key] = row = {
                "message_id": envelope.id,
                "recipient": recipient,
                "sender": envelope.sender,
                "sent_at": envelope.sent_at,
                "state": status,
                "first_feedback_at": None,
                "updated_at": now,
                **fields,
            }
            state.insert(table, key, row)
            self._transition(
                state,
                kind,
                envelope.sender,
                business_key,
                recipient,
                envelope.id,
                None,
                status,
                None,
                now,
                received_index,
            )

    @staticmethod
    def _transition(
        state: LifecycleState,
        kind: str,
        owner: str,
        key: str,
        party: str | None,
        message_id: str,
        before: str | None,
        after: str,
        detail: str | None,
        now: datetime,
        index: int,
    ) -> None:
        state.changes.transitions.append(
            {
                "kind": kind,
                "owner": owner,
                "key": key,
                "party": party or "",
                "message_id": message_id,
                "from_state": before,
                "to_state": after,
                "detail": detail,
                "at": now,
                "log_index": index,
            }
        )


def _same_key(payload: dict[str, Any], name: str, expected: str) -> None:
    if payload[name] != expected:
        raise ProblemError(
            "schema-invalid",
            errors={f"payload.{name}": [f"Must be {expected}, the key of the message answered."]},
        )


def hub_step(
    session: Session,
    message: Message,
    to_state: str,
    *,
    recipients: Iterable[str] | None,
    log_index: int,
    now: datetime,
) -> None:
    """Move a referral's cases (or a share's uses) on a hub event: released or rejected after
    review, delivered by a pull, acked by a signed ack. Other messages have nothing to move."""
    rows: list[ReferralCase] | list[ShareUse]
    if message.type == "clue.referral.v1":
        kind = "referral"
        referrals = select(ReferralCase).where(ReferralCase.message_id == message.id)
        if recipients is not None:
            referrals = referrals.where(ReferralCase.recipient.in_(list(recipients)))
        rows = list(session.scalars(referrals))
    elif message.type == "result.share.v1" and to_state in {"released", "rejected"}:
        kind = "share"
        rows = list(session.scalars(select(ShareUse).where(ShareUse.message_id == message.id)))
    else:
        return
    for row in rows:
        if row.state not in HUB_STEPS[to_state]:
            continue
        before, row.state, row.updated_at = row.state, to_state, now
        if isinstance(row, ReferralCase) and to_state == "released":
            row.released_at = now
        key = row.referral_id if isinstance(row, ReferralCase) else row.share_id
        session.add(
            Transition(
                kind=kind,
                owner=row.sender,
                key=key,
                party=row.recipient,
                message_id=message.id,
                from_state=before,
                to_state=to_state,
                detail=None,
                at=now,
                log_index=log_index,
            )
        )
