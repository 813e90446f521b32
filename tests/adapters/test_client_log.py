"""The partner's side of the log: receipts proved included, checkpoints proved consistent, so a
hub that rewrites or cuts its history is caught by the partners that saw it before.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from adapters import HubError, VerificationFailed
from exchange.hub import Hub
from exchange.store.models import Checkpoint, LogEntry
from schemas import examples
from tests.conftest import Clock
from tests.support import PartnerKeys, rewrite_entry

Partners = dict[str, PartnerKeys]


def status_line() -> dict:  # type: ignore[type-arg]
    return examples.rectification_example(
        sender="audit.yanliang", recipients=["discipline.yanliang"]
    )


def test_a_receipt_is_proved_included_in_a_checkpoint(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    audit = partners["audit"].client(base_url)
    first = audit.send(status_line())
    checkpoint = audit.prove_receipt(first)
    assert checkpoint.tree_size > first.log_index
    assert checkpoint.origin == hub.config.origin
    # A later receipt waits for (or gets) a newer head, proved consistent with the first.
    clock.offset += timedelta(seconds=2)
    second = audit.send(status_line())
    newer = audit.prove_receipt(second)
    assert newer.tree_size > second.log_index > first.log_index
    assert audit.last_checkpoint == newer


def test_a_rewritten_history_is_caught_by_a_partner_that_saw_it(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    audit = partners["audit"].client(base_url)
    sent = audit.send(status_line())
    seen = audit.checkpoint()
    assert seen.tree_size > sent.log_index
    # The operator rewrites the received entry, recomputes every stored hash, throws away the
    # old checkpoints and lets the hub sign the new tree.
    rewrite_entry(hub, sent.log_index, b"message:received", b"message:rEceived")
    with hub.engine.begin() as connection:
        connection.execute(delete(Checkpoint))
    clock.offset += timedelta(seconds=2)
    audit.send(status_line())  # the log grows, so the hub signs a new head on demand
    with pytest.raises(VerificationFailed, match="does not extend"):
        audit.checkpoint()
    # A partner that never saw the old head cannot tell from the head alone ...
    fresh = partners["audit"].client(base_url)
    fresh.checkpoint()
    # ... but the entry no longer says what its receipt says.
    with pytest.raises(VerificationFailed, match="records something else"):
        fresh.prove_receipt(sent)


def test_a_log_cut_short_is_caught(
    base_url: str, hub: Hub, partners: Partners, clock: Clock
) -> None:
    audit = partners["audit"].client(base_url)
    audit.send(status_line())
    seen = audit.checkpoint()
    with hub.engine.begin() as connection:
        connection.execute(delete(LogEntry).where(LogEntry.index >= seen.tree_size - 2))
        connection.execute(delete(Checkpoint))
    clock.offset += timedelta(seconds=2)
    with pytest.raises(VerificationFailed, match="shorter"):
        audit.checkpoint()


def test_evidence_is_verified_by_sender_and_recipient_only(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    discipline = partners["discipline"].client(base_url)
    sent = audit.send(status_line())
    discipline.ack([item.envelope["id"] for item in discipline.inbox().items])
    for client in (audit, discipline):
        bundle, verified = client.evidence(sent.id)
        assert verified.message_id == sent.id
        assert verified.acked_by == ("discipline.yanliang",)
        assert bundle["receipt"] == sent.receipt
        assert client.last_checkpoint is not None
    with pytest.raises(HubError) as refused:
        partners["personnel"].client(base_url).evidence(sent.id)
    assert refused.value.status == 404
