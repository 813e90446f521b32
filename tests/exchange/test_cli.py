"""The real ``exchange`` console script, run as a subprocess against the test database.

The CLI shares the ``hub`` fixture's database (emptied before each test). The partner's
commands (keygen, send, pull) are ``exchange-partner``'s: tests/adapters/test_partner_cli.py.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters import ExchangeClient, HubError
from exchange.hub import Hub
from exchange.store.models import LogEntry, Message, Partner, PartnerKey
from keys import SigningKey, save_signing_key
from keys.merkle import leaf_hash
from schemas import examples
from tests.forked_cli import run_cli
from tests.support import NAMES, PartnerKeys, message_count, register

EXCHANGE = str(Path(sys.executable).parent / "exchange")
AUDIT, DISCIPLINE, PERSONNEL = "audit.yanliang", "discipline.yanliang", "personnel.yanliang"
# Variables of the developer's shell that would change what the CLI does.
FOREIGN = ("EXCHANGE_AGREEMENTS", "EXCHANGE_KEY_PASSPHRASE", "EXCHANGE_URL", "EXCHANGE_LOG_ORIGIN")


@dataclass
class Cli:
    """Runs ``exchange`` with one EXCHANGE_HOME and EXCHANGE_DATABASE_URL."""

    env: dict[str, str]

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a command in a process of its own; return whatever happened."""
        return run_cli("exchange", args, self.env)

    def ok(self, *args: str) -> str:
        """Run a command that must succeed; return its standard output."""
        done = self.run(*args)
        assert done.returncode == 0, f"exchange {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    def refused(self, *args: str, code: int = 1) -> str:
        """Run a command that must fail cleanly: exit ``code``, no traceback; return stderr."""
        done = self.run(*args)
        assert done.returncode == code, f"exchange {' '.join(args)}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done.stderr


def cli_env(home: Path, database_url: str) -> dict[str, str]:
    """The environment of one CLI installation."""
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    env.update(
        EXCHANGE_HOME=str(home), EXCHANGE_DATABASE_URL=database_url, PYTHONIOENCODING="utf-8"
    )
    return env


def one_line_error(stderr: str) -> str:
    """The single ``Error: …`` line click prints for a refusal."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error: "), stderr
    return lines[0].removeprefix("Error: ")


@pytest.fixture(scope="module")
def cli_home(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An EXCHANGE_HOME made by ``exchange init`` once per backend (no command changes it)."""
    home = tmp_path_factory.mktemp("cli-home")
    Cli(cli_env(home, database_url)).ok("init")
    return home


@pytest.fixture
def cli(hub: Hub, cli_home: Path, database_url: str) -> Cli:
    """The CLI over the hub's database, emptied for this test."""
    return Cli(cli_env(cli_home, database_url))


def write_key_files(directory: Path, kid: str, key: SigningKey) -> tuple[Path, Path]:
    """Save a key as the CLI's keygen would: <stem>.pem (private) and <stem>.pub.pem."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = kid.replace("#", "_")
    private_path, public_path = directory / f"{stem}.pem", directory / f"{stem}.pub.pem"
    save_signing_key(private_path, key, None)
    public_path.write_bytes(key.public_key.to_pem())
    return private_path, public_path


def trust_counts(hub: Hub) -> tuple[int, int, int]:
    """(partners, partner keys, log entries) in the store."""
    with hub.sessions() as session:
        return (
            int(session.scalar(select(func.count()).select_from(Partner)) or 0),
            int(session.scalar(select(func.count()).select_from(PartnerKey)) or 0),
            int(session.scalar(select(func.count()).select_from(LogEntry)) or 0),
        )


def key_state(hub: Hub, kid: str) -> PartnerKey | None:
    """A partner key row as stored."""
    with hub.sessions() as session:
        return session.get(PartnerKey, kid)


def message_row(hub: Hub, message_id: str) -> Message:
    """A message row, with its deliveries and reviews loaded."""
    with hub.sessions() as session:
        message = session.get(Message, message_id)
        assert message is not None, message_id
        _ = message.deliveries, message.reviews
        return message


# -- init -----------------------------------------------------------------------------------


def test_init_twice_creates_nothing_new_and_keeps_the_keys(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    """The second ``init`` reports nothing created and leaves every key file byte for byte."""
    home = tmp_path / "home"
    cli = Cli(cli_env(home, database_url))
    first = cli.ok("init")
    created = sorted(line.rsplit("/", 1)[-1] for line in first.splitlines() if "created" in line)
    assert len(created) == 3 and created[0].startswith("hub-"), first
    assert created[1:] == ["pii-hmac.key", "sealing.json"]
    assert f"store ready at {database_url}" in first
    keys_dir = home / "keys"
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    before = {path.name: path.read_bytes() for path in keys_dir.iterdir()}
    assert sorted(before) == created

    second = cli.ok("init")

    assert "created" not in second
    assert f"store ready at {database_url}" in second
    assert {path.name: path.read_bytes() for path in keys_dir.iterdir()} == before


def test_init_makes_an_sqlite_store_the_hubs_alone(tmp_path: Path) -> None:
    """EXCHANGE_HOME 0700; the database and its WAL and shared-memory files 0600."""
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    env = cli_env(home, f"sqlite:///{home / 'exchange.db'}")
    Cli(env).ok("init")
    Cli(env).ok("partners", "list")  # opens the store: the WAL files exist now
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    store = sorted(home.glob("exchange.db*"))
    assert store[0].name == "exchange.db"
    for path in store:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# -- partners -------------------------------------------------------------------------------


def test_trust_changes_show_in_the_list_and_are_logged_densely(
    cli: Cli, hub: Hub, tmp_path: Path
) -> None:
    """Partners add, keys add, keys revoke: each shows in ``partners list`` and appends one
    log entry per change (indices 0..n-1, actor ``cli``).
    """
    _private, first = write_key_files(tmp_path, f"{AUDIT}#1", SigningKey.generate())
    _private, second = write_key_files(tmp_path, f"{AUDIT}#2026-11", SigningKey.generate())
    stdout = cli.ok(
        "partners", "add", AUDIT, "--name", NAMES[AUDIT], "--key", str(first),
        "--webhook", "https://audit.example/hook",
    )  # fmt: skip
    added, webhook, secret = stdout.splitlines()
    assert added == f"added {AUDIT} (审计机关) with key {AUDIT}#1"
    assert webhook == "webhook https://audit.example/hook"
    assert re.fullmatch(
        r"webhook secret \(shown once; give it to the partner\): whsec_\S{44}", secret
    )
    cli.ok("keys", "add", AUDIT, "--key", str(second), "--kid", f"{AUDIT}#2026-11")
    assert cli.ok("keys", "revoke", f"{AUDIT}#1") == f"revoked {AUDIT}#1\n"

    today = f"{hub.now():%Y-%m-%d}"
    assert cli.ok("partners", "list").splitlines() == [
        f"{AUDIT}\tactive\t{NAMES[AUDIT]}\twebhook=https://audit.example/hook",
        f"  {AUDIT}#1\trevoked\tfrom {today}",
        f"  {AUDIT}#2026-11\tactive\tfrom {today}",
    ]
    with hub.sessions() as session:
        entries = list(session.scalars(select(LogEntry).order_by(LogEntry.index)))
    assert [e.action for e in entries] == [
        "partner:added", "key:added", "partner:webhook-set", "key:added", "key:revoked"
    ]  # fmt: skip
    assert [e.index for e in entries] == list(range(len(entries)))
    assert {e.actor for e in entries} == {"cli"}
    documents = [json.loads(e.entry) for e in entries]
    assert [d["index"] for d in documents] == [e.index for e in entries]
    assert documents[0]["partner_id"] == AUDIT
    assert [d.get("kid") for d in documents[1:]] == [
        f"{AUDIT}#1", None, f"{AUDIT}#2026-11", f"{AUDIT}#1"
    ]  # fmt: skip
    # The webhook's URL is logged as a digest; its secret never.
    assert "https://audit.example" not in entries[2].entry.decode()
    assert documents[2]["partner_id"] == AUDIT and len(documents[2]["webhook_url_sha256"]) == 64
    assert all(e.leaf_hash == leaf_hash(e.entry) for e in entries)


PARTNER_REFUSALS = {
    "bad partner id": ("Audit.Yanliang", None, "Not a partner id: 'Audit.Yanliang'."),
    "kid of another partner": (AUDIT, f"{DISCIPLINE}#1", f"The kid must be {AUDIT}#<label>."),
    "duplicate partner": (PERSONNEL, None, f"Partner {PERSONNEL} exists."),
}


@pytest.mark.parametrize(
    ("partner_id", "kid", "message"), PARTNER_REFUSALS.values(), ids=list(PARTNER_REFUSALS)
)
def test_partners_add_refusals_add_nothing(
    cli: Cli, hub: Hub, tmp_path: Path, partner_id: str, kid: str | None, message: str
) -> None:
    """Each refusal is one line, exit 1, and leaves partners, keys and the log untouched."""
    register(hub, PERSONNEL)
    before = trust_counts(hub)
    _private, public = write_key_files(tmp_path, f"{partner_id}#new", SigningKey.generate())
    args = ["partners", "add", partner_id, "--name", "某单位", "--key", str(public)]

    stderr = cli.refused(*args, *(["--kid", kid] if kid else []))

    assert one_line_error(stderr) == message
    assert trust_counts(hub) == before


# -- keys -----------------------------------------------------------------------------------


def test_a_key_outside_its_window_is_refused_by_the_hub(
    cli: Cli, hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """``keys add --not-after`` in the past: the key is listed, and signing with it is refused."""
    kid, key = f"{AUDIT}#2024", SigningKey.generate()
    _private, public = write_key_files(tmp_path, kid, key)
    stdout = cli.ok(
        "keys", "add", AUDIT, "--key", str(public), "--kid", kid,
        "--not-before", "2024-01-01", "--not-after", "2024-12-31",
    )  # fmt: skip
    assert stdout == f"added key {kid}\n"
    assert f"  {kid}\tactive\tfrom 2024-01-01 until 2024-12-31" in cli.ok("partners", "list")

    with pytest.raises(HubError) as refused:
        ExchangeClient(base_url, kid, key).send(examples.rectification_example())

    assert (refused.value.status, refused.value.code) == (401, "key-not-valid")
    assert message_count(hub) == 0


KEY_REFUSALS = {
    "window ends before it starts": (
        AUDIT,
        f"{AUDIT}#2",
        ["--not-before", "2026-01-01", "--not-after", "2025-01-01"],
        "not_after must come after not_before.",
    ),
    "unknown partner": (
        "audit.nowhere",
        "audit.nowhere#1",
        [],
        "No partner audit.nowhere.",
    ),
    "existing kid": (AUDIT, f"{AUDIT}#1", [], f"Key {AUDIT}#1 exists."),
}


@pytest.mark.parametrize(
    ("partner_id", "kid", "window", "message"), KEY_REFUSALS.values(), ids=list(KEY_REFUSALS)
)
def test_keys_add_refusals_add_nothing(
    cli: Cli,
    hub: Hub,
    tmp_path: Path,
    partner_id: str,
    kid: str,
    window: list[str],
    message: str,
) -> None:
    """Each refusal is one line, exit 1, and adds neither a key nor a log entry."""
    register(hub, AUDIT)
    before = trust_counts(hub)
    _private, public = write_key_files(tmp_path, kid, SigningKey.generate())
    stderr = cli.refused("keys", "add", partner_id, "--key", str(public), "--kid", kid, *window)
    assert one_line_error(stderr) == message
    assert trust_counts(hub) == before


def test_keys_revoke_makes_the_hub_refuse_the_key(
    cli: Cli, hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    """Signed by a key that works, then revoked: refused ``key-not-valid``; revoking again fails."""
    kid, key = f"{AUDIT}#2026-11", SigningKey.generate()
    _private, public = write_key_files(tmp_path, kid, key)
    cli.ok("keys", "add", AUDIT, "--key", str(public), "--kid", kid)
    client = ExchangeClient(base_url, kid, key)
    assert client.send(examples.rectification_example()).status == "released"

    assert cli.ok("keys", "revoke", kid) == f"revoked {kid}\n"

    with pytest.raises(HubError) as refused:
        client.send(examples.rectification_example())
    assert (refused.value.status, refused.value.code) == (401, "key-not-valid")
    assert message_count(hub) == 1
    stored = key_state(hub, kid)
    assert stored is not None and stored.revoked_at is not None
    # The partner's other key is untouched.
    assert partners["audit"].client(base_url).send(examples.rectification_example()).created

    before = trust_counts(hub)
    assert one_line_error(cli.refused("keys", "revoke", kid)) == f"{kid} is already revoked."
    assert trust_counts(hub) == before
    again = key_state(hub, kid)
    assert again is not None and again.revoked_at == stored.revoked_at


# -- review ---------------------------------------------------------------------------------


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    """A password (made now) in a file, for ``--password-file``."""
    path = tmp_path / "password"
    path.write_text(secrets.token_urlsafe(18) + "\n", encoding="utf-8")
    return path


def reviewers(cli: Cli, password_file: Path, *names: str) -> None:
    """Add a reviewer account for each name, all with the file's password."""
    for name in names:
        cli.ok("users", "add", name, "--role", "reviewer", "--password-file", str(password_file))


def test_review_four_eyes_release_a_referral(
    cli: Cli, hub: Hub, base_url: str, partners: dict[str, PartnerKeys], password_file: Path
) -> None:
    """Two distinct reviewer accounts release a referral; the same account twice is refused,
    and so is the same name written with a space more.
    """
    referral = examples.referral_example()
    assert partners["audit"].client(base_url).send(referral).status == "pending_review"
    message_id = referral["id"]
    reviewers(cli, password_file, "张审核", "李复核")
    signed = ["--password-file", str(password_file)]

    assert cli.ok("review", "list").splitlines() == [
        f"{message_id}\tclue.referral.v1\t{AUDIT} → {DISCIPLINE}\t0/2 approvals"
    ]
    assert cli.ok("review", "approve", *signed, "--as", "张审核", "--", message_id) == (
        f"{message_id}: pending_review\n"
    )
    for again in ("张审核", "张审核 ", " 张审核"):
        stderr = cli.refused("review", "approve", *signed, "--as", again, "--", message_id, code=2)
        assert one_line_error(stderr) == "Account 1 has already reviewed this message."
    assert len(message_row(hub, message_id).reviews) == 1

    assert (
        cli.ok("review", "approve", *signed, "--as", "李复核", "--", message_id)
        == f"{message_id}: released\n"
    )

    released = message_row(hub, message_id)
    assert released.status == "released"
    assert {r.reviewer for r in released.reviews} == {"account:1", "account:2"}
    assert [d.state for d in released.deliveries] == ["queued"]
    inbox = partners["discipline"].client(base_url).inbox()
    assert [item.envelope["id"] for item in inbox.items] == [message_id]


def test_review_reject_needs_a_reason(
    cli: Cli, hub: Hub, base_url: str, partners: dict[str, PartnerKeys], password_file: Path
) -> None:
    """Click refuses a reject without --reason; with one the share is rejected for good."""
    share = examples.share_example()
    audit = partners["audit"].client(base_url)
    assert audit.send(share).status == "pending_review"
    message_id = share["id"]
    reviewers(cli, password_file, "王审核", "李复核")
    signed = ["--password-file", str(password_file)]

    usage = cli.refused("review", "reject", *signed, "--as", "王审核", "--", message_id, code=2)
    assert "Missing option '--reason'" in usage
    empty = one_line_error(
        cli.refused(
            "review", "reject", *signed, "--as", "王审核", "--reason", "", "--", message_id, code=2
        )
    )
    assert empty == "A rejection needs a reason."
    assert message_row(hub, message_id).reviews == []

    stdout = cli.ok(
        "review", "reject", *signed, "--as", "王审核", "--reason", "材料不全", "--", message_id
    )

    assert stdout == f"{message_id}: rejected\n"
    rejected = message_row(hub, message_id)
    assert rejected.status == "rejected"
    assert [(r.reviewer, r.decision, r.reason) for r in rejected.reviews] == [
        ("account:1", "rejected", "材料不全")
    ]
    assert [d.state for d in rejected.deliveries] == ["rejected"]
    assert audit.message(message_id)["status"] == "rejected"
    after = one_line_error(
        cli.refused("review", "approve", *signed, "--as", "李复核", "--", message_id, code=2)
    )
    assert after == "Message is rejected, not pending_review."
    assert partners["personnel"].client(base_url).inbox().items == []
