"""The console's agreements page (read-only): the agreements in force, as the hub routes by
them (``exchange.trust.agreements``: the defaults of DOMAIN.md or the hub's TOML file).
"""

from __future__ import annotations

from dataclasses import dataclass

from exchange.trust.agreements import AgreementBook


@dataclass(frozen=True)
class AgreementRow:
    """Who may send a type to whom, with how many approvals first, and what it answers."""

    type: str
    sender_body: str
    recipient_bodies: list[str]
    reviewers: int
    reply_to: str | None


def agreement_rows(book: AgreementBook) -> list[AgreementRow]:
    """Every agreement in force, by type and sender body."""
    return [
        AgreementRow(a.type, a.sender_body, sorted(a.recipient_bodies), a.reviewers, a.reply_to)
        for a in sorted(book.agreements, key=lambda a: (a.type, a.sender_body))
    ]
