"""A partner's webhook down for a simulated day: the hub's worker, on a clock this test moves
ten minutes a round, tries each push on the retry schedule (PROTOCOL §7) against a port
that refuses, dead-letters it after the eighth attempt, and once the partner's server is
back, ``exchange deliveries resend --dead`` delivers each message exactly once more.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Delivery, LogEntry
from exchange.transport.outbox import RETRY_DELAYS
from exchange.worker import Worker
from keys.protocol import LogAction
from tests.exchange.test_delivery import Receiver, v1_matches
from tests.faults.hubs import ServedHub
from tests.faults.load import status_line
from tests.support import post_json

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(240)]

SENDER, RECIPIENT = "audit.webhook", "discipline.webhook"
TICK = timedelta(minutes=10)
MESSAGES = 3


class SimulatedClock:
    """The hub's clock in this test: it moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def test_a_day_long_outage_follows_the_schedule_dead_letters_and_one_resend_delivers_once(
    tmp_path: Path, store_url: str
) -> None:
    receiver = Receiver()
    port = receiver.server.server_port
    hub = ServedHub(tmp_path / "home", store_url, (SENDER, RECIPIENT))
    shown = hub.cli("partners", "webhook", RECIPIENT, receiver.url, "--allow-internal").stdout
    secret = shown.rsplit(": ", 1)[1].strip()
    receiver.close()  # the partner's server goes down: its port refuses connections
    hub.serve()
    try:
        sender = hub.partners[SENDER]
        envelopes = [status_line(SENDER, [RECIPIENT], "webhook") for _ in range(MESSAGES)]
        for envelope in envelopes:
            assert post_json(hub.url, sender, "/v1/messages", sender.sign(envelope)).ok
    finally:
        hub.stop()
    ids = {envelope["id"] for envelope in envelopes}

    clock = SimulatedClock(datetime.now(UTC))
    lines: list[str] = []
    worker_hub = Hub(Config(home=hub.home, database_url=store_url, clock=clock))
    worker = Worker(worker_hub, batch=20, say=lines.append, complain=lines.append)
    started = clock.at
    schedule_end = started + sum(RETRY_DELAYS, timedelta()) + 2 * len(RETRY_DELAYS) * TICK
    try:
        while clock.at < schedule_end:
            worker.round(push_for=10)
            clock.at += TICK
        attempts = failed_attempts(worker_hub)
        dead = push_states(worker_hub)
        # A day later still: a dead letter is never tried again on its own.
        clock.at += timedelta(days=1)
        worker.round(push_for=10)
        assert failed_attempts(worker_hub) == attempts

        receiver = Receiver(port=port)  # the partner is back, on the same URL
        resent = hub.cli("deliveries", "resend", "--dead")
        for _ in range(12):  # another hour of rounds: one push each, never a second
            clock.at += TICK
            worker.round(push_for=10)
        pushed = push_states(worker_hub)
        delivered = logged(worker_hub, LogAction.MESSAGE_DELIVERED)
    finally:
        worker.dispatcher.sender.close()
        receiver.close()
        worker_hub.engine.dispose()
        worker_hub.read_engine.dispose()
    verified = hub.verify_log()

    # Eight attempts each, at the schedule's times (to a tick), then dead letters.
    assert set(attempts) == ids
    for message_id, times in attempts.items():
        assert len(times) == 1 + len(RETRY_DELAYS), (message_id, times)
        for attempt, (before, after) in enumerate(pairwise(times)):
            late = after - (before + RETRY_DELAYS[attempt])
            assert -timedelta(seconds=2) <= late <= TICK + timedelta(seconds=2), (attempt, after)
    assert dead == dict.fromkeys(ids, ("dead", 8))
    assert sorted(logged(worker_hub, LogAction.MESSAGE_DEAD_LETTERED)) == sorted(ids)
    # The resend: three queued, three delivered, each exactly once and validly signed.
    assert resent.stdout.count("\tqueued") == MESSAGES
    assert sorted(receiver.ids()) == sorted(ids)
    assert all(v1_matches(secret, got) for got in receiver.received)
    assert {json.loads(got.body)["envelope"]["id"] for got in receiver.received} == ids
    assert pushed == dict.fromkeys(ids, ("pushed", 1))
    assert sorted(delivered) == sorted(ids)
    assert verified.startswith("ok:")


def failed_attempts(hub: Hub) -> dict[str, list[datetime]]:
    """Each message's failed and dead-lettered attempts, by the times the log gives them."""
    out: dict[str, list[datetime]] = {}
    for entry in entries(hub, LogAction.MESSAGE_DELIVERY_FAILED, LogAction.MESSAGE_DEAD_LETTERED):
        out.setdefault(entry["message_id"], []).append(entry["attempted"])
    return out


def entries(hub: Hub, *actions: LogAction) -> list[dict[str, Any]]:
    """The log's entries of these actions, in log order, with the attempt time of each."""
    with hub.readers() as session:
        rows = session.execute(
            select(LogEntry.entry, LogEntry.at)
            .where(LogEntry.action.in_([a.value for a in actions]))
            .order_by(LogEntry.index)
        ).all()
    return [{**json.loads(entry), "attempted": at} for entry, at in rows]


def logged(hub: Hub, action: LogAction) -> list[str]:
    """The message ids of the log's entries of ``action``."""
    return [entry["message_id"] for entry in entries(hub, action)]


def push_states(hub: Hub) -> dict[str, tuple[str | None, int]]:
    """Each delivery's outbox state and attempts."""
    with hub.readers() as session:
        rows = session.execute(
            select(Delivery.message_id, Delivery.push_state, Delivery.attempts)
        ).all()
    return {message_id: (state, attempts) for message_id, state, attempts in rows}
