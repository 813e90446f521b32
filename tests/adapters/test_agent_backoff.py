"""While the hub is unreachable the agent waits longer each time (doubling, capped), and its
outbox stays as it was.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from pathlib import Path

import pytest

from adapters import ExchangeClient
from adapters.agent import Agent, AgentConfig, load_adapter
from keys import SigningKey


def test_the_agent_backs_off_while_the_hub_is_down(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    config = AgentConfig(
        hub_url=dead,
        kid="audit.yanliang#1",
        key_file=tmp_path / "unused.pem",
        adapter="audit",
        folder=tmp_path / "agent",
        poll_seconds=0.05,
        partners={"discipline": "discipline.yanliang"},
    )
    agent = Agent(
        config, ExchangeClient(dead, config.kid, SigningKey.generate()), load_adapter(config)
    )
    dropped = agent.folders["outbox"] / "整改台账.csv"
    sample = Path(__file__).resolve().parents[2] / "adapters" / "samples" / "audit" / "整改台账.csv"
    dropped.write_bytes(sample.read_bytes())
    stop = threading.Event()
    runner = threading.Thread(target=agent.run, args=(stop,))
    with caplog.at_level(logging.WARNING, logger="exchange.agent"):
        runner.start()
        time.sleep(3.5)  # waits of 1 s and 2 s, then the third try
        stop.set()
        runner.join(timeout=10)
    waits = [r.getMessage().rsplit("retrying in ", 1)[1] for r in caplog.records]
    assert waits[:2] == ["1 s", "2 s"]
    assert dropped.exists() and not any(agent.folders["sent"].iterdir())
