"""Concurrent writers (threads submitting, pulling, acking; processes appending) leave the
event log dense and verifiable.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select

from adapters import SendResult
from exchange.hub import Hub
from exchange.store.models import LogEntry
from exchange.transparency.verify import verify_store
from schemas import examples
from tests.support import PartnerKeys

Partners = dict[str, PartnerKeys]


def test_indices_stay_dense_under_concurrent_writers(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    senders = {
        "audit": partners["audit"].client(base_url),
        "inspection": partners["inspection"].client(base_url),
    }
    discipline = partners["discipline"].client(base_url)

    def send(body: str, count: int) -> list[SendResult]:
        client = senders[body]
        return [
            client.send(
                examples.rectification_example(
                    sender=f"{body}.yanliang", recipients=["discipline.yanliang"]
                )
            )
            for _ in range(count)
        ]

    def pull_and_ack(rounds: int) -> int:
        acked = 0
        for _ in range(rounds):
            page = discipline.inbox(unacked=True)
            if page.items:
                acked += len(discipline.ack([i.envelope["id"] for i in page.items]))
        return acked

    with ThreadPoolExecutor(max_workers=6) as pool:
        sends = [pool.submit(send, body, 25) for body in ("audit", "inspection") * 2]
        pulls = [pool.submit(pull_and_ack, 15) for _ in range(2)]
        receipts = [result for future in sends for result in future.result()]
        for future in pulls:
            future.result()

    with hub.sessions() as session:
        entries = session.execute(select(LogEntry.index, LogEntry.entry)).all()
    indices = sorted(index for index, _entry in entries)
    assert indices == list(range(len(indices)))  # no gap, no duplicate
    by_index = {index: json.loads(entry) for index, entry in entries}
    assert len(receipts) == 100
    for receipt in receipts:
        entry = by_index[receipt.log_index]
        assert (entry["action"], entry["message_id"]) == ("message:received", receipt.id)
        assert entry["index"] == receipt.log_index


# Four real processes append at once, each entry in its own transaction.
APPENDER = """
import sys
from pathlib import Path
from exchange.config import Config
from exchange.hub import Hub
from exchange.transparency.verify import verify_store
from exchange.transparency.window import append_one

url, home, name, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
hub = Hub(Config(home=home, database_url=url))
for n in range(count):
    with hub.sessions.begin() as session:
        append_one(
            session, at=hub.now(), actor=name, action="partner:added", partner_id=f"{name}.{n}"
        )
"""


def test_four_processes_appending_at_once_leave_a_dense_verified_log(
    hub: Hub, hub_home: Path, database_url: str
) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, database_url, str(hub_home), f"test.w{n}", "500"],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr

    with hub.sessions() as session:
        entries = session.execute(select(LogEntry.index, LogEntry.actor)).all()
        report = verify_store(session, hub.trust)
    assert sorted(index for index, _ in entries) == list(range(2000))
    assert Counter(actor for _, actor in entries) == {f"test.w{n}": 500 for n in range(4)}
    # Crossing 1,000 signed a checkpoint in that transaction; the whole log verifies.
    assert report.entries == 2000 and report.checkpoints == 2
