"""Push delivery (PROTOCOL §7) against a real local HTTP server as the partner's webhook:
Standard Webhooks signatures checked by the reference library (``v1``) and by ``keys`` with the
hub's JWK Set (``v1a``), the retry schedule on an injected clock, dead letter, resend, 410, and
workers that run side by side or are killed mid-batch.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select, update
from standardwebhooks import Webhook

from exchange.admin.partners import set_partner_status
from exchange.admin.webhooks import set_webhook
from exchange.errors import ExchangeError
from exchange.hub import Hub
from exchange.store.models import Delivery, LogEntry, Partner, ReferralCase, Transition
from exchange.transparency.verify import verify_store
from exchange.transport.outbox import (
    RETRY_DELAYS,
    SENDING,
    SUSPENDED_WAIT,
    Dispatcher,
    Tally,
    resend,
)
from exchange.transport.webhook_sender import TIMEOUT_SECONDS, WebhookSender
from exchange.trust.webhook_secrets import open_secret
from keys import SealingError, SignatureInvalid, VerifyingKey, jws
from schemas import canonical_bytes, examples
from tests.exchange.test_cli import EXCHANGE, Cli, cli_env
from tests.support import PartnerKeys, review

Partners = dict[str, PartnerKeys]
AUDIT, DISCIPLINE, INSPECTION = examples.AUDIT, examples.DISCIPLINE, examples.INSPECTION


# --- the partner's side: a real HTTP server -----------------------------------------------------


@dataclass(frozen=True)
class Received:
    """One POST the partner's server got."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


class Receiver:
    """A partner's webhook endpoint on a loopback port: records each POST, answers ``status``
    (an int, or a function of the request count) after ``delay`` seconds.
    """

    def __init__(self, port: int = 0, status: int | Callable[[int], int] = 204) -> None:
        self.received: list[Received] = []
        self.status = status
        self.delay = 0.0
        self.location: str | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    count = len(receiver.received)
                time.sleep(receiver.delay)
                status = receiver.status
                code = status(count) if callable(status) else status
                answer = b"" if code == 204 else b'{"ok": true}'  # 204: no body (RFC 9110)
                self.send_response(code)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hooks/exchange"

    def ids(self) -> list[str]:
        with self._lock:
            return [r.webhook_id for r in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A partner's webhook server answering 204."""
    server = Receiver()
    yield server
    server.close()


def closed_port() -> int:
    """A loopback port nothing listens on (a connection to it is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the hub's side ---------------------------------------------------------------------------


def webhook(hub: Hub, partner_id: str, url: str) -> str:
    """Register ``url`` as the partner's webhook; the secret, as the CLI shows it once. The
    receivers of these tests run on this machine: internal destinations are allowed.
    """
    with hub.sessions.begin() as session:
        return set_webhook(
            session,
            partner_id,
            url,
            trust=hub.trust,
            actor="test",
            now=hub.now(),
            allow_internal=True,
        )


def dispatcher(hub: Hub, *, batch_size: int = 20, timeout: float = TIMEOUT_SECONDS) -> Dispatcher:
    """A worker's dispatcher over the test hub."""
    return Dispatcher(
        hub.sessions, hub.trust, WebhookSender(timeout=timeout), batch_size=batch_size
    )


def status_line(
    base_url: str, partners: Partners, recipients: tuple[str, ...] = (DISCIPLINE,)
) -> dict[str, Any]:
    """A rectification status line from audit, released at once; its envelope."""
    line = examples.rectification_example(recipients=recipients)
    line["payload"]["ledger_item_id"] = line["subject"] = f"WH-{line['id'][:20]}"
    partners["audit"].client(base_url).send(line)
    return line


def delivery(hub: Hub, message_id: str, recipient: str = DISCIPLINE) -> Delivery:
    with hub.sessions() as session:
        row = session.get(Delivery, (message_id, recipient))
        assert row is not None
        return row


def actions(hub: Hub, message_id: str | None = None) -> list[str]:
    """The log's actions (about one message, when given), in order."""
    query = select(LogEntry.action).order_by(LogEntry.index)
    if message_id is not None:
        query = query.where(LogEntry.message_id == message_id)
    with hub.sessions() as session:
        return list(session.scalars(query))


def entries(hub: Hub, action: str) -> list[dict[str, Any]]:
    with hub.sessions() as session:
        rows = session.scalars(
            select(LogEntry.entry).where(LogEntry.action == action).order_by(LogEntry.index)
        )
        return [json.loads(row) for row in rows]


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)


def verify_v1a(base_url: str, received: Received) -> str:
    """Check the ``v1a`` signature with the hub's published JWK Set (``keys``); return the kid
    whose key verified it.
    """
    jwks = requests.get(base_url + "/.well-known/jwks.json", timeout=10).json()["keys"]
    signed = f"{received.webhook_id}.{received.headers['webhook-timestamp']}.".encode()
    signed += received.body
    signatures = [
        base64.b64decode(s.removeprefix("v1a,"))
        for s in received.headers["webhook-signature"].split(" ")
        if s.startswith("v1a,")
    ]
    assert len(signatures) == 1
    for jwk in jwks:
        try:
            VerifyingKey.from_jwk(jwk).verify(signatures[0], signed)
        except SignatureInvalid:
            continue
        return str(jwk["kid"])
    raise AssertionError("no hub key verifies the v1a signature")


def v1_matches(secret: str, received: Received) -> bool:
    """The ``v1`` signature is the reference library's HMAC for this id, timestamp and body
    (``Webhook.verify`` would also hold the timestamp to the real clock: the tests move it).
    """
    timestamp = datetime.fromtimestamp(int(received.headers["webhook-timestamp"]), UTC)
    expected = Webhook(secret).sign(received.webhook_id, timestamp, received.body.decode())
    return expected in received.headers["webhook-signature"].split(" ")


# --- one push, end to end ---------------------------------------------------------------------


def test_a_released_message_is_pushed_with_both_signatures(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver
) -> None:
    secret = webhook(hub, DISCIPLINE, receiver.url)
    line = status_line(base_url, partners, (DISCIPLINE, INSPECTION))  # inspection pulls only

    now = hub.now()
    assert dispatcher(hub).run_once(now).pushed == 1
    assert dispatcher(hub).run_once(now).claimed == 0

    [got] = receiver.received
    assert got.path == "/hooks/exchange"
    assert got.headers["content-type"] == "application/json"
    assert got.webhook_id == line["id"]
    assert got.headers["webhook-timestamp"] == str(int(now.timestamp()))
    # v1: the reference Standard Webhooks library, with the secret as shown once.
    body = Webhook(secret).verify(got.body, got.headers)
    assert set(body) == {"envelope", "signature", "receipt"}
    assert body["envelope"] == line
    assert got.body == canonical_bytes(body)
    # v1a: the hub's Ed25519 key, from its JWK Set.
    assert verify_v1a(base_url, got) == hub.trust.current.kid
    # What the partner received verifies as a pull would: sender's JWS, hub's receipt.
    sender = partners["audit"]
    jws.verify_detached(
        body["signature"],
        canonical_bytes(body["envelope"]),
        lambda kid: sender.key.public_key,
        typ="exchange-message+jws",
    )
    partners["discipline"].client(base_url).verify_receipt(body["receipt"], message_id=line["id"])

    pushed = delivery(hub, line["id"])
    assert (pushed.state, pushed.delivered_via, pushed.push_state) == (
        "delivered",
        "push",
        "pushed",
    )
    assert (pushed.attempts, pushed.next_attempt_at, pushed.last_error) == (1, None, None)
    assert pushed.delivered_at == pushed.last_attempt_at and pushed.last_duration_ms is not None
    assert delivery(hub, line["id"], INSPECTION).push_state is None
    assert actions(hub, line["id"]) == ["message:received", "message:released", "message:delivered"]
    [entry] = entries(hub, "message:delivered")
    assert entry["recipient"] == DISCIPLINE and entry["http_status"] == 204
    assert entry["attempt"] == 1
    assert entry["envelope_sha256"] == hashlib.sha256(canonical_bytes(line)).hexdigest()

    # GET /v1/messages/{id} shows the push to the sender.
    view = partners["audit"].client(base_url).message(line["id"])
    shown = {d["recipient"]: d for d in view["deliveries"]}
    assert shown[DISCIPLINE]["delivered_via"] == "push"
    assert shown[DISCIPLINE]["push"]["state"] == "pushed"
    assert shown[DISCIPLINE]["push"]["attempts"] == 1
    assert shown[DISCIPLINE]["push"]["last_error"] is None
    assert shown[INSPECTION]["push"] is None and shown[INSPECTION]["delivered_via"] is None
    # Pull keeps working: the pushed message is in the inbox too, and can be acked.
    discipline = partners["discipline"].client(base_url)
    assert [i.envelope["id"] for i in discipline.inbox().items] == [line["id"]]
    assert discipline.ack([line["id"]]) == [{"id": line["id"], "status": "acked"}]
    with hub.sessions() as session:
        verify_store(session, hub.trust)


def test_the_secret_is_sealed_and_bound_to_its_partner(hub: Hub, partners: Partners) -> None:
    secret = webhook(hub, DISCIPLINE, "https://discipline.example/hook")
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    with hub.sessions() as session:
        partner = session.get(Partner, DISCIPLINE)
        assert partner is not None and partner.webhook_secret_sealed is not None
        sealed = bytes(partner.webhook_secret_sealed)
    assert secret.encode() not in sealed and base64.b64decode(secret[6:]) not in sealed
    assert open_secret(hub.trust, DISCIPLINE, sealed) == base64.b64decode(secret[6:])
    with pytest.raises(SealingError):
        open_secret(hub.trust, INSPECTION, sealed)
    # A new webhook gets a new secret.
    assert webhook(hub, DISCIPLINE, "https://discipline.example/hook") != secret


@pytest.mark.parametrize(
    "url", ["ftp://discipline.example/hook", "discipline.example", "http:///x"]
)
def test_a_webhook_must_be_an_http_url(hub: Hub, partners: Partners, url: str) -> None:
    before = log_size(hub)
    with pytest.raises(ExchangeError) as refused:
        webhook(hub, DISCIPLINE, url)
    assert refused.value.code == "bad-request"
    assert log_size(hub) == before
    with hub.sessions() as session:
        partner = session.get(Partner, DISCIPLINE)
        assert partner is not None and partner.webhook_url is None


def test_a_held_referral_is_pushed_once_released_and_its_case_moves(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver
) -> None:
    webhook(hub, DISCIPLINE, receiver.url)
    referral = examples.referral_example(payload={"referral_id": "YL-SJ-YJ-2026-WH1"})
    assert partners["audit"].client(base_url).send(referral).status == "pending_review"
    assert delivery(hub, referral["id"]).push_state is None
    assert dispatcher(hub).run_once(hub.now()).claimed == 0

    review(hub, referral["id"], "张审核")
    assert review(hub, referral["id"], "李复核") == "released"
    assert delivery(hub, referral["id"]).push_state == "pending"
    assert dispatcher(hub).run_once(hub.now()).pushed == 1

    assert receiver.ids() == [referral["id"]]
    [entry] = entries(hub, "message:delivered")
    with hub.sessions() as session:
        case = session.get(ReferralCase, (referral["id"], DISCIPLINE))
        assert case is not None and case.state == "delivered"
        step = session.scalars(select(Transition).where(Transition.to_state == "delivered")).one()
    assert (step.from_state, step.log_index, step.party) == ("released", entry["index"], DISCIPLINE)


def test_redirects_and_proxies_never_take_a_push_elsewhere(
    base_url: str,
    hub: Hub,
    partners: Partners,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the registered URL is ever posted to: a redirect is a failed attempt, and a proxy
    set in the environment is not used.
    """
    elsewhere = Receiver()
    try:
        receiver.status, receiver.location = 307, elsewhere.url
        webhook(hub, DISCIPLINE, receiver.url)
        line = status_line(base_url, partners)
        proxy = f"http://127.0.0.1:{closed_port()}"
        for name in ("HTTP_PROXY", "http_proxy"):
            monkeypatch.setenv(name, proxy)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.setenv(name, "")
        assert dispatcher(hub).run_once(hub.now()).retrying == 1
        assert receiver.ids() == [line["id"]] and elsewhere.received == []
        assert delivery(hub, line["id"]).last_error == "HTTP 307"
    finally:
        elsewhere.close()


# --- retries, dead letter, resend -----------------------------------------------------------------


def test_a_failing_webhook_is_retried_on_schedule_then_dead_lettered_and_resent(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver, hub_cli: Cli
) -> None:
    secret = webhook(hub, DISCIPLINE, receiver.url)
    receiver.status = 500
    line = status_line(base_url, partners, (DISCIPLINE, INSPECTION))  # inspection pulls
    worker = dispatcher(hub)

    now = hub.now()
    assert worker.run_once(now).retrying == 1
    attempts = [now]
    for number, delay in enumerate(RETRY_DELAYS, start=2):
        due = attempts[-1] + delay
        row = delivery(hub, line["id"])
        assert (row.push_state, row.attempts, row.next_attempt_at) == ("pending", number - 1, due)
        assert row.last_error == "HTTP 500" and row.last_attempt_at == attempts[-1]
        # Not a moment early (a second before it is due, nothing is claimed) …
        assert worker.run_once(due - timedelta(seconds=1)).claimed == 0
        # … and when it is due, one attempt.
        tally = worker.run_once(due)
        assert tally.claimed == 1
        attempts.append(due)

    assert (tally.retrying, tally.dead) == (0, 1)
    dead = delivery(hub, line["id"])
    assert (dead.push_state, dead.attempts, dead.next_attempt_at) == ("dead", 8, None)
    assert dead.state == "queued" and dead.delivered_at is None
    assert worker.run_once(attempts[-1] + timedelta(days=30)).claimed == 0

    # Eight attempts, each signed at its own time, all under the message's id.
    assert len(receiver.received) == 8 == 1 + len(RETRY_DELAYS)
    assert set(receiver.ids()) == {line["id"]}
    assert [int(r.headers["webhook-timestamp"]) for r in receiver.received] == [
        int(at.timestamp()) for at in attempts
    ]
    assert all(v1_matches(secret, r) for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1
    assert actions(hub, line["id"])[2:] == ["message:delivery-failed"] * 7 + [
        "message:dead-lettered"
    ]
    failed = entries(hub, "message:delivery-failed")
    assert [f["attempt"] for f in failed] == list(range(1, 8))
    assert {f["http_status"] for f in failed} == {500}
    assert failed[0]["retry_at"] == (attempts[0] + RETRY_DELAYS[0]).isoformat().replace(
        "+00:00", "Z"
    )

    # Admins see it in the dead letters, and resend it; the schedule starts over.
    listed = hub_cli.ok("deliveries", "list").splitlines()
    assert len(listed) == 1
    assert listed[0].split("\t")[:4] == [line["id"], DISCIPLINE, "dead", "8 attempts"]
    assert listed[0].endswith("\tHTTP 500")
    assert (
        hub_cli.ok("deliveries", "resend", "--", line["id"])
        == f"{line['id']}\t{DISCIPLINE}\tqueued\n"
    )
    queued = delivery(hub, line["id"])
    assert (queued.push_state, queued.attempts) == ("pending", 0)
    assert hub_cli.ok("deliveries", "list") == "no dead pushes\n"

    receiver.status = 200
    assert worker.run_once(hub.now() + timedelta(seconds=1)).pushed == 1
    done = delivery(hub, line["id"])
    assert (done.push_state, done.attempts, done.state) == ("pushed", 1, "delivered")
    assert actions(hub, line["id"])[-2:] == ["message:delivery-resent", "message:delivered"]
    [resent] = entries(hub, "message:delivery-resent")
    assert resent["actor"] == "cli" and resent["previous_attempts"] == 8
    assert len(receiver.received) == 9 and receiver.received[-1].body == receiver.received[0].body


def test_a_refused_connection_is_retried_until_the_partner_listens(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    port = closed_port()
    webhook(hub, DISCIPLINE, f"http://127.0.0.1:{port}/hooks/exchange")
    line = status_line(base_url, partners)
    worker = dispatcher(hub)

    now = hub.now()
    assert worker.run_once(now).retrying == 1
    first = delivery(hub, line["id"])
    assert first.last_error == "connection failed (refused)"
    assert first.next_attempt_at == now + timedelta(seconds=5)
    [failed] = entries(hub, "message:delivery-failed")
    assert "http_status" not in failed and failed["attempt"] == 1

    assert worker.run_once(now + timedelta(seconds=5)).retrying == 1
    second = delivery(hub, line["id"])
    assert second.next_attempt_at == now + timedelta(seconds=5) + timedelta(minutes=5)

    partner_server = Receiver(port=port)
    try:
        assert worker.run_once(now + timedelta(minutes=5)).claimed == 0
        assert worker.run_once(now + timedelta(seconds=5, minutes=5)).pushed == 1
        assert partner_server.ids() == [line["id"]]
    finally:
        partner_server.close()
    assert delivery(hub, line["id"]).attempts == 3


def test_a_webhook_that_does_not_answer_in_time_is_retried(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver
) -> None:
    """The sender's timeout (15 s by default; a short one here) is an attempt that failed."""
    assert TIMEOUT_SECONDS == 15 and WebhookSender().timeout == 15
    receiver.delay = 1.0
    webhook(hub, DISCIPLINE, receiver.url)
    line = status_line(base_url, partners)
    now = hub.now()
    assert dispatcher(hub, timeout=0.2).run_once(now).retrying == 1
    row = delivery(hub, line["id"])
    assert row.last_error == "timed out after 0.2 s"
    assert row.last_attempt_at is not None
    assert row.next_attempt_at == row.last_attempt_at + RETRY_DELAYS[0]
    assert row.last_duration_ms is not None and 150 <= row.last_duration_ms < 1000


# --- 410 Gone ----------------------------------------------------------------------------------


def test_410_disables_the_webhook_and_the_partner_pulls(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver, hub_cli: Cli
) -> None:
    webhook(hub, DISCIPLINE, receiver.url)
    receiver.status = 410
    first, second = status_line(base_url, partners), status_line(base_url, partners)

    tally = dispatcher(hub, batch_size=1).run_once(hub.now())
    assert (tally.claimed, tally.disabled) == (1, [DISCIPLINE])
    assert receiver.ids() == [first["id"]]
    gone = delivery(hub, first["id"])
    assert (gone.push_state, gone.next_attempt_at) == ("cancelled", None)
    assert gone.last_error == "HTTP 410: the webhook is disabled"
    # The other push is cancelled without an attempt; nothing more is pushed to the partner.
    assert delivery(hub, second["id"]).push_state == "cancelled"
    assert delivery(hub, second["id"]).attempts == 0
    assert dispatcher(hub).run_once(hub.now() + timedelta(days=1)).claimed == 0
    third = status_line(base_url, partners)
    assert delivery(hub, third["id"]).push_state is None
    assert actions(hub)[-4:-2] == ["message:delivery-failed", "partner:webhook-disabled"]
    [failed] = entries(hub, "message:delivery-failed")
    assert failed["http_status"] == 410 and failed["webhook_disabled"] is True
    assert "(disabled by a 410 at" in hub_cli.ok("partners", "list")
    # Resending needs a working webhook.
    assert "no recipient has a working webhook" in hub_cli.refused(
        "deliveries", "resend", "--", first["id"]
    )
    assert "No working webhook for discipline.yanliang" in hub_cli.refused(
        "deliveries", "resend", "--to", DISCIPLINE, "--", first["id"]
    )

    discipline = partners["discipline"].client(base_url)
    assert [i.envelope["id"] for i in discipline.inbox().items] == [
        first["id"],
        second["id"],
        third["id"],
    ]

    # The administrator sets the webhook again (a new secret, shown once) and resends.
    out = hub_cli.ok("partners", "webhook", DISCIPLINE, receiver.url, "--allow-internal")
    secret = out.splitlines()[-1].rsplit(" ", 1)[1]
    receiver.status = 202
    hub_cli.ok("deliveries", "resend", "--", first["id"], second["id"])
    assert dispatcher(hub).run_once(hub.now() + timedelta(seconds=1)).pushed == 2
    assert receiver.ids()[1:] == [first["id"], second["id"]]
    assert all(v1_matches(secret, r) for r in receiver.received[1:])


def test_removing_a_webhook_cancels_its_pending_pushes(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver, hub_cli: Cli
) -> None:
    webhook(hub, DISCIPLINE, receiver.url)
    line = status_line(base_url, partners)
    assert hub_cli.ok("partners", "webhook", DISCIPLINE, "--remove") == (
        f"{DISCIPLINE} pulls; 1 pending push cancelled\n"
    )
    assert delivery(hub, line["id"]).push_state == "cancelled"
    assert dispatcher(hub).run_once(hub.now()).claimed == 0
    assert receiver.received == []
    assert actions(hub)[-1] == "partner:webhook-removed"
    assert "webhook" not in hub_cli.ok("partners", "list").splitlines()[1]


def test_a_due_push_whose_webhook_is_gone_is_cancelled_and_one_to_a_suspended_partner_waits(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver
) -> None:
    """What the claim finds when the partner changed after the release: a webhook gone (as if
    removed while the message was being released) cancels the push; a suspension holds it.
    """
    webhook(hub, DISCIPLINE, receiver.url)
    webhook(hub, INSPECTION, receiver.url)
    line = status_line(base_url, partners, (DISCIPLINE, INSPECTION))
    with hub.engine.begin() as connection:
        connection.execute(update(Partner).where(Partner.id == INSPECTION).values(webhook_url=None))
    with hub.sessions.begin() as session:
        set_partner_status(session, DISCIPLINE, "suspended", actor="test", now=hub.now())

    now = hub.now()
    assert dispatcher(hub).run_once(now).claimed == 0
    assert receiver.received == []
    assert delivery(hub, line["id"], INSPECTION).push_state == "cancelled"
    held = delivery(hub, line["id"])
    assert (held.push_state, held.attempts) == ("pending", 0)
    assert held.next_attempt_at == now + SUSPENDED_WAIT

    with hub.sessions.begin() as session:
        set_partner_status(session, DISCIPLINE, "active", actor="test", now=hub.now())
    assert dispatcher(hub).run_once(now + SUSPENDED_WAIT).pushed == 1
    assert receiver.ids() == [line["id"]]


RESEND_REFUSALS = {
    "unknown message": ("NO-SUCH-MESSAGE-0001", None, "not-found"),
    "already queued": (None, None, "invalid-transition"),
    "recipient pulls": (None, INSPECTION, "invalid-transition"),
}


@pytest.mark.parametrize(
    ("message_id", "recipient", "code"), RESEND_REFUSALS.values(), ids=list(RESEND_REFUSALS)
)
def test_resend_refusals_change_nothing(
    base_url: str,
    hub: Hub,
    partners: Partners,
    receiver: Receiver,
    message_id: str | None,
    recipient: str | None,
    code: str,
) -> None:
    webhook(hub, DISCIPLINE, receiver.url)
    line = status_line(base_url, partners, (DISCIPLINE, INSPECTION))
    before = (log_size(hub), delivery(hub, line["id"]).next_attempt_at)
    with hub.sessions.begin() as session, pytest.raises(ExchangeError) as refused:
        resend(
            session,
            message_id or line["id"],
            recipient=recipient,
            actor="test",
            now=hub.now(),
        )
    assert refused.value.code == code
    assert (log_size(hub), delivery(hub, line["id"]).next_attempt_at) == before


# --- several workers; a worker killed -------------------------------------------------------------


def test_two_workers_at_once_push_each_message_once(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver
) -> None:
    webhook(hub, DISCIPLINE, receiver.url)
    receiver.delay = 0.005
    ids = {status_line(base_url, partners)["id"] for _ in range(40)}
    now = hub.now()

    def drain(worker: Dispatcher) -> Tally:
        total = Tally()
        while (tally := worker.run_once(now)).claimed:
            total.add(tally)
        return total

    with ThreadPoolExecutor(max_workers=2) as pool:
        tallies = list(pool.map(drain, [dispatcher(hub, batch_size=4) for _ in range(2)]))

    assert sorted(receiver.ids()) == sorted(ids)
    assert sum(t.pushed for t in tallies) == 40 and all(t.pushed for t in tallies)
    with hub.sessions() as session:
        states = session.execute(
            select(Delivery.push_state, Delivery.attempts, func.count()).group_by(
                Delivery.push_state, Delivery.attempts
            )
        ).all()
        verify_store(session, hub.trust)
    assert [tuple(row) for row in states] == [("pushed", 1, 40)]


@pytest.fixture
def hub_cli(hub: Hub, hub_home: Path, database_url: str) -> Cli:
    """The CLI over the test hub's own home (same keys) and database."""
    return Cli(cli_env(hub_home, database_url))


def test_a_worker_killed_mid_batch_loses_nothing(
    base_url: str,
    hub: Hub,
    partners: Partners,
    receiver: Receiver,
    hub_cli: Cli,
    tmp_path: Path,
) -> None:
    """SIGKILL while a batch is being sent: its rows stay claimed until their lease runs out,
    then another worker sends them again — each message reaches the partner at least once,
    a repeat under the same ``webhook-id`` with the same body.
    """
    webhook(hub, DISCIPLINE, receiver.url)
    ids = [status_line(base_url, partners)["id"] for _ in range(30)]
    receiver.delay = 0.1
    output = (tmp_path / "worker.out").open("w")
    process = subprocess.Popen(
        [EXCHANGE, "worker", "--batch", "10", "--interval", "0.2"],
        env=hub_cli.env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while len(receiver.received) < 4:
            assert process.poll() is None, (tmp_path / "worker.out").read_text()
            assert time.monotonic() < deadline, "the worker pushed nothing"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        output.close()
    time.sleep(0.3)  # the last request the worker had started ends at the receiver
    seen_before = receiver.ids()

    def sending() -> set[str]:
        with hub.sessions() as session:
            return set(
                session.scalars(select(Delivery.message_id).where(Delivery.push_state == SENDING))
            )

    claimed = sending()
    assert claimed, "the kill did not land mid-batch"
    # Another worker pushes what was never claimed, but nothing claimed before its lease
    # runs out …
    receiver.delay = 0.0
    worker = dispatcher(hub)
    while worker.run_once(hub.now()).claimed:
        pass
    assert sending() == claimed
    # … and everything once it has.
    later = hub.now() + timedelta(hours=1)
    while worker.run_once(later).claimed:
        pass

    received = receiver.ids()
    assert set(received) == set(ids)
    repeated = {i for i in received if received.count(i) > 1}
    assert repeated and repeated <= set(seen_before)
    for message_id in repeated:
        bodies = {r.body for r in receiver.received if r.webhook_id == message_id}
        assert len(bodies) == 1
    with hub.sessions() as session:
        rows = session.scalars(select(Delivery)).all()
        assert {(d.push_state, d.state) for d in rows} == {("pushed", "delivered")}
        assert {d.message_id for d in rows if d.attempts == 2} == claimed
        verify_store(session, hub.trust)
    assert len(entries(hub, "message:delivered")) == 30
