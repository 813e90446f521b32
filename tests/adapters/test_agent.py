"""The partner agent as real processes against a real hub: files in, messages out, nothing lost
or doubled when the agents are killed (SIGKILL) and restarted mid-run.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from exchange.hub import Hub
from exchange.store.models import Delivery
from keys import save_signing_key
from tests.support import PartnerKeys, message_count

Partners = dict[str, PartnerKeys]
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "adapters" / "samples" / "audit" / "整改台账.csv"
BODIES = {
    "discipline": "discipline.yanliang",
    "inspection": "inspection.yanliang",
    "personnel": "personnel.yanliang",
}


def agent_config(
    tmp: Path, base_url: str, who: PartnerKeys, name: str, adapter: str | None = None
) -> Path:
    key = tmp / f"{name}.pem"
    save_signing_key(key, who.key)
    config = tmp / f"{name}.toml"
    config.write_text(
        f'hub_url = "{base_url}"\nkid = "{who.kid}"\nkey_file = "{key.name}"\n'
        f'adapter = "{adapter or name}"\nfolder = "{name}"\npoll_seconds = 0.2\n'
        "batch_size = 50\n[partners]\n"
        + "".join(f'{body} = "{partner}"\n' for body, partner in BODIES.items()),
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


def count(folder: Path) -> int:
    """Native files in a folder (not the receipts beside them); 0 before the agent makes it."""
    if not folder.exists():
        return 0
    return sum(
        1 for p in folder.iterdir() if p.suffix in (".csv", ".json") and ".receipts" not in p.name
    )


@pytest.mark.faults  # SIGKILLs: in `make test-faults`
def test_two_hundred_files_survive_two_kills_of_each_agent(
    base_url: str, hub: Hub, partners: Partners, tmp_path: Path
) -> None:
    sender = agent_config(tmp_path, base_url, partners["audit"], "audit")
    receiver = agent_config(tmp_path, base_url, partners["discipline"], "discipline")
    outbox = tmp_path / "audit" / "outbox"
    outbox.mkdir(parents=True)
    # 200 exports of audit's 整改台账, one ledger line each (the sample's first row, renumbered).
    with SAMPLE.open(encoding="utf-8-sig", newline="") as sample:
        header, first = list(csv.reader(sample))[:2]
    for n in range(200):
        row = dict(zip(header, first, strict=True), 台账编号=f"YL-SJ-ZG-A{n:03d}")
        with (outbox / f"台账-{n:03d}.csv").open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerow([row[h] for h in header])

    sent, inbox = tmp_path / "audit" / "sent", tmp_path / "discipline" / "inbox"
    audit, discipline = start(sender), start(receiver)
    try:
        for threshold in (40, 120):  # kill each agent twice, mid-run, and start it again
            wait_for(lambda t=threshold: count(sent) >= t)  # type: ignore[misc]
            audit.send_signal(signal.SIGKILL)
            audit.wait()
            audit = start(sender)
            wait_for(lambda t=threshold: count(inbox) >= t // 2)  # type: ignore[misc]
            discipline.send_signal(signal.SIGKILL)
            discipline.wait()
            discipline = start(receiver)
        wait_for(lambda: count(sent) == 200 and not any(outbox.iterdir()))
        wait_for(lambda: count(inbox) == 200 and acked(hub) == 200)
    finally:
        for process in (audit, discipline):
            process.terminate()
            process.wait(timeout=30)

    assert sorted(p.name for p in sent.glob("*.csv")) == sorted(
        f"台账-{n:03d}.csv" for n in range(200)
    )
    assert not any((tmp_path / "audit" / "failed").iterdir())
    assert message_count(hub) == 200
    received = [json.loads(p.read_text()) for p in inbox.glob("*.json")]
    assert len({r["消息编号"] for r in received}) == 200


def acked(hub: Hub) -> int:
    with hub.sessions() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.acked_at.is_not(None), Delivery.recipient == "discipline.yanliang")
            )
            or 0
        )
