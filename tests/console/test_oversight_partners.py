"""The console's partners and agreements pages, read side (issue 11): the admin actions of
``exchange.admin`` (a key added then revoked, a webhook set, a partner suspended) show in the
partners' rows at once; a refused action changes nothing; the agreements listed are the ones
the hub routes by.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from exchange.admin.partners import add_key, revoke_key, set_partner_status
from exchange.console.oversight.agreements import agreement_rows
from exchange.console.oversight.partners import partner_rows
from exchange.errors import ExchangeError
from exchange.hub import Hub
from keys import SigningKey
from tests.exchange.test_delivery import webhook
from tests.support import PartnerKeys

AUDIT, DISCIPLINE = "audit.yanliang", "discipline.yanliang"


def test_admin_actions_show_in_the_partners_rows(
    hub: Hub, partners: dict[str, PartnerKeys]
) -> None:
    now = hub.now()
    with hub.sessions.begin() as session:
        add_key(
            session,
            AUDIT,
            kid=f"{AUDIT}#2",
            public_key=SigningKey.generate().public_key,
            not_before=now,
            not_after=now + timedelta(days=30),
            actor="console:wang.admin",
            now=now,
        )
    with hub.sessions.begin() as session:
        revoke_key(session, f"{AUDIT}#1", actor="console:wang.admin", now=now)
    with hub.sessions.begin() as session:
        set_partner_status(session, DISCIPLINE, "suspended", actor="console:wang.admin", now=now)
    secret = webhook(hub, DISCIPLINE, "http://127.0.0.1:9/hooks/exchange")
    assert secret  # shown once: the rows never carry it

    with hub.readers() as session:
        rows = {row.id: row for row in partner_rows(session, hub.now())}
    assert sorted(rows) == sorted(p.partner_id for p in partners.values())
    audit = rows[AUDIT]
    assert [(k.kid, k.usable, k.revoked_at is not None) for k in audit.keys] == [
        (f"{AUDIT}#1", False, True),
        (f"{AUDIT}#2", True, False),
    ]
    discipline = rows[DISCIPLINE]
    assert discipline.status == "suspended"
    assert discipline.webhook_url == "http://127.0.0.1:9/hooks/exchange"
    assert secret not in repr(discipline)
    assert rows["inspection.yanliang"].status == "active"

    # Refused as the admin package refuses it; the rows as they were.
    refusals: list[Callable[[Session], None]] = [
        lambda s: revoke_key(s, f"{AUDIT}#1", actor="console:x", now=hub.now()),
        lambda s: set_partner_status(s, DISCIPLINE, "suspended", actor="console:x", now=hub.now()),
        lambda s: set_partner_status(s, "nobody.here", "active", actor="console:x", now=hub.now()),
    ]
    for refused in refusals:
        with pytest.raises(ExchangeError), hub.sessions.begin() as session:
            refused(session)
    with hub.readers() as session:
        assert {row.id: row for row in partner_rows(session, hub.now())} == rows


def test_the_agreements_are_the_hubs(hub: Hub) -> None:
    rows = agreement_rows(hub.agreements)
    assert len(rows) == len(hub.agreements.agreements) > 0
    for row in rows:
        agreement = hub.agreements.for_route(row.type, row.sender_body, set(row.recipient_bodies))
        assert agreement.reviewers == row.reviewers and agreement.reply_to == row.reply_to
    referral = {(r.type, r.sender_body): r for r in rows}[("clue.referral.v1", "audit")]
    assert referral.reviewers == 2 and "discipline" in referral.recipient_bodies
