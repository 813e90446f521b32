"""Group commit: concurrent single submissions share a commit, each answered on its own.

The queue itself (threads, a store that records its groups), then the hub's intake on the
real store with the log lock held so that submissions pile up into one group, then a real
gunicorn hub killed mid-load: no receipt is ever given for a message the store lost.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import REGISTRY
from sqlalchemy import select, text

from adapters import HubError
from exchange.config import Config
from exchange.errors import DuplicateConflict, ExchangeError, InvalidTransition, Unavailable
from exchange.hub import Hub
from exchange.store.models import LogEntry, Message
from exchange.transparency.log import LOG_LOCK_KEY
from exchange.transparency.verify import verify_store
from exchange.transport.group_commit import GroupCommit
from exchange.transport.intake import Outcome
from exchange.trust.directory import KeyLookup
from keys import SigningKey
from schemas import examples
from tests.exchange.test_end_to_end import EXCHANGE, free_port, run
from tests.support import PartnerKeys, message_count, signed_request

NOW = datetime(2026, 12, 1, 9, 0)


def line(ledger_item_id: str, **envelope: Any) -> dict[str, Any]:
    """A ledger line of an item of its own (a first line: any status may open it)."""
    return examples.rectification_example(payload={"ledger_item_id": ledger_item_id}, **envelope)


class RecordingStore:
    """Stores a group by answering each item doubled, after ``pause`` seconds; keeps the groups."""

    def __init__(self, pause: float = 0.0, refuse: object = None) -> None:
        self.pause = pause
        self.refuse = refuse
        self.groups: list[list[int]] = []
        self._lock = threading.Lock()

    def __call__(self, items: Sequence[int], now: datetime) -> list[int]:
        with self._lock:
            self.groups.append(list(items))
        time.sleep(self.pause)
        if self.refuse in items:
            raise ValueError(f"cannot store {self.refuse}")
        return [item * 2 for item in items]


def commit_all(groups: GroupCommit[int, int], items: Sequence[int]) -> list[int | BaseException]:
    """Commit every item from its own thread at once; each thread's answer or exception."""
    start = threading.Barrier(len(items))

    def one(item: int) -> int | BaseException:
        start.wait()
        try:
            return groups.commit(item, NOW)
        except Exception as failure:
            return failure

    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(one, items))


def test_concurrent_commits_share_groups_and_each_gets_its_own_answer() -> None:
    store = RecordingStore(pause=0.02)
    answers = commit_all(GroupCommit(store, limit=100), list(range(40)))
    assert answers == [item * 2 for item in range(40)]
    stored = [item for group in store.groups for item in group]
    assert sorted(stored) == list(range(40))  # each exactly once
    assert len(store.groups) < 40
    assert max(len(group) for group in store.groups) > 1


def test_a_group_holds_at_most_its_limit() -> None:
    store = RecordingStore(pause=0.02)
    answers = commit_all(GroupCommit(store, limit=3), list(range(30)))
    assert answers == [item * 2 for item in range(30)]
    assert max(len(group) for group in store.groups) <= 3


def test_a_failing_member_fails_alone() -> None:
    store = RecordingStore(pause=0.02, refuse=7)
    answers = commit_all(GroupCommit(store, limit=100), list(range(20)))
    for item, answer in enumerate(answers):
        if item == 7:
            assert isinstance(answer, ValueError) and str(answer) == "cannot store 7"
        else:
            assert answer == item * 2
    assert [7] in store.groups  # retried on its own, and failed on its own


def test_an_unavailable_store_is_every_members_answer() -> None:
    def down(items: Sequence[int], now: datetime) -> list[int]:
        time.sleep(0.02)
        raise Unavailable("The store is unavailable; retry.")

    answers = commit_all(GroupCommit(down, limit=100), list(range(10)))
    assert all(isinstance(answer, Unavailable) for answer in answers)


def test_the_queue_carries_on_after_a_failure() -> None:
    store = RecordingStore(refuse=1)
    groups = GroupCommit(store, limit=100)
    with pytest.raises(ValueError):
        groups.commit(1, NOW)
    assert groups.commit(2, NOW) == 4
    assert groups.queued == 0


def test_the_group_is_given_the_latest_clock() -> None:
    seen: list[datetime] = []

    def store(items: Sequence[int], now: datetime) -> list[int]:
        seen.append(now)
        return list(items)

    assert GroupCommit(store, limit=1).commit(1, NOW) == 1
    assert seen == [NOW]


@contextmanager
def log_lock_held(hub: Hub) -> Iterator[None]:
    """Hold the hub's write lock from another connection: writers wait until it is let go."""
    with hub.engine.connect() as connection, connection.begin():
        # SQLite: the hub's engine begins IMMEDIATE, which takes the write lock at once.
        connection.execute(text("SELECT 1"))
        if hub.engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOG_LOCK_KEY})
        yield
        connection.rollback()


def group_sizes() -> tuple[float, float]:
    """The group-size histogram's count and sum so far."""
    count = REGISTRY.get_sample_value("exchange_intake_group_size_count") or 0.0
    total = REGISTRY.get_sample_value("exchange_intake_group_size_sum") or 0.0
    return count, total


def wait_until(condition: Any, what: str) -> None:
    """Poll ``condition`` for up to 10 s."""
    for _ in range(1000):
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting until {what}")


def test_submissions_waiting_for_the_lock_commit_together_each_on_its_own_merits(
    hub: Hub, partners: dict[str, PartnerKeys]
) -> None:
    audit = partners["audit"]
    first_line = examples.rectification_example(status="in_progress")
    key = first_line["payload"]["ledger_item_id"]
    after_line = examples.rectification_example(status="pending")
    twin = line(f"{key}-twin")
    twin_changed = {**twin, "payload": {**twin["payload"], "rules_made": 2}}
    others = [line(f"{key}-{n}") for n in range(6)]
    # In queue order: the item's line, a line it cannot be followed by, a message, the same
    # id with other content, the same message again, and six ordinary ones.
    queue = [first_line, after_line, twin, twin_changed, twin, *others]
    leader = line(f"{key}-leader")
    answers: dict[int, Outcome | BaseException] = {}

    def submit(position: int, envelope: dict[str, Any]) -> None:
        with hub.readers() as session:
            lookup = KeyLookup(session, hub.now())
            try:
                answers[position] = hub.intake.submit(
                    audit.partner_id, audit.sign(envelope), lookup=lookup, now=hub.now()
                )
            except ExchangeError as refusal:
                answers[position] = refusal

    count_before, sum_before = group_sizes()
    threads = [threading.Thread(target=submit, args=(-1, leader))]
    with log_lock_held(hub):
        threads[0].start()
        time.sleep(0.3)  # the leader takes its group (itself) and waits for the lock
        for position, envelope in enumerate(queue):
            thread = threading.Thread(target=submit, args=(position, envelope))
            thread.start()
            threads.append(thread)
            wait_until(
                lambda p=position: hub.intake.queued == p + 1 or p in answers,
                f"{position + 1} queued",
            )
            assert position not in answers, answers[position]
    for thread in threads:
        thread.join(timeout=30)

    count_after, sum_after = group_sizes()
    assert sum_after - sum_before == len(queue) + 1
    assert count_after - count_before in (1, 2)  # the queue went in one commit, or with the leader
    assert isinstance(answers[1], InvalidTransition)
    assert isinstance(answers[3], DuplicateConflict)
    accepted = {p: a for p, a in answers.items() if isinstance(a, Outcome)}
    assert sorted(accepted) == [-1, 0, 2, 4, 5, 6, 7, 8, 9, 10]
    assert accepted[4].created is False and accepted[4].receipt == accepted[2].receipt
    created = [a for a in accepted.values() if a.created]
    assert message_count(hub) == len(created) == 9
    with hub.readers() as session:
        entries = dict(session.execute(select(LogEntry.index, LogEntry.entry)).all())
        stored = dict(session.execute(select(Message.id, Message.log_index)).all())
        verify_store(session, hub.trust)
    for outcome in created:
        assert stored[outcome.id] == outcome.log_index
        assert json.loads(entries[outcome.log_index])["message_id"] == outcome.id
    # Queue order is log order.
    queued_indices = [accepted[p].log_index for p in (0, 2, 5, 6, 7, 8, 9, 10)]
    assert queued_indices == sorted(queued_indices)
    assert sorted(entries) == list(range(len(entries)))


def test_concurrent_http_submissions_are_grouped_and_all_logged(
    base_url: str, hub: Hub, partners: dict[str, PartnerKeys]
) -> None:
    audit = partners["audit"].client(base_url)
    count_before, sum_before = group_sizes()

    def send(n: int) -> Any:
        return audit.send(line(f"HTTP-{n}"))

    with ThreadPoolExecutor(max_workers=16) as pool:
        receipts = list(pool.map(send, range(64)))
    count_after, sum_after = group_sizes()
    assert sum_after - sum_before == 64
    assert count_after - count_before <= 64
    assert len({r.log_index for r in receipts}) == 64
    with hub.readers() as session:
        verify_store(session, hub.trust)
        stored = dict(session.execute(select(Message.id, Message.log_index)).all())
    assert stored == {r.id: r.log_index for r in receipts}


def test_more_waiting_submissions_than_pooled_connections_all_commit(
    base_url: str, hub: Hub, partners: dict[str, PartnerKeys]
) -> None:
    # 48 requests in flight at once in one process (the test server has a thread per
    # request), three times the 15 connections of its pool (store/db.py): none may hold one
    # while it waits for its group, or the group's writer finds none left and every request
    # times out.
    audit = partners["audit"].client(base_url)
    clients = 48
    barrier = threading.Barrier(clients)

    def send(n: int) -> Any:
        barrier.wait()
        return audit.send(line(f"POOL-{n}"))

    def send_batch(n: int) -> list[Any]:
        barrier.wait()
        return audit.send_batch([line(f"POOL-B{n}-{k}") for k in range(2)])

    with ThreadPoolExecutor(max_workers=clients) as pool:
        receipts = list(pool.map(send, range(clients)))
        # A batch request writes in its own thread: it too must have let its read go.
        receipts += [r for batch in pool.map(send_batch, range(clients)) for r in batch]
    assert not [r for r in receipts if isinstance(r, HubError)]
    assert len({r.log_index for r in receipts}) == 3 * clients
    with hub.readers() as session:
        stored = dict(session.execute(select(Message.id, Message.log_index)).all())
    assert stored == {r.id: r.log_index for r in receipts}


KILL_CLIENTS = 8


@pytest.mark.faults  # SIGKILLs: in `make test-faults`
def test_no_receipt_is_given_for_a_message_the_store_lost(
    tmp_path: Path, database_url: str, hub: Hub
) -> None:
    """Eight clients submit single messages to a real gunicorn hub; it is SIGKILLed mid-load
    (master and workers). After a restart every receipt a client was given names a stored,
    logged message at that index, and the log verifies.
    """
    env = dict(os.environ, EXCHANGE_HOME=str(tmp_path / "home"), EXCHANGE_DATABASE_URL=database_url)
    run(env, "init")
    key = SigningKey.generate()
    key_file = tmp_path / "audit.pub.pem"
    key_file.write_bytes(key.public_key.to_pem())
    run(env, "partners", "add", "audit.kill", "--name", "审计局", "--key", str(key_file))
    run(env, "partners", "add", "discipline.kill", "--name", "纪委监委", "--key", str(key_file))
    sender = PartnerKeys("audit.kill", "audit.kill#1", key)
    port = free_port()

    def serve() -> subprocess.Popen[bytes]:
        server = subprocess.Popen(
            [EXCHANGE, "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=(tmp_path / "serve.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}"), "the hub is ready")
        return server

    server = serve()
    url = f"http://127.0.0.1:{port}"
    receipts: list[dict[str, Any]] = []
    stop = threading.Event()

    def client(n: int) -> None:
        sent = 0
        while not stop.is_set():
            envelope = line(f"K-{n}-{sent}", sender="audit.kill", recipients=["discipline.kill"])
            sent += 1
            try:
                response = signed_request(
                    url,
                    sender,
                    "POST",
                    "/v1/messages",
                    body=json.dumps(sender.sign(envelope)).encode(),
                )
            except requests.RequestException:
                continue
            if response.status_code == 201:
                receipts.append({"id": envelope["id"], **response.json()})

    threads = [threading.Thread(target=client, args=(n,)) for n in range(KILL_CLIENTS)]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(receipts) >= 150, "150 receipts")
    os.killpg(server.pid, signal.SIGKILL)
    server.wait(timeout=10)
    time.sleep(0.5)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    given = list(receipts)

    server = serve()
    try:
        out = run(env, "log", "verify")
        assert out.startswith("ok:"), out
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    assert len(given) >= 150
    restarted = Hub(_config(env))
    with restarted.readers() as session:
        stored = dict(session.execute(select(Message.id, Message.log_index)).all())
    restarted.engine.dispose()
    restarted.read_engine.dispose()
    for receipt in given:
        assert stored.get(receipt["id"]) == receipt["log_index"], receipt


def _ready(url: str) -> bool:
    try:
        return requests.get(url + "/readyz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _config(env: dict[str, str]) -> Config:
    return Config(home=Path(env["EXCHANGE_HOME"]), database_url=env["EXCHANGE_DATABASE_URL"])
