"""``exchange users`` and the review commands' sign-in, as the real console script: each
refusal one line, exit 2, and nothing changed.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from exchange.hub import Hub
from exchange.store.models import Account, LogEntry, Review
from schemas import examples
from tests.exchange.test_cli import Cli, cli_env, one_line_error
from tests.support import PartnerKeys


@pytest.fixture(scope="module")
def cli_home(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("users-home")
    Cli(cli_env(home, database_url)).ok("init")
    return home


@pytest.fixture
def cli(hub: Hub, cli_home: Path, database_url: str) -> Cli:
    return Cli(cli_env(cli_home, database_url))


def password_file(directory: Path, name: str, password: str | None = None) -> Path:
    path = directory / name
    text = secrets.token_urlsafe(18) if password is None else password
    path.write_text(text + "\n", encoding="utf-8")
    return path


def counts(hub: Hub) -> tuple[int, int, int]:
    """(accounts, reviews, log entries)."""
    with hub.sessions() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Account, Review, LogEntry)
        )


def test_users_add_list_disable_reset(cli: Cli, hub: Hub, tmp_path: Path) -> None:
    first = password_file(tmp_path, "first")
    assert cli.ok("users", "add", "张审核", "--role", "reviewer", "--body", "discipline",
                  "--password-file", str(first)) == "account 1: 张审核 (reviewer)\n"  # fmt: skip
    assert cli.ok("users", "add", "王管理", "--role", "admin", "--password-file", str(first)) == (
        "account 2: 王管理 (admin)\n"
    )
    listing = [line.split("\t")[:5] for line in cli.ok("users", "list").splitlines()]
    assert listing == [
        ["1", "张审核", "reviewer", "discipline", "active"],
        ["2", "王管理", "admin", "-", "active"],
    ]
    second = password_file(tmp_path, "second")
    assert cli.ok("users", "reset-password", "张审核 ", "--password-file", str(second)) == (
        "account 1: password reset\n"
    )
    assert cli.ok("users", "disable", "王管理") == "account 2: disabled\n"
    assert cli.ok("users", "list").splitlines()[1].split("\t")[4] == "disabled"
    with hub.sessions() as session:
        hashes = list(session.scalars(select(Account.password_hash)))
    assert all(h.startswith("$argon2id$") for h in hashes)


def test_users_refusals_are_one_line_exit_2_and_change_nothing(
    cli: Cli, hub: Hub, tmp_path: Path
) -> None:
    good = password_file(tmp_path, "good")
    cli.ok("users", "add", "张审核", "--role", "reviewer", "--password-file", str(good))
    before = counts(hub)
    refusals = {
        ("users", "add", "张审核 ", "--role", "observer", "--password-file", str(good)): (
            "An account named '张审核' exists."
        ),
        ("users", "add", "李复核", "--role", "reviewer", "--password-file",
         str(password_file(tmp_path, "short", "short"))): "A password has at least 10 characters.",
        ("users", "add", "李复核", "--role", "reviewer", "--password-file",
         str(password_file(tmp_path, "empty", ""))): "the first line holds no password.",
        ("users", "disable", "无此人"): "No account named '无此人'.",
        ("users", "reset-password", "无此人", "--password-file", str(good)): (
            "No account named '无此人'."
        ),
    }  # fmt: skip
    for args, says in refusals.items():
        assert one_line_error(cli.refused(*args, code=2)).endswith(says), args
    # No password at all and no terminal to type it on.
    done = cli.run("users", "add", "李复核", "--role", "reviewer")
    assert done.returncode == 2
    assert "No password" in done.stderr
    assert counts(hub) == before


def test_review_needs_a_reviewer_account_and_its_password(
    cli: Cli, hub: Hub, base_url: str, partners: dict[str, PartnerKeys], tmp_path: Path
) -> None:
    referral = examples.referral_example()
    assert partners["audit"].client(base_url).send(referral).status == "pending_review"
    good, wrong = password_file(tmp_path, "good"), password_file(tmp_path, "wrong")
    cli.ok("users", "add", "张审核", "--role", "reviewer", "--password-file", str(good))
    cli.ok("users", "add", "审计审核", "--role", "reviewer", "--body", "audit",
           "--password-file", str(good))  # fmt: skip
    cli.ok("users", "add", "观察员", "--role", "observer", "--password-file", str(good))
    message_id = referral["id"]
    refusals = {
        ("--as", "张审核", "--password-file", str(wrong)): "Wrong name or password.",
        ("--as", "无此人", "--password-file", str(good)): "Wrong name or password.",
        ("--as", "观察员", "--password-file", str(good)): "Account 3 is not a reviewer.",
        ("--as", "审计审核", "--password-file", str(good)): (
            "Account 2 works for audit, which sent this message: a reviewer may not decide on "
            "a message of their own body."
        ),
    }
    for args, says in refusals.items():
        with hub.sessions() as session:
            reviews = session.scalar(select(func.count()).select_from(Review))
        stderr = cli.refused("review", "approve", *args, "--", message_id, code=2)
        assert one_line_error(stderr) == says, args
        with hub.sessions() as session:
            assert session.scalar(select(func.count()).select_from(Review)) == reviews == 0
    with hub.sessions() as session:
        actions = list(session.scalars(select(LogEntry.action).order_by(LogEntry.index)))
    # Each sign-in is logged: the two failures, then the two that signed in but could not decide.
    assert [a for a in actions if a.startswith("account:login")] == [
        "account:login-failed",
        "account:login-failed",
        "account:login",
        "account:login",
    ]
    assert cli.ok("review", "approve", "--as", "张审核", "--password-file", str(good), "--",
                  message_id) == f"{message_id}: pending_review\n"  # fmt: skip
