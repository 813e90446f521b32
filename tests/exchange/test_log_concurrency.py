"""Concurrent writers (submissions, pulls, acks at once) leave the event log dense."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from adapters import SendResult
from exchange.hub import Hub
from exchange.models import LogEntry
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
