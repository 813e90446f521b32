"""The hub SIGKILLed mid-ingest: 5,000 messages from four concurrent clients (singles and
batches of a hundred), gunicorn's master and workers killed at once when 40 % have receipts, the
hub restarted on the same port while the clients retry with the same ids. Afterwards every
receipt names a stored message at that log index, each message was logged once, the recipient
pulls all 5,000, and ``exchange log verify`` passes.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.hubs import ServedHub, wait_until
from tests.faults.load import Client, merged, status_line

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(300)]

MESSAGES = 5000
CLIENTS = 4
SENDER, RECIPIENT = "audit.faults", "discipline.faults"


def test_every_receipt_survives_a_sigkill_and_retries_make_no_duplicate(
    tmp_path: Path, store_url: str
) -> None:
    hub = ServedHub(tmp_path / "home", store_url, (SENDER, RECIPIENT))
    hub.serve()
    sender = hub.partners[SENDER]
    deadline = time.monotonic() + 240
    envelopes = [status_line(SENDER, [RECIPIENT], "kill") for _ in range(MESSAGES)]
    share = MESSAGES // CLIENTS
    clients = [
        Client(lambda: hub.url, sender, envelopes[n * share : (n + 1) * share], deadline=deadline)
        for n in range(CLIENTS)
    ]
    try:
        for client in clients:
            client.start()
        wait_until(lambda: len(merged(clients)) >= MESSAGES * 2 // 5, "2,000 receipts", seconds=180)
        hub.kill()
        given_before_kill = merged(clients)
        time.sleep(1.0)  # the clients meet a closed port meanwhile, and retry
        hub.serve()
        for client in clients:
            client.join(timeout=max(deadline - time.monotonic(), 1))
        assert not any(client.is_alive() for client in clients), "clients did not finish"
        receipts = merged(clients)
        pulled = pull_all(hub)
        verified = hub.verify_log()
    finally:
        hub.stop()

    for client in clients:
        assert client.record.refusals == [], client.record.refusals[:3]
        assert client.record.disagreements == [], client.record.disagreements[:3]
    assert sum(c.record.failed_attempts for c in clients) > 0, "the kill interrupted nothing"
    assert len(receipts) == MESSAGES
    for message_id, index in given_before_kill.items():
        assert receipts[message_id] == index
    stored, logged, _ = hub.stored()
    assert stored == receipts
    assert set(logged) == set(receipts) and set(logged.values()) == {1}
    assert pulled == set(receipts)
    assert verified.startswith("ok:") and f"{MESSAGES} messages" in verified


def pull_all(hub: ServedHub) -> set[str]:
    """Every message the recipient pulls, page by page, each signature and receipt verified."""
    client = hub.partners[RECIPIENT].client(hub.url)
    ids: set[str] = set()
    after: str | None = None
    while True:
        page = client.inbox(after=after, limit=500)
        ids.update(item.envelope["id"] for item in page.items)
        if page.next is None or not page.items:
            return ids
        after = page.next
