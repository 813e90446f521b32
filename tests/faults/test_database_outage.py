"""PostgreSQL stopped for 20 s under load, on a throwaway cluster this test starts itself.

While the database is down the hub answers every submission 503 problem+json with
``Retry-After``, ``/readyz`` fails, and nothing partial is written; when it returns, the same
gunicorn processes and the same worker recover by themselves: the clients' retries (same ids)
are stored, the worker pushes what was released after the outage, and the log verifies.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.exchange.test_delivery import Receiver
from tests.faults.clusters import ThrowawayCluster
from tests.faults.hubs import ServedHub, problem, ready, wait_until
from tests.faults.load import ClientRecord, status_line
from tests.support import signed_request

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(300)]

SENDER, RECIPIENT = "audit.outage", "discipline.outage"
OUTAGE_SECONDS = 20


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    """A cluster of this test's own, with an empty ``exchange`` database."""
    try:
        server = ThrowawayCluster()
    except (FileNotFoundError, KeyError) as missing:
        pytest.skip(f"no PostgreSQL server to start: {missing}")
    try:
        server.start()
        server.execute("CREATE DATABASE exchange")
        yield server
    finally:
        server.destroy()


class Submitter(threading.Thread):
    """One client sending single messages until stopped, each retried with its id until
    stored; it keeps every answer it got while the database was down.
    """

    def __init__(self, hub: ServedHub) -> None:
        super().__init__(daemon=True)
        self.hub = hub
        self.record = ClientRecord()
        self.stopping = threading.Event()
        self.outage_answers: list[requests.Response] = []
        self.in_outage = threading.Event()
        self.sent: list[str] = []

    def run(self) -> None:
        sender = self.hub.partners[SENDER]
        while not self.stopping.is_set():
            envelope = status_line(SENDER, [RECIPIENT], "outage")
            self.sent.append(envelope["id"])
            while not self.stopping.is_set():
                body = json.dumps(sender.sign(envelope)).encode()
                try:
                    answer = signed_request(self.hub.url, sender, "POST", "/v1/messages", body=body)
                except requests.RequestException:
                    time.sleep(0.1)
                    continue
                if self.in_outage.is_set():
                    self.outage_answers.append(answer)
                if answer.status_code in (200, 201):
                    self.record.receipt(envelope["id"], answer.json())
                    break
                assert answer.status_code == 503, answer.text
                time.sleep(0.2)


def test_the_hub_and_its_worker_ride_out_a_database_outage(
    tmp_path: Path, cluster: ThrowawayCluster
) -> None:
    receiver = Receiver()
    hub = ServedHub(tmp_path / "home", cluster.url("exchange"), (SENDER, RECIPIENT))
    hub.cli("partners", "webhook", RECIPIENT, receiver.url, "--allow-internal")
    hub.serve()
    hub.start_worker("--interval", "0.5")
    client = Submitter(hub)
    try:
        client.start()
        wait_until(lambda: len(client.record.receipts) >= 20, "20 receipts", seconds=60)
        wait_until(lambda: len(set(receiver.ids())) >= 10, "10 pushes", seconds=60)
        stored_before = len(client.record.receipts)

        cluster.stop("fast")
        client.in_outage.set()
        down_since = time.monotonic()
        readiness = requests.get(hub.url + "/readyz", timeout=10)
        wait_until(lambda: len(client.outage_answers) >= 5, "answers during the outage")
        time.sleep(max(OUTAGE_SECONDS - (time.monotonic() - down_since), 0))
        client.in_outage.clear()
        refused_during_outage = [a for a in client.outage_answers if a.status_code == 503]
        stored_in_outage = len(client.record.receipts)
        cluster.start()

        wait_until(lambda: ready(hub.url), "the hub is ready again", seconds=30)
        wait_until(
            lambda: len(client.record.receipts) >= stored_in_outage + 20,
            "20 more receipts after the outage",
            seconds=60,
        )
        client.stopping.set()
        client.join(timeout=30)
        # The worker survived the outage: it pushes what was released after it.
        after = set(client.record.receipts) - set(client.sent[:stored_in_outage])
        wait_until(lambda: after <= set(receiver.ids()), "the worker pushes again", seconds=60)
        assert hub.worker is not None and hub.worker.poll() is None, "the worker stopped"
        verified = hub.verify_log()
    finally:
        client.stopping.set()
        hub.stop()
        receiver.close()

    assert readiness.status_code == 503
    assert problem(readiness)["status"] == 503 and readiness.headers["Retry-After"].isdigit()
    assert stored_before >= 20
    assert len(refused_during_outage) >= 5
    for answer in refused_during_outage:
        document = problem(answer)
        assert document["type"] == "urn:exchange:error:unavailable"
        assert int(answer.headers["Retry-After"]) > 0
    assert client.record.disagreements == [] and client.record.refusals == []
    # Nothing partial: every stored message has its log entry and its delivery; every
    # message a client was answered for is stored at its index; none is stored twice.
    stored, logged, deliveries = hub.stored()
    assert stored == client.record.receipts
    assert logged == dict.fromkeys(stored, 1)
    assert deliveries == dict.fromkeys(stored, 1)
    assert f"{len(stored)} messages" in verified
    worker_log = (hub.home / "worker.log").read_text()
    # It said so once when the store went, and once when it came back.
    assert worker_log.count("store unavailable") == 1, worker_log[-2000:]
    assert worker_log.count("store available again") == 1, worker_log[-2000:]
