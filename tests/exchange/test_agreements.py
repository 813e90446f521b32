"""Agreements: the DOMAIN.md defaults route by route, and a TOML file that replaces them."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from exchange.api.problems import problem_document
from exchange.config import Config
from exchange.errors import ExchangeError
from exchange.hub import Hub
from exchange.trust.agreements import BODIES, AgreementBook

DOMAIN_MD = Path("/work/shared/design/DOMAIN.md")
REFERRAL, CLUE_FEEDBACK = "clue.referral.v1", "clue.feedback.v1"
SHARE, RESULT_FEEDBACK = "result.share.v1", "result.feedback.v1"
RECTIFICATION = "rectification.status.v1"

# DOMAIN.md, "Agreements", one entry per row: type → {sender body: recipient bodies}, with the
# routes "Version 1 additions" adds (audit → authority and personnel; shares and ledger lines
# to authority).
ORIGINALS: dict[str, dict[str, set[str]]] = {
    REFERRAL: {
        "audit": {"discipline", "authority", "personnel"},
        "inspection": {"discipline", "personnel"},
    },
    SHARE: {
        "audit": {"discipline", "inspection", "personnel", "authority"},
        "inspection": {"audit", "discipline", "personnel", "authority"},
        "discipline": {"personnel"},
    },
    RECTIFICATION: {
        "audit": {"discipline", "inspection", "personnel", "authority"},
        "inspection": {"audit", "discipline", "personnel", "authority"},
    },
}


def _replies(original: str) -> dict[str, set[str]]:
    """Every reversed route of ``original``: its recipient back to its sender only."""
    routes: dict[str, set[str]] = {}
    for sender, recipients in ORIGINALS[original].items():
        for recipient in recipients:
            routes.setdefault(recipient, set()).add(sender)
    return routes


ROUTES: dict[str, dict[str, set[str]]] = {
    **ORIGINALS,
    CLUE_FEEDBACK: _replies(REFERRAL),
    RESULT_FEEDBACK: _replies(SHARE),
}
REVIEWERS = {REFERRAL: 2, CLUE_FEEDBACK: 0, SHARE: 1, RESULT_FEEDBACK: 0, RECTIFICATION: 0}
REPLY_TO = {CLUE_FEEDBACK: REFERRAL, RESULT_FEEDBACK: SHARE}
EVERY_ROUTE = [
    (type_, sender, recipient)
    for type_ in ROUTES
    for sender, recipient in itertools.product(BODIES, BODIES)
]


def _last_table_types(markdown: str) -> list[str]:
    """The first column of the last Markdown table: the message types of the agreements."""
    tables: list[list[str]] = []
    previous_was_row = False
    for line in markdown.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            tables.append([])
        if is_row:
            tables[-1].append(line)
        previous_was_row = is_row
    cells = [row.split("|")[1].strip() for row in tables[-1][2:]]
    return [cell for cell in cells if re.fullmatch(r"[a-z]+\.[a-z]+\.v\d+", cell)]


def test_this_table_covers_every_row_of_domain_md() -> None:
    """The expectations below mirror the last table of DOMAIN.md, row for row."""
    if not DOMAIN_MD.exists():
        pytest.skip("design documents not available")
    assert _last_table_types(DOMAIN_MD.read_text(encoding="utf-8")) == list(REVIEWERS)
    assert set(ROUTES) == set(REVIEWERS)


@pytest.fixture(scope="module")
def defaults() -> AgreementBook:
    """The agreements in force when no file is configured."""
    return AgreementBook.load(None)


@pytest.mark.parametrize(
    ("type_", "sender", "recipient"),
    EVERY_ROUTE,
    ids=[f"{t}:{s}->{r}" for t, s, r in EVERY_ROUTE],
)
def test_default_route(defaults: AgreementBook, type_: str, sender: str, recipient: str) -> None:
    """Each (type, sender, recipient) passes exactly when DOMAIN.md allows it."""
    if recipient in ROUTES[type_].get(sender, set()):
        agreement = defaults.for_route(type_, sender, {recipient})
        assert (agreement.type, agreement.sender_body) == (type_, sender)
        assert agreement.reviewers == REVIEWERS[type_]
        assert agreement.reply_to == REPLY_TO.get(type_)
    else:
        with pytest.raises(ExchangeError) as refused:
            defaults.for_route(type_, sender, {recipient})
        assert refused.value.code == "route-not-allowed"
        assert problem_document(refused.value)["status"] == 403
        assert sender in refused.value.detail


def test_personnel_may_not_refer_a_clue_to_audit(defaults: AgreementBook) -> None:
    """The named example: 组织部 sends no clue referral at all."""
    with pytest.raises(ExchangeError) as refused:
        defaults.for_route(REFERRAL, "personnel", {"audit"})
    assert refused.value.code == "route-not-allowed"
    assert refused.value.detail == "No agreement lets personnel send clue.referral.v1."


def test_one_refused_recipient_refuses_the_route_and_is_named(defaults: AgreementBook) -> None:
    """Audit → discipline is allowed, audit → discipline + inspection is not (names inspection)."""
    with pytest.raises(ExchangeError) as refused:
        defaults.for_route(REFERRAL, "audit", {"discipline", "inspection"})
    assert refused.value.code == "route-not-allowed"
    assert refused.value.detail.endswith("to inspection.")
    assert defaults.for_route(SHARE, "audit", {"discipline", "inspection", "personnel"})


@pytest.mark.parametrize("type_", ["hub.notice.v1", "clue.referral.v2", ""])
def test_types_without_an_agreement_are_refused(defaults: AgreementBook, type_: str) -> None:
    """hub.notice.v1 is the hub's own; unknown types have no route."""
    for sender in BODIES:
        with pytest.raises(ExchangeError) as refused:
            defaults.for_route(type_, sender, {"discipline"})
        assert refused.value.code == "route-not-allowed"


OVERRIDE = """
# 燕良区: referrals also go to 组织部, with three reviewers; only 组织部 gives result feedback.
[[agreement]]
type = "clue.referral.v1"
from = "audit"
to = ["discipline", "personnel"]
reviewers = 3

[[agreement]]
type = "result.feedback.v1"
from = "personnel"
to = ["audit"]
reply_to = "result.share.v1"
"""


def test_a_toml_file_replaces_the_defaults(tmp_path: Path) -> None:
    """The ``[[agreement]]`` tables are the whole book: what they do not list is refused."""
    path = tmp_path / "agreements.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    book = AgreementBook.load(path)

    referral = book.for_route(REFERRAL, "audit", {"discipline", "personnel"})
    assert (referral.reviewers, referral.reply_to) == (3, None)
    assert referral.recipient_bodies == frozenset({"discipline", "personnel"})
    feedback = book.for_route(RESULT_FEEDBACK, "personnel", {"audit"})
    assert (feedback.reviewers, feedback.reply_to) == (0, SHARE)
    assert len(book.agreements) == 2
    for type_, sender, recipient in [
        (REFERRAL, "inspection", "discipline"),
        (RESULT_FEEDBACK, "personnel", "inspection"),
        (RECTIFICATION, "audit", "discipline"),
        (SHARE, "audit", "personnel"),
    ]:
        with pytest.raises(ExchangeError) as refused:
            book.for_route(type_, sender, {recipient})
        assert refused.value.code == "route-not-allowed", (type_, sender, recipient)


def test_the_hub_loads_the_file_named_by_exchange_agreements(tmp_path: Path) -> None:
    """``EXCHANGE_AGREEMENTS`` points the hub at the file instead of the defaults."""
    path = tmp_path / "agreements.toml"
    path.write_text(OVERRIDE, encoding="utf-8")
    config = Config.from_env({"EXCHANGE_HOME": str(tmp_path), "EXCHANGE_AGREEMENTS": str(path)})
    assert config.agreements_path == path
    assert Hub(config).agreements.for_route(REFERRAL, "audit", {"personnel"}).reviewers == 3
    default_hub = Hub(Config.from_env({"EXCHANGE_HOME": str(tmp_path)}))
    assert default_hub.agreements.for_route(REFERRAL, "audit", {"personnel"}).reviewers == 2


BAD_AGREEMENTS = {
    "unknown sender body": 'type = "clue.referral.v1"\nfrom = "treasury"\nto = ["discipline"]',
    "unknown recipient body": 'type = "clue.referral.v1"\nfrom = "audit"\nto = ["treasury"]',
    "partner id, not a body": 'type = "clue.referral.v1"\nfrom = "audit.yanliang"\nto = []',
    "unknown key": 'type = "clue.referral.v1"\nfrom = "audit"\nto = ["discipline"]\nreviewer = 2',
    "recipients as a string": 'type = "clue.referral.v1"\nfrom = "audit"\nto = "discipline"',
}


@pytest.mark.parametrize("table", BAD_AGREEMENTS.values(), ids=list(BAD_AGREEMENTS))
def test_a_bad_agreement_is_a_value_error_naming_the_file(tmp_path: Path, table: str) -> None:
    """A malformed file stops the hub with the file's name, never runs with a guess."""
    path = tmp_path / "agreements.toml"
    path.write_text(f"[[agreement]]\n{table}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        AgreementBook.load(path)


def test_an_agreement_without_a_type_is_a_value_error(tmp_path: Path) -> None:
    """A table missing ``type`` is as bad as one with an unknown key."""
    path = tmp_path / "agreements.toml"
    path.write_text('[[agreement]]\nfrom = "audit"\nto = ["discipline"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(str(path))):
        AgreementBook.load(path)
