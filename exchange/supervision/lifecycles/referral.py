"""The referral lifecycle (DOMAIN.md): clue.referral.v1 opens one case per recipient; the
hub moves it on release, pull and ack; clue.feedback.v1 moves it through its stages.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Final

from exchange.errors import InvalidTransition, RouteNotAllowed, SchemaInvalid
from exchange.store.rows import ReferralCaseRow
from exchange.supervision.days import china_date, china_today
from exchange.supervision.lifecycles.base import (
    REFERRAL_CASES,
    Concerned,
    Lifecycle,
    LifecycleState,
    ReadModel,
    Step,
    check_business_date,
    open_per_recipient,
    same_key,
)
from exchange.supervision.states import HubEvent, ReferralState
from schemas import AUTHORITY_DISPOSITIONS, DISPOSITIONS, Envelope, body_of

OTHER_DISPOSITIONS: Final = frozenset(DISPOSITIONS) - AUTHORITY_DISPOSITIONS

S = ReferralState

# The hub's own events on a case, and the states each may follow.
HUB_STEPS: Final[dict[str, frozenset[ReferralState]]] = {
    HubEvent.RELEASED: frozenset({S.PENDING_REVIEW}),
    HubEvent.REJECTED: frozenset({S.PENDING_REVIEW}),
    HubEvent.DELIVERED: frozenset({S.RELEASED}),
    HubEvent.ACKED: frozenset({S.RELEASED, S.DELIVERED}),
}

# A feedback stage: the state it leads to, and the states it may follow. A recipient signs
# for a referral (an ack, or a `received` feedback) before it accepts, returns or transfers.
STAGES: Final[dict[str, tuple[ReferralState, frozenset[ReferralState]]]] = {
    "received": (S.ACKED, frozenset({S.RELEASED, S.DELIVERED, S.ACKED})),
    "accepted": (S.ACCEPTED, frozenset({S.ACKED})),
    "returned": (S.RETURNED, frozenset({S.ACKED})),
    "transferred": (S.TRANSFERRED, frozenset({S.ACKED})),
    "disposed": (S.DISPOSED, frozenset({S.ACCEPTED})),
    "concluded": (S.CONCLUDED, frozenset({S.DISPOSED})),
}

# A disposed referral may change disposition only along these arrows.
DISPOSITION_CHANGES: Final[dict[str, frozenset[str]]] = {
    "talk_inquiry": frozenset({"preliminary_verification", "closed_no_action"}),
    "shelved": frozenset({"preliminary_verification"}),
    "preliminary_verification": frozenset({"filed_investigation", "closed_no_action"}),
    # A competent authority's (Version 1): 调查核查 leads to 立案, 不立案 or 转交办理; a case
    # filed to 处理处罚 or 追责问责; a penalty may be followed by 追责问责.
    "investigation": frozenset({"case_filed", "not_filed", "transferred"}),
    "case_filed": frozenset({"penalty", "accountability"}),
    "penalty": frozenset({"accountability"}),
}


def check_disposition_kind(recipient_body: str, disposition: str | None) -> None:
    """A competent authority answers with its own dispositions, the other bodies with theirs."""
    if disposition is None:
        return
    authority = recipient_body == "authority"
    if authority != (disposition in AUTHORITY_DISPOSITIONS):
        allowed = sorted(AUTHORITY_DISPOSITIONS if authority else OTHER_DISPOSITIONS)
        raise SchemaInvalid(
            errors={
                "payload.disposition": [
                    f"A {recipient_body} case takes one of: {', '.join(allowed)}."
                ]
            }
        )


def feedback_date(envelope: Envelope) -> date:
    """A feedback's business date: ``occurred_at``, by default the Beijing date of ``sent_at``."""
    given = envelope.payload.get("occurred_at")
    return given if isinstance(given, date) else china_date(envelope.sent_at)


def _refused(current: str, attempted: str, what: str) -> InvalidTransition:
    return InvalidTransition(
        f"{what} is {current}; {attempted} cannot follow it.", current=current, attempted=attempted
    )


def check_feedback(
    state: str, disposition: str | None, stage: str, new_disposition: str | None
) -> None:
    """Refuse a feedback stage that skips or reverses the referral's order."""
    attempted, after = STAGES[stage]
    if stage == "disposed" and state == S.DISPOSED:
        if new_disposition not in DISPOSITION_CHANGES.get(disposition or "", frozenset()):
            raise _refused(
                f"disposed ({disposition})",
                f"disposed ({new_disposition})",
                "The referral's disposition",
            )
        return
    if state not in after:
        raise _refused(state, attempted, "The referral")
    # Concluding may name the final disposition: it too must follow the arrows.
    if (
        stage == "concluded"
        and new_disposition is not None
        and new_disposition != disposition
        and new_disposition not in DISPOSITION_CHANGES.get(disposition or "", frozenset())
    ):
        raise _refused(
            f"disposed ({disposition})",
            f"concluded ({new_disposition})",
            "The referral's disposition",
        )


class ReferralLifecycle(Lifecycle):
    """clue.referral.v1: a referral id is sent once per sender; a case per recipient."""

    message_type: ClassVar[str] = "clue.referral.v1"

    def concerns(self, envelope: Envelope) -> dict[ReadModel, Concerned]:
        """Earlier cases of the same referral id, to refuse it twice."""
        key = str(envelope.payload["referral_id"])
        return {REFERRAL_CASES: Concerned(senders={envelope.sender}, keys={key})}

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """A referral id is sent once; later news about it is feedback."""
        key = envelope.payload["referral_id"]
        if (envelope.sender, key) in state.referral_keys:
            raise InvalidTransition(
                f"Referral {key} was already sent; send feedback instead.",
                current=S.RELEASED,
                attempted="submitted",
            )

    def apply(self, state: LifecycleState, envelope: Envelope, step: Step) -> None:
        """Open a case per recipient."""
        payload = envelope.payload
        state.referral_keys.add((envelope.sender, payload["referral_id"]))
        open_per_recipient(
            state,
            REFERRAL_CASES,
            "referral",
            envelope,
            step,
            {
                "referral_id": payload["referral_id"],
                "issue_category": payload["issue_category"],
                "feedback_due": payload["feedback_due"],
                "disposition": None,
                "released_at": step.now if step.status == S.RELEASED else None,
                "concluded_at": None,
                "persons_handled": 0,
                "recovered_amount": Decimal(0),
                "notified_at": None,
                "status_date": None,
                "last_step_date": china_date(step.now),
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
        """Release or rejection after review moves every case; a pull or an ack one."""
        wanted = None if recipients is None else set(recipients)
        for key, case in sorted(state.cases.items()):
            if key[0] != message_id or (wanted is not None and key[1] not in wanted):
                continue
            if case["state"] not in HUB_STEPS[event]:
                continue
            if event == HubEvent.RELEASED:
                case["released_at"] = now
            _move(state, key, case, event, message_id, None, now, log_index, china_date(now))


class ClueFeedbackLifecycle(Lifecycle):
    """clue.feedback.v1: a recipient moves its case through the stages, in order."""

    message_type: ClassVar[str] = "clue.feedback.v1"

    def concerns(self, envelope: Envelope) -> dict[ReadModel, Concerned]:
        """The case this feedback answers."""
        answered = {envelope.in_reply_to} if envelope.in_reply_to else set()
        return {REFERRAL_CASES: Concerned(message_ids=answered)}

    def check(self, state: LifecycleState, envelope: Envelope) -> None:
        """The sender's own case, the same referral id, and a stage that may follow."""
        case = state.cases.get((str(envelope.in_reply_to), envelope.sender))
        if case is None:
            raise RouteNotAllowed("No referral of yours to answer.")
        payload = envelope.payload
        same_key(payload, "referral_id", case["referral_id"])
        check_disposition_kind(body_of(envelope.sender), payload.get("disposition"))
        check_feedback(
            case["state"], case["disposition"], payload["stage"], payload.get("disposition")
        )
        check_business_date(
            "occurred_at",
            case.get("status_date"),
            feedback_date(envelope),
            china_today(state.now) if state.now else None,
            "the case's last feedback",
        )

    def entry_fields(self, state: LifecycleState, envelope: Envelope) -> dict[str, Any]:
        """The referral id, both states and the disposition."""
        case = state.cases[(str(envelope.in_reply_to), envelope.sender)]
        return {
            "referral_id": case["referral_id"],
            "from_state": case["state"],
            "to_state": STAGES[envelope.payload["stage"]][0],
            "disposition": envelope.payload.get("disposition"),
        }

    def apply(self, state: LifecycleState, envelope: Envelope, step: Step) -> None:
        """Move the case; a conclusion counts its outcomes."""
        payload = envelope.payload
        key = (str(envelope.in_reply_to), envelope.sender)
        case = state.cases[key]
        after = STAGES[payload["stage"]][0]
        if payload.get("disposition"):
            case["disposition"] = payload["disposition"]
        if case["first_feedback_at"] is None:
            case["first_feedback_at"] = step.now
        if after == S.CONCLUDED:
            outcomes = payload.get("outcomes", [])
            case["concluded_at"] = step.now
            case["persons_handled"] = sum(o.get("persons", 0) for o in outcomes)
            case["recovered_amount"] = sum(
                (o.get("recovered_amount", Decimal(0)) for o in outcomes), Decimal(0)
            )
        case["status_date"] = dated = feedback_date(envelope)
        detail = payload.get("disposition")
        _move(state, key, case, after, envelope.id, detail, step.now, step.log_index, dated)


def _move(
    state: LifecycleState,
    key: tuple[str, str],
    case: ReferralCaseRow,
    after: str,
    message_id: str,
    detail: str | None,
    at: datetime,
    log_index: int,
    business_date: date,
) -> None:
    # A case's step: its row (state, time, its last step's date, which the figures' scan
    # relies on) and the step itself, together.
    before = case["state"]
    case["state"], case["updated_at"], case["last_step_date"] = after, at, business_date
    state.stage(REFERRAL_CASES.table, key, case)
    state.transition(
        kind="referral",
        owner=case["sender"],
        key=case["referral_id"],
        party=case["recipient"],
        message_id=message_id,
        before=before,
        after=after,
        detail=detail,
        at=at,
        log_index=log_index,
        business_date=business_date,
    )
