"""The console's deliveries page, read and write side (issue 11): a push to a partner whose
webhook endpoint is down is retried to a dead letter; the console lists it and resends it;
once the endpoint is up (a real HTTP server on the same port) the next worker round delivers
it. A resend the outbox refuses changes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from exchange.console.oversight.deliveries import pushes, resend_push
from exchange.errors import ExchangeError
from exchange.hub import Hub
from exchange.transport.outbox import RETRY_DELAYS, Dispatcher
from tests.exchange.test_delivery import (
    DISCIPLINE,
    Partners,
    Receiver,
    actions,
    closed_port,
    delivery,
    dispatcher,
    entries,
    status_line,
    webhook,
)


def dead_letter(
    base_url: str, hub: Hub, partners: Partners
) -> tuple[dict[str, Any], int, Dispatcher]:
    """A status line to discipline whose webhook port nothing listens on, retried to a dead
    letter: the line, the port, the worker.
    """
    port = closed_port()  # down: nothing listens
    webhook(hub, DISCIPLINE, f"http://127.0.0.1:{port}/hooks/exchange")
    line = status_line(base_url, partners)
    worker = dispatcher(hub)
    at = hub.now()
    worker.run_once(at)
    for delay in RETRY_DELAYS:
        at += delay
        assert worker.run_once(at).claimed == 1
    return line, port, worker


def test_a_dead_letter_is_listed_and_resent_once_the_endpoint_is_up(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    line, port, worker = dead_letter(base_url, hub, partners)
    with hub.readers() as session:
        [dead] = pushes(session)
        assert pushes(session, state="pushed") == []
        assert pushes(session, partner="inspection.yanliang") == []
    assert (dead.message_id, dead.recipient, dead.state) == (line["id"], DISCIPLINE, "dead")
    assert dead.attempts == 1 + len(RETRY_DELAYS)
    assert dead.last_error == "connection failed (refused)"

    receiver = Receiver(port=port)  # up, on the same port
    try:
        with hub.sessions.begin() as session:
            queued = resend_push(
                session, line["id"], recipient=None, actor="console:wang.admin", now=hub.now()
            )
        assert queued == [(line["id"], DISCIPLINE)]
        with hub.readers() as session:
            assert pushes(session) == []
            [pending] = pushes(session, state="pending")
        assert pending.attempts == 0
        assert worker.run_once(hub.now() + timedelta(seconds=1)).pushed == 1
        assert receiver.ids() == [line["id"]]
    finally:
        receiver.close()
    done = delivery(hub, line["id"])
    assert (done.push_state, done.state) == ("pushed", "delivered")
    assert actions(hub, line["id"])[-2:] == ["message:delivery-resent", "message:delivered"]
    [resent] = entries(hub, "message:delivery-resent")
    assert resent["actor"] == "console:wang.admin"


def test_a_refused_resend_changes_nothing(base_url: str, hub: Hub, partners: Partners) -> None:
    line = status_line(base_url, partners)  # discipline pulls: no webhook
    before = actions(hub)
    for message_id in (line["id"], "no-such-message"):
        with pytest.raises(ExchangeError), hub.sessions.begin() as session:
            resend_push(session, message_id, recipient=None, actor="console:x", now=hub.now())
    assert actions(hub) == before
