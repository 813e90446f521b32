"""Fixtures for the hub's tests that need a whole exchanged message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys, review, signed_request


@pytest.fixture
def evidence_bundle(
    base_url: str, hub: Hub, partners: dict[str, PartnerKeys], tmp_path: Path
) -> Path:
    """A referral approved by two reviewers, pulled and acked by discipline: its evidence bundle
    as the sender downloads it, saved to a file.
    """
    audit = partners["audit"].client(base_url)
    discipline = partners["discipline"].client(base_url)
    referral = examples.referral_example()
    sent = audit.send(referral)
    review(hub, sent.id, "zhang.reviewer")
    review(hub, sent.id, "li.reviewer")
    discipline.ack([item.envelope["id"] for item in discipline.inbox().items])
    response = signed_request(
        base_url, partners["audit"], "GET", f"/v1/messages/{sent.id}/evidence"
    )
    assert response.status_code == 200, response.text
    saved = tmp_path / "evidence.json"
    saved.write_text(json.dumps(response.json(), ensure_ascii=False, indent=2))
    return saved
