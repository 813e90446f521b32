"""Partners loading a hub as real clients do: signed single and batch submissions, each
retried with the same message ids until the hub answers, and their own record of every
receipt they were given.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from schemas import examples
from tests.support import PartnerKeys, signed_request

#: A run of submissions: this many singles, then a batch of this size, and again.
BATCH_SIZE = 100
SINGLES_BETWEEN_BATCHES = 5


def status_line(sender: str, recipients: Sequence[str], tag: str) -> dict[str, Any]:
    """A 整改状态 line opening a ledger item of its own (released at once, no review)."""
    item = f"FAULT-{tag}-{uuid.uuid4().hex[:12]}"
    envelope = examples.rectification_example(sender=sender, recipients=list(recipients))
    envelope["payload"]["ledger_item_id"] = envelope["subject"] = item
    return envelope


def chunks(envelopes: Sequence[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The envelopes as requests: five singles, then a batch of a hundred, and again."""
    out: list[list[dict[str, Any]]] = []
    position = 0
    while position < len(envelopes):
        for _ in range(SINGLES_BETWEEN_BATCHES):
            if position < len(envelopes):
                out.append([envelopes[position]])
                position += 1
        out.append(list(envelopes[position : position + BATCH_SIZE]))
        position += BATCH_SIZE
    return [chunk for chunk in out if chunk]


@dataclass
class ClientRecord:
    """What one client was told: each message's log index, and what went wrong on the way."""

    receipts: dict[str, int] = field(default_factory=dict)
    # Ids answered more than once (a retry of a stored message): every answer the same index.
    answered_again: int = 0
    disagreements: list[str] = field(default_factory=list)
    failed_attempts: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)

    def receipt(self, message_id: str, answer: dict[str, Any]) -> None:
        """Keep a receipt; a second one for the same id must name the same log index."""
        index = int(answer["log_index"])
        known = self.receipts.get(message_id)
        if known is None:
            self.receipts[message_id] = index
        else:
            self.answered_again += 1
            if known != index:
                self.disagreements.append(f"{message_id}: {known} then {index}")


class Client(threading.Thread):
    """Submits its envelopes as ``chunks``, retrying each request (same ids) until answered."""

    def __init__(
        self,
        url: Callable[[], str],
        sender: PartnerKeys,
        envelopes: Sequence[dict[str, Any]],
        *,
        deadline: float,
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.sender, self.deadline = url, sender, deadline
        self.chunks = chunks(envelopes)
        self.record = ClientRecord()
        self.done = 0

    def run(self) -> None:
        for chunk in self.chunks:
            while not self._submit(chunk):
                if time.monotonic() > self.deadline:
                    return
                self.record.failed_attempts += 1
                time.sleep(0.1)
            self.done += len(chunk)

    def _submit(self, chunk: list[dict[str, Any]]) -> bool:
        """One attempt at one request; whether every message in it is answered."""
        single = len(chunk) == 1
        document: Any = (
            self.sender.sign(chunk[0])
            if single
            else {"messages": [self.sender.sign(e) for e in chunk]}
        )
        path = "/v1/messages" if single else "/v1/messages:batch"
        try:
            response = signed_request(
                self.url(), self.sender, "POST", path, body=json.dumps(document).encode()
            )
        except requests.RequestException:
            return False
        statuses = self.record.statuses
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            return False
        if response.status_code >= 400:
            self.record.refusals.append(response.text[:300])
            return True
        if single:
            self.record.receipt(chunk[0]["id"], response.json())
            return True
        answered = True
        for envelope, result in zip(chunk, response.json()["results"], strict=True):
            if "error" in result:
                if int(result["error"].get("status", 422)) < 500:
                    self.record.refusals.append(json.dumps(result["error"])[:300])
                else:
                    answered = False
            else:
                self.record.receipt(envelope["id"], result)
        return answered


def merged(clients: Sequence[Client]) -> dict[str, int]:
    """Every receipt any client was given: message id → log index."""
    receipts: dict[str, int] = {}
    for client in clients:
        receipts.update(client.record.receipts)
    return receipts
