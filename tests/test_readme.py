"""The README's partner walk-through, run as written: its shell blocks in order, then its SDK
block, on a fresh hub served by ``exchange serve`` in a fresh folder, checking what each step
says it does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.exchange.test_end_to_end import free_port

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
SECTION = "## Connecting a partner: a walk-through"
# The README's own address for the hub (make run's): the test's hub listens elsewhere.
README_URL = "http://127.0.0.1:8080"
FENCE = re.compile(r"^```(\w+)\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def walkthrough_blocks() -> list[tuple[str, str]]:
    """The fenced blocks of the walk-through section, in order, as (language, text)."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SECTION)
    end = text.index("\n## ", start + len(SECTION))
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text[start:end])]


@pytest.fixture
def fresh_folder(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A folder standing for the repository's (``.venv`` linked in), its hub initialised in
    ``./var`` as ``make run`` does and served on a free port.
    """
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parents[1])
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("EXCHANGE_") or key == "EXCHANGE_TEST_DATABASE_URL"
    }
    port = free_port()
    env["EXCHANGE_URL"] = f"http://127.0.0.1:{port}"
    exchange = str(tmp_path / ".venv" / "bin" / "exchange")
    subprocess.run([exchange, "init"], cwd=tmp_path, env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [exchange, "serve", "--port", str(port), "--workers", "1"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(150):
            try:
                if requests.get(env["EXCHANGE_URL"] + "/readyz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            raise AssertionError("the hub did not come up")
        yield tmp_path, env
    finally:
        server.terminate()
        server.wait(timeout=30)


def _bash(script: str, folder: Path, env: dict[str, str]) -> str:
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"{script}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done.stdout + done.stderr


def test_the_walkthrough_section_is_where_the_test_looks() -> None:
    languages = [language for language, _ in walkthrough_blocks()]
    assert languages == ["sh"] * 6 + ["python"], languages


def test_the_readme_partner_walkthrough_runs_as_written(
    fresh_folder: tuple[Path, dict[str, str]],
) -> None:
    folder, env = fresh_folder
    blocks = walkthrough_blocks()
    shell = [text for language, text in blocks if language == "sh"]
    # Each block runs in a shell of its own, as a reader may open a new one; the first sets
    # the path and the partner home, which the later ones rely on.
    preamble = shell[0].split("exchange-partner keygen")[0]
    outputs = [_bash(shell[0], folder, env)] + [
        _bash(preamble + text, folder, env) for text in shell[1:]
    ]
    keygen, register, send, review, pull_and_answer, answer_and_verify = outputs

    keys = folder / "var" / "partners" / "keys"
    assert {path.name for path in keys.iterdir()} == {
        "audit.yanliang_2026-12.pem",
        "audit.yanliang_2026-12.pub.pem",
        "discipline.yanliang_2026-12.pem",
        "discipline.yanliang_2026-12.pub.pem",
    }
    assert "private key:" in keygen
    assert "added audit.yanliang" in register and "added discipline.yanliang" in register
    receipt = json.loads(send.strip().splitlines()[-1])
    assert receipt["id"] == "yanliang-referral-0001"
    assert receipt["status"] == "pending_review"
    assert any("yanliang-referral-0001" in line and "0/2" in line for line in review.splitlines())
    assert review.strip().endswith("yanliang-referral-0001: released")

    pulled = json.loads((folder / "inbox" / "yanliang-referral-0001.json").read_text())
    assert pulled["envelope"]["type"] == "clue.referral.v1"
    assert "1 message pulled and acked" in pull_and_answer
    assert '"id": "yanliang-feedback-0001", "status": "released"' in pull_and_answer

    answer = json.loads(answer_and_verify.splitlines()[0])
    assert answer["envelope"]["in_reply_to"] == "yanliang-referral-0001"
    assert "ok:" in answer_and_verify and "2 messages" in answer_and_verify

    (sdk,) = [text for language, text in blocks if language == "python"]
    done = subprocess.run(
        [sys.executable, "-c", sdk.replace(README_URL, env["EXCHANGE_URL"])],
        cwd=folder,
        env=dict(env, PYTHONPATH=str(REPO)),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    status, log_index = done.stdout.split()
    assert status == "pending_review" and int(log_index) > 0
