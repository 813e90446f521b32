"""The result-use lifecycle (DOMAIN.md): result.share.v1 opens one use per recipient, moved
on release; result.feedback.v1 reports how the recipient used it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, ClassVar, Final

from exchange.errors import InvalidTransition
from exchange.supervision.days import china_date
from exchange.supervision.lifecycles.base import (
    SHARE_USES,
    Concerned,
    Lifecycle,
    LifecycleState,
    ReadModel,
    Step,
    open_per_recipient,
    same_key,
)
from exchange.supervision.states import HubEvent, ShareState
from schemas import Envelope

S = ShareState

# Only review moves a use: released or rejected from pending review.
HUB_STEPS: Final[dict[str, frozenset[ShareState]]] = {
    HubEvent.RELEASED: frozenset({S.PENDING_REVIEW}),
    HubEvent.REJECTED: frozenset({S.PENDING_REVIEW}),
}
# A use is reported once released, and may be reported again.
USABLE: Final = frozenset({S.RELEASED, S.USED})


class ShareLifecycle(Lifecycle):
    """result.share.v1: a share id is shared once per sender; a use per recipient."""

    message_type: ClassVar[str] = "result.share.v1"

    def concerns(self, envelope: Envelope) -> dict[ReadModel, Concerned]:
        """Earlier uses of the same share id, to refuse it twice."""
        key = str(envelope.payload["share_id"])
        return {SHARE_USES: Concerned(senders={envelope.sender}, keys={key})}

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """A share id is shared once."""
        key = envelope.payload["share_id"]
        if (envelope.sender, key) in state.share_keys:
            raise InvalidTransition(
                f"Result {key} was already shared.", current=S.RELEASED, attempted="submitted"
            )

    def apply(self, state: LifecycleState, envelope: Envelope, step: Step) -> None:
        """Open a use per recipient."""
        payload = envelope.payload
        state.share_keys.add((envelope.sender, payload["share_id"]))
        open_per_recipient(
            state,
            SHARE_USES,
            "share",
            envelope,
            step,
            {
                "share_id": payload["share_id"],
                "share_type": payload["share_type"],
                "used_for": None,
                "feedbacks": 0,
                "audit_timing": payload.get("audit_timing"),
                "decisions": None,
                "plan_projects": len(payload.get("plan_items", [])),
                "plan_joint_projects": sum(
                    bool(i.get("joint")) for i in payload.get("plan_items", [])
                ),
                "used_on": None,
            },
        )

    def hub_event(
        self,
        state: LifecycleState,
        message_id: str,
        event: str,
        recipients: Iterable[str] | None,
        *,
        log_index: int,
        now: datetime,
    ) -> None:
        """Release or rejection after review moves every use (pulls and acks do not)."""
        if event not in HUB_STEPS:
            return
        for key, use in sorted(state.uses.items()):
            if key[0] != message_id or use["state"] not in HUB_STEPS[event]:
                continue
            before = use["state"]
            use["state"], use["updated_at"] = event, now
            state.stage(SHARE_USES.table, key, use)
            state.transition(
                kind="share",
                owner=use["sender"],
                key=use["share_id"],
                party=use["recipient"],
                message_id=message_id,
                before=before,
                after=event,
                detail=None,
                at=now,
                log_index=log_index,
            )


class ResultFeedbackLifecycle(Lifecycle):
    """result.feedback.v1: a recipient reports the use of a released share."""

    message_type: ClassVar[str] = "result.feedback.v1"

    def concerns(self, envelope: Envelope) -> dict[ReadModel, Concerned]:
        """The use this feedback answers."""
        answered = {envelope.in_reply_to} if envelope.in_reply_to else set()
        return {SHARE_USES: Concerned(message_ids=answered)}

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """The sender's own released use, and the same share id."""
        use = state.uses.get((str(envelope.in_reply_to), envelope.sender))
        if use is None or use["state"] not in USABLE:
            current = use["state"] if use else "unknown"
            raise InvalidTransition(
                f"The shared result is {current}; used cannot follow it.",
                current=current,
                attempted=S.USED,
            )
        same_key(envelope.payload, "share_id", use["share_id"])

    def entry_fields(self, state: LifecycleState, envelope: Envelope) -> dict[str, Any]:
        """The share id and both states."""
        use = state.uses[(str(envelope.in_reply_to), envelope.sender)]
        return {"share_id": use["share_id"], "from_state": use["state"], "to_state": S.USED}

    def apply(self, state: LifecycleState, envelope: Envelope, step: Step) -> None:
        """Record the purposes; the use is used."""
        key = (str(envelope.in_reply_to), envelope.sender)
        use = state.uses[key]
        before = use["state"]
        purposes = set((use["used_for"] or "").split()) | set(envelope.payload.get("used_for", []))
        use["used_for"] = " ".join(sorted(purposes)) or None
        use["feedbacks"] += 1
        use["decisions"] = add_decisions(use["decisions"], envelope.payload.get("decisions", []))
        if use["first_feedback_at"] is None:
            use["first_feedback_at"] = step.now
            occurred = envelope.payload.get("occurred_at")
            use["used_on"] = (
                occurred if isinstance(occurred, date) else china_date(envelope.sent_at)
            )
        use["state"], use["updated_at"] = S.USED, step.now
        state.stage(SHARE_USES.table, key, use)
        state.transition(
            kind="share",
            owner=use["sender"],
            key=use["share_id"],
            party=envelope.sender,
            message_id=envelope.id,
            before=before,
            after=S.USED,
            detail=None,
            at=step.now,
            log_index=step.log_index,
            business_date=use["used_on"],
        )


def add_decisions(stored: str | None, decisions: Iterable[dict[str, Any]]) -> str | None:
    """Decisions reported so far, as ``kind:persons`` pairs, with one feedback's added."""
    persons = parse_decisions(stored)
    for decision in decisions:
        persons[decision["kind"]] = persons.get(decision["kind"], 0) + decision.get("persons", 0)
    return " ".join(f"{kind}:{n}" for kind, n in sorted(persons.items())) or None


def parse_decisions(stored: str | None) -> dict[str, int]:
    """``kind:persons`` pairs → {kind: persons}."""
    pairs = (pair.split(":", 1) for pair in (stored or "").split())
    return {kind: int(n) for kind, n in pairs}
