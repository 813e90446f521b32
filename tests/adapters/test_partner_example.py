"""``exchange-partner example TYPE``: a valid envelope to start from, that ``send`` takes as is.

Run as the real console script; the last test walks a referral and its feedback through a real
hub with the printed files only.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import pytest

from adapters.cli import EXAMPLE_BUILDERS
from exchange.hub import Hub
from schemas import MESSAGE_ID_RE, MESSAGE_TYPES, parse_json, validate_envelope
from tests.adapters.test_partner_cli import key_file, partner_cli, send_as
from tests.support import register, review

AUDIT, DISCIPLINE, INSPECTION = "audit.yanliang", "discipline.yanliang", "inspection.yanliang"


def refused_in_one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``Error: …`` line of a usage refusal (exit 2, nothing on stdout)."""
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0].removeprefix("Error: ")


def printed(*args: str) -> dict[str, object]:
    """The envelope ``example`` prints, checked valid."""
    done = partner_cli("example", *args)
    assert done.returncode == 0, done.stderr
    envelope = parse_json(done.stdout)
    assert isinstance(envelope, dict)
    validate_envelope(envelope)
    return envelope


def test_there_is_a_builder_for_every_partner_type() -> None:
    assert list(EXAMPLE_BUILDERS) == list(MESSAGE_TYPES)


@pytest.mark.parametrize("message_type", list(MESSAGE_TYPES))
def test_the_printed_envelope_validates_with_a_fresh_id_and_sent_at(message_type: str) -> None:
    done = partner_cli("example", message_type)
    assert done.returncode == 0, done.stderr
    assert "\\u" not in done.stdout and re.search("[\u4e00-\u9fff]", done.stdout)
    envelope = validate_envelope(parse_json(done.stdout))
    assert envelope.type == message_type
    assert MESSAGE_ID_RE.match(envelope.id)
    assert abs(envelope.sent_at - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    assert printed(message_type)["id"] != envelope.id


def test_from_and_to_are_applied() -> None:
    envelope = printed("result.share.v1", "--from", INSPECTION, "--to", AUDIT, "--to", DISCIPLINE)
    assert envelope["from"] == INSPECTION
    assert envelope["to"] == [AUDIT, DISCIPLINE]
    reply = printed("clue.feedback.v1", "--in-reply-to", "a" * 24)
    assert reply["in_reply_to"] == "a" * 24


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--from", "hub"),
        ("--from", "Audit.yanliang"),
        ("--from", "treasury.yanliang"),
        ("--to", "discipline"),
        ("--to", "discipline.yanliang "),
        ("--in-reply-to", "short"),
    ],
)
def test_what_is_not_a_partner_or_message_id_is_refused_in_one_line(
    option: str, value: str
) -> None:
    line = refused_in_one_line(partner_cli("example", "rectification.status.v1", option, value))
    assert line.startswith(f"{option}: not a ")
    assert repr(value) in line


def test_an_envelope_that_would_not_validate_is_refused_in_one_line() -> None:
    line = refused_in_one_line(partner_cli("example", "clue.referral.v1", "--to", AUDIT))
    assert line == "the envelope would not be valid (to: Must not include the sender.)"


@pytest.mark.parametrize("message_type", ["clue.referral", "hub.notice.v1", ""])
def test_an_unknown_type_is_refused_in_one_line_listing_the_types(message_type: str) -> None:
    line = refused_in_one_line(partner_cli("example", message_type))
    assert line.startswith(f"unknown message type {message_type!r}; one of: ")
    assert line.endswith(", ".join(MESSAGE_TYPES))


def test_send_takes_the_printed_files_as_they_are(tmp_path: Path, hub: Hub, base_url: str) -> None:
    """The walk-through: a referral, two reviewers, the recipient pulls, then answers it."""
    audit, discipline = register(hub, AUDIT), register(hub, DISCIPLINE)
    audit_key, discipline_key = key_file(tmp_path, audit), key_file(tmp_path, discipline)

    referral = tmp_path / "referral.json"
    referral.write_text(partner_cli("example", "clue.referral.v1").stdout, encoding="utf-8")
    sent = send_as(audit, audit_key, base_url, referral)
    assert sent.returncode == 0, sent.stderr
    receipt = json.loads(sent.stdout)
    assert receipt["status"] == "pending_review"
    assert receipt["id"] == parse_json(referral.read_bytes())["id"]

    assert review(hub, receipt["id"], "reviewer-1") == "pending_review"
    assert review(hub, receipt["id"], "reviewer-2") == "released"
    pulled = partner_cli(
        "pull", "--as", discipline.kid, "--key", str(discipline_key), "--url", base_url
    )
    assert pulled.returncode == 0, pulled.stderr
    assert json.loads(pulled.stdout.splitlines()[0])["envelope"]["id"] == receipt["id"]

    feedback = tmp_path / "feedback.json"
    answer = partner_cli("example", "clue.feedback.v1", "--in-reply-to", receipt["id"])
    feedback.write_text(answer.stdout, encoding="utf-8")
    answered = send_as(discipline, discipline_key, base_url, feedback)
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["status"] == "released"
