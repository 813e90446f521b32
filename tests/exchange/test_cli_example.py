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
from tests.forked_cli import run_cli

EXCHANGE = str(Path(sys.executable).parent / "exchange")


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``exchange`` with an empty home and no database of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    return run_cli(
        "exchange", args, {**env, "EXCHANGE_HOME": str(home), "PYTHONIOENCODING": "utf-8"}
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


def test_id_gives_the_message_an_id_of_ones_choosing(tmp_path: Path) -> None:
    done = run(tmp_path, "example", "clue.referral.v1", "--id", "yanliang-referral-0001")
    assert done.returncode == 0, done.stderr
    assert validate_envelope(parse_json(done.stdout)).id == "yanliang-referral-0001"
    done = run(tmp_path, "example", "clue.referral.v1", "--id", "short")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: --id: not a message id: 'short' (16 to 64 of A-Z a-z 0-9 - _)"
    ]


def test_send_finds_the_key_keygen_wrote_or_says_where_it_looked(tmp_path: Path) -> None:
    partner = Path(sys.executable).parent / "exchange-partner"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EXCHANGE_")}
    env["EXCHANGE_PARTNER_HOME"] = str(tmp_path / "partner")
    envelope = tmp_path / "referral.json"
    envelope.write_text(run(tmp_path, "example", "clue.referral.v1").stdout, encoding="utf-8")

    command = [str(partner), "send", "--as", "audit.yanliang#k1", "--url", "http://127.0.0.1:9"]

    def send() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, "--", str(envelope)],
            env=env,
            capture_output=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )

    missing = send()
    expected = tmp_path / "partner" / "keys" / "audit.yanliang_k1.pem"
    assert missing.returncode == 2
    assert missing.stderr.strip().splitlines() == [
        f"Error: no key for audit.yanliang#k1 at {expected}: "
        "give it with --key, or run keygen first"
    ]
    subprocess.run(
        [str(partner), "keygen", "--kid", "audit.yanliang#k1"], env=env, check=True, timeout=60
    )
    found = send()  # the key loads; the hub at port 9 is not there
    assert found.returncode == 1
    assert "cannot reach the hub at http://127.0.0.1:9" in found.stderr
