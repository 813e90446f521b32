"""Agreements: which body may send which message type to which bodies, and how it is reviewed."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.errors import RouteNotAllowed
from schemas import MESSAGE_TYPES

BODIES = ("audit", "discipline", "inspection", "personnel", "authority")


@dataclass(frozen=True)
class Agreement:
    """``type`` from ``sender_body`` to ``recipient_bodies``; ``reviewers`` distinct approvals."""

    type: str
    sender_body: str
    recipient_bodies: frozenset[str]
    reviewers: int = 0
    # A reply goes only back to the sender of the message it answers (``in_reply_to``).
    reply_to: str | None = None


def _rule(
    type_: str, sender: str, recipients: list[str], reviewers: int = 0, reply_to: str | None = None
) -> Agreement:
    return Agreement(type_, sender, frozenset(recipients), reviewers, reply_to)


def _others(body: str) -> list[str]:
    return [b for b in BODIES if b != body]


# DOMAIN.md, "Agreements": the defaults when no file overrides them.
DEFAULT_AGREEMENTS: tuple[Agreement, ...] = (
    # Version 1: audit also refers to a competent authority and, for cadre matters, personnel.
    _rule("clue.referral.v1", "audit", ["discipline", "authority", "personnel"], 2),
    _rule("clue.referral.v1", "inspection", ["discipline", "personnel"], 2),
    _rule("clue.feedback.v1", "discipline", ["audit", "inspection"], reply_to="clue.referral.v1"),
    _rule("clue.feedback.v1", "personnel", ["audit", "inspection"], reply_to="clue.referral.v1"),
    _rule("clue.feedback.v1", "authority", ["audit"], reply_to="clue.referral.v1"),
    _rule("result.share.v1", "audit", ["discipline", "inspection", "personnel", "authority"], 1),
    _rule("result.share.v1", "inspection", ["audit", "discipline", "personnel", "authority"], 1),
    _rule("result.share.v1", "discipline", ["personnel"], 1),
    _rule("result.feedback.v1", "discipline", ["audit", "inspection"], reply_to="result.share.v1"),
    _rule("result.feedback.v1", "inspection", ["audit"], reply_to="result.share.v1"),
    _rule("result.feedback.v1", "audit", ["inspection"], reply_to="result.share.v1"),
    _rule(
        "result.feedback.v1",
        "personnel",
        ["audit", "inspection", "discipline"],
        reply_to="result.share.v1",
    ),
    _rule("result.feedback.v1", "authority", ["audit", "inspection"], reply_to="result.share.v1"),
    _rule("rectification.status.v1", "audit", _others("audit")),
    _rule("rectification.status.v1", "inspection", _others("inspection")),
)


class AgreementBook:
    """The agreements in force, looked up by (type, sender body)."""

    def __init__(self, agreements: tuple[Agreement, ...] | list[Agreement]) -> None:
        self._by_key = {(a.type, a.sender_body): a for a in agreements}
        self.agreements = tuple(agreements)

    def for_route(self, type_: str, sender_body: str, recipient_bodies: set[str]) -> Agreement:
        """The agreement covering this route, or ``route-not-allowed``."""
        agreement = self._by_key.get((type_, sender_body))
        if agreement is None:
            raise RouteNotAllowed(f"No agreement lets {sender_body} send {type_}.")
        refused = sorted(recipient_bodies - agreement.recipient_bodies)
        if refused:
            raise RouteNotAllowed(
                f"No agreement lets {sender_body} send {type_} to {', '.join(refused)}.",
            )
        return agreement

    @classmethod
    def load(cls, path: Path | None) -> AgreementBook:
        """The defaults, or the ``[[agreement]]`` tables of a TOML file when one is given."""
        if path is None:
            return cls(DEFAULT_AGREEMENTS)
        with path.open("rb") as handle:
            document: dict[str, Any] = tomllib.load(handle)
        rules: list[Agreement] = []
        for number, item in enumerate(document.get("agreement", []), start=1):
            problem = _agreement_problem(item)
            if problem:
                raise ValueError(f"{path}: agreement {number}: {problem}")
            rule = _rule(
                item["type"],
                item["from"],
                list(item["to"]),
                int(item.get("reviewers", 0)),
                item.get("reply_to"),
            )
            if any((r.type, r.sender_body) == (rule.type, rule.sender_body) for r in rules):
                raise ValueError(
                    f"{path}: agreement {number}: a second rule for "
                    f"{rule.type} from {rule.sender_body}"
                )
            rules.append(rule)
        return cls(rules)


def _agreement_problem(item: Any) -> str | None:
    """What is wrong with one ``[[agreement]]`` table, or None."""
    if not isinstance(item, dict):
        return "not a table"
    unknown = set(item) - {"type", "from", "to", "reviewers", "reply_to"}
    if unknown:
        return f"unknown keys {sorted(unknown)}"
    if item.get("type") not in MESSAGE_TYPES:
        return f"type must be one of {sorted(MESSAGE_TYPES)}"
    if item.get("from") not in BODIES:
        return f"from must be one of {list(BODIES)}"
    to = item.get("to")
    if not isinstance(to, list) or not to or not set(to) <= set(BODIES):
        return f"to must be a non-empty list of {list(BODIES)}"
    reviewers = item.get("reviewers", 0)
    if not isinstance(reviewers, int) or not 0 <= reviewers <= 5:
        return "reviewers must be a whole number from 0 to 5"
    if item.get("reply_to") not in (None, *MESSAGE_TYPES):
        return "reply_to must be a message type"
    return None
