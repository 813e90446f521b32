"""The agent taking pushes on its own endpoint: a real `exchange worker` posts to a real agent
process, which checks both signatures, proves the message, writes it natively and acks it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from exchange.admin.webhooks import set_webhook
from exchange.hub import Hub
from exchange.store.models import Delivery
from keys import save_signing_key
from schemas import examples
from tests.exchange.test_cli import Cli, cli_env
from tests.support import PartnerKeys

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_pushed_message_is_verified_written_and_acked_by_the_agent(
    base_url: str,
    hub: Hub,
    partners: dict[str, PartnerKeys],
    hub_home: Path,
    database_url: str,
    tmp_path: Path,
) -> None:
    discipline = partners["discipline"]
    save_signing_key(tmp_path / "discipline.pem", discipline.key)
    listen = f"127.0.0.1:{free_port()}"
    (tmp_path / "agent.toml").write_text(
        f'hub_url = "{base_url}"\nkid = "{discipline.kid}"\nkey_file = "discipline.pem"\n'
        'adapter = "discipline"\nfolder = "agent"\npoll_seconds = 3600\n'  # pushes only
        f'[webhook]\nlisten = "{listen}"\nsecret_env = "AGENT_WEBHOOK_SECRET"\n'
        '[partners]\naudit = "audit.yanliang"\n',
        encoding="utf-8",
    )
    with hub.sessions.begin() as session:
        secret = set_webhook(
            session,
            discipline.partner_id,
            f"http://{listen}/",
            trust=hub.trust,
            actor="test",
            now=hub.now(),
            allow_internal=True,  # the agent listens on this machine
        )
    with (tmp_path / "agent.log").open("ab") as log:
        agent = subprocess.Popen(
            [sys.executable, "-m", "adapters.agent", "--config", str(tmp_path / "agent.toml")],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), "AGENT_WEBHOOK_SECRET": secret},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 30
        while "taking pushes" not in (tmp_path / "agent.log").read_text(encoding="utf-8"):
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.1)
        # A forged push is refused and leaves nothing behind.
        forged = requests.post(
            f"http://{listen}/",
            data=b'{"envelope": {}, "signature": "", "receipt": ""}',
            headers={
                "webhook-id": "forged-message-0001",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,AAAA v1a,AAAA",
            },
            timeout=10,
        )
        assert forged.status_code == 400

        sent = (
            partners["audit"]
            .client(base_url)
            .send(examples.rectification_example(recipients=[discipline.partner_id]))
        )
        Cli(cli_env(hub_home, database_url)).ok("worker", "--once")

        inbox = tmp_path / "agent" / "inbox"
        deadline = time.monotonic() + 30
        while not list(inbox.glob("*.json")):
            assert time.monotonic() < deadline, (tmp_path / "agent.log").read_text()
            time.sleep(0.1)
        native = json.loads(next(inbox.glob("*.json")).read_text(encoding="utf-8"))
        assert sent.id in json.dumps(native, ensure_ascii=False)
        assert "pushed" in (tmp_path / "agent.log").read_text(encoding="utf-8")
        with hub.sessions() as session:
            delivery = session.get(Delivery, (sent.id, discipline.partner_id))
            assert delivery is not None
            assert delivery.acked_at is not None  # the agent acked before answering 204
            assert (delivery.push_state, delivery.attempts) == ("pushed", 1)
    finally:
        agent.terminate()
        agent.wait(timeout=30)
