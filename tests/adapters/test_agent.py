"""The partner agent as real processes against a real hub: files in, messages out, nothing lost
or doubled when the agents are killed (SIGKILL) and restarted mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select

from exchange.hub import Hub
from exchange.models import Delivery
from keys import save_signing_key
from schemas import examples
from tests.support import PartnerKeys, message_count

Partners = dict[str, PartnerKeys]
ROOT = Path(__file__).resolve().parents[2]
ADAPTER = "tests.adapters.json_adapter:JsonAdapter"


def agent_config(tmp: Path, base_url: str, who: PartnerKeys, name: str) -> Path:
    key = tmp / f"{name}.pem"
    save_signing_key(key, who.key)
    config = tmp / f"{name}.toml"
    config.write_text(
        f'hub_url = "{base_url}"\nkid = "{who.kid}"\nkey_file = "{key.name}"\n'
        f'adapter = "{ADAPTER}"\nfolder = "{name}"\npoll_seconds = 0.2\nbatch_size = 50\n',
        encoding="utf-8",
    )
    return config


def start(config: Path) -> subprocess.Popen[bytes]:
    with config.with_suffix(".log").open("ab") as log:  # one line per file, kept across runs
        return subprocess.Popen(
            [sys.executable, "-m", "adapters.agent", "--config", str(config)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )


def wait_for(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def count(folder: Path, suffix: str = ".json") -> int:
    return sum(1 for p in folder.glob(f"*{suffix}") if not p.name.endswith(".receipts.json"))


def test_two_hundred_files_survive_two_kills_of_each_agent(
    base_url: str, hub: Hub, partners: Partners, tmp_path: Path
) -> None:
    sender = agent_config(tmp_path, base_url, partners["audit"], "audit")
    receiver = agent_config(tmp_path, base_url, partners["discipline"], "discipline")
    outbox = tmp_path / "audit" / "outbox"
    outbox.mkdir(parents=True)
    for n in range(200):
        line = examples.rectification_example(recipients=["discipline.yanliang"])
        item = f"AG-{uuid.uuid4().hex[:12]}"
        line["payload"]["ledger_item_id"] = line["subject"] = item
        del line["id"], line["sent_at"]  # the agent fixes them, once
        (outbox / f"台账-{n:03d}.json").write_text(json.dumps([line], ensure_ascii=False))

    sent, inbox = tmp_path / "audit" / "sent", tmp_path / "discipline" / "inbox"
    audit, discipline = start(sender), start(receiver)
    try:
        for threshold in (40, 120):  # kill each agent twice, mid-run, and start it again
            wait_for(lambda t=threshold: count(sent) >= t)
            audit.send_signal(signal.SIGKILL)
            audit.wait()
            audit = start(sender)
            wait_for(lambda t=threshold: count(inbox) >= t // 2)
            discipline.send_signal(signal.SIGKILL)
            discipline.wait()
            discipline = start(receiver)
        wait_for(lambda: count(sent) == 200 and not any(outbox.iterdir()))
        wait_for(lambda: count(inbox) == 200 and acked(hub) == 200)
    finally:
        for process in (audit, discipline):
            process.terminate()
            process.wait(timeout=30)

    assert sorted(p.name for p in sent.glob("*.json") if ".receipts" not in p.name) == sorted(
        f"台账-{n:03d}.json" for n in range(200)
    )
    assert not any((tmp_path / "audit" / "failed").iterdir())
    assert message_count(hub) == 200
    received = [json.loads(p.read_text()) for p in inbox.glob("*.json")]
    assert len({r["消息编号"] for r in received}) == 200
    assert all(r["类型"] == "rectification.status.v1" for r in received)


def acked(hub: Hub) -> int:
    with hub.sessions() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Delivery).where(Delivery.acked_at.is_not(None))
            )
            or 0
        )
