"""Fixtures for the hub's tests: a whole exchanged message, a hub served by gunicorn."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from exchange.hub import Hub
from schemas import examples
from tests.exchange.test_end_to_end import EXCHANGE, free_port, run
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


@pytest.fixture
def served_hub(tmp_path: Path, database_url: str, hub: Hub) -> Iterator[tuple[str, dict[str, str]]]:
    """`exchange init`, then `exchange serve` (gunicorn, 2 workers) on a free port."""
    env = dict(os.environ, EXCHANGE_HOME=str(tmp_path / "home"), EXCHANGE_DATABASE_URL=database_url)
    out = run(env, "init")
    assert "store ready" in out
    port = free_port()
    server = subprocess.Popen(
        [EXCHANGE, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if requests.get(url + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            raise AssertionError("the hub did not come up")
        yield url, env
    finally:
        server.terminate()
        output = server.communicate(timeout=30)[0]
        assert "serving with gunicorn (2 workers" in output
