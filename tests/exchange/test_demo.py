"""`exchange demo` end to end: a hub and four agents as real processes play the scripted round,
and the summary it prints is what the script did.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.exchange.test_end_to_end import free_port

EXCHANGE = str(Path(sys.executable).parent / "exchange")


def test_the_demo_plays_the_round_and_its_summary_matches_the_script(tmp_path: Path) -> None:
    # The demo leaves its store in a new temporary directory: this test's, not /tmp.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    port = free_port()
    done = subprocess.run(
        [EXCHANGE, "demo", "--port", str(port)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"hub: http://127.0.0.1:{port} " in done.stdout
    # Readers follow a message by its business key: shown beside its id.
    assert "YL-SJ-YJ-" in done.stdout.split("review: ", 1)[1].splitlines()[0]
    summary = {
        name.strip(): json.loads(value)
        for name, _, value in (
            line.partition(": ") for line in done.stdout.split("summary (", 1)[1].splitlines()[1:]
        )
    }
    assert summary["messages"] == {
        "clue.referral.v1": 3,  # two clues to discipline, one to a competent authority
        "clue.feedback.v1": 6,  # each: accepted, disposed (初步核实 / 调查核查), concluded
        "hub.notice.v1": 1,  # the rejection, to audit
        "result.share.v1": 2,  # the economic-responsibility result and the annual plan
        "result.feedback.v1": 1,
        "rectification.status.v1": 8,  # audit's 整改台账 and inspection's 巡察问题清单
    }
    assert summary["referral_states"] == {"concluded": 2, "rejected": 1}
    assert summary["plans"] == {"projects": 2, "joint_projects": 1}  # one 巡审联动 project
    assert "audit → authority: YL-SJ-YS-2026-001" in done.stdout
    assert summary["ledger_items"] == 8
    assert summary["overdue_items"] >= 1
    assert summary["log_verify"].startswith("ok")
    assert Path(summary["home"], "exchange.db").exists()  # left for the console
    assert Path(summary["home"]).parent == tmp_path
