"""One lifecycle per message type, found by type in ``LIFECYCLES``: intake and the hub's
events ask the registry, never branch on type strings themselves.

``reads`` gathers what a batch's messages concern into one query per read model (run in the
log window's first round trip); ``load`` indexes the rows for the checks and steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from exchange.store.writer import Read
from exchange.supervision.lifecycles.base import (
    LEDGER_ITEMS,
    REFERRAL_CASES,
    SHARE_USES,
    Concerned,
    Lifecycle,
    LifecycleState,
    ReadModel,
    Step,
)
from exchange.supervision.lifecycles.rectification import RectificationLifecycle
from exchange.supervision.lifecycles.referral import ClueFeedbackLifecycle, ReferralLifecycle
from exchange.supervision.lifecycles.share import ResultFeedbackLifecycle, ShareLifecycle
from schemas import Envelope

LIFECYCLES: Final[Mapping[str, Lifecycle]] = {
    lifecycle.message_type: lifecycle
    for lifecycle in (
        ReferralLifecycle(),
        ClueFeedbackLifecycle(),
        ShareLifecycle(),
        ResultFeedbackLifecycle(),
        RectificationLifecycle(),
        Lifecycle(),  # hub.notice.v1: moves nothing
    )
}
"""Message type → its lifecycle."""


def lifecycle_of(message_type: str) -> Lifecycle:
    """The lifecycle of a message type (every type the schemas know has one)."""
    return LIFECYCLES[message_type]


def reads(envelopes: Iterable[Envelope], dialect: str) -> list[tuple[ReadModel, Read]]:
    """One query per read model for everything a batch's messages concern."""
    concerned: dict[ReadModel, Concerned] = {}
    for envelope in envelopes:
        for model, part in lifecycle_of(envelope.type).concerns(envelope).items():
            concerned.setdefault(model, Concerned()).merge(part)
    return [(model, model.read(c, dialect)) for model, c in concerned.items()]


def reads_of_messages(message_ids: Iterable[str], dialect: str) -> list[tuple[ReadModel, Read]]:
    """The rows the hub's events on these messages move (their cases and uses)."""
    ids = set(message_ids)
    return [(m, m.read(Concerned(message_ids=ids), dialect)) for m in (REFERRAL_CASES, SHARE_USES)]


def load(
    models: Sequence[ReadModel],
    results: Sequence[Iterable[Mapping[str, Any]]],
    *,
    now: datetime | None = None,
) -> LifecycleState:
    """The state the loaded rows describe; ``now`` is the receipt time business dates may not
    pass (DOMAIN.md, Version 1 additions).
    """
    state = LifecycleState(now=now)
    for model, rows in zip(models, results, strict=True):
        state.load(model, rows)
    return state


__all__ = [
    "LEDGER_ITEMS",
    "LIFECYCLES",
    "REFERRAL_CASES",
    "SHARE_USES",
    "Lifecycle",
    "LifecycleState",
    "ReadModel",
    "Step",
    "lifecycle_of",
    "load",
    "reads",
    "reads_of_messages",
]
