"""``exchange example TYPE``: the hub's CLI prints the same sample envelopes as the partner's,
with the same refusals, and needs no store.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from adapters.cli import example
from exchange.cli import main
from schemas import MESSAGE_TYPES, parse_json, validate_envelope

EXCHANGE = str(Path(sys.executable).parent / "exchange")


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``exchange`` with an empty home and no database of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    return subprocess.run(
        [EXCHANGE, *args],
        env={**env, "EXCHANGE_HOME": str(home), "PYTHONIOENCODING": "utf-8"},
        capture_output=True,
        encoding="utf-8",
        timeout=120,
        check=False,
    )


def test_the_hub_command_is_the_partner_command() -> None:
    assert main.commands["example"] is example


def test_it_prints_a_valid_envelope_and_touches_no_store(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = run(home, "example", "rectification.status.v1", "--to", "discipline.yanliang")
    assert done.returncode == 0, done.stderr
    envelope = validate_envelope(parse_json(done.stdout))
    assert envelope.recipients == ("discipline.yanliang",)
    assert not home.exists()


def test_it_refuses_in_one_line_with_exit_2(tmp_path: Path) -> None:
    done = run(tmp_path, "example", "nope")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Error: unknown message type 'nope'; one of: {', '.join(MESSAGE_TYPES)}"
    ]
    done = run(tmp_path, "example", "clue.referral.v1", "--from", "hub")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
