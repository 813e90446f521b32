"""The console's users page, read side (issue 11): accounts added and disabled through
``exchange.admin.accounts`` are listed with role, body and status, and no password or hash.
"""

from __future__ import annotations

from dataclasses import asdict

import pytest

from exchange.admin.accounts import add_account, disable_account
from exchange.console.oversight.users import account_rows
from exchange.errors import ExchangeError
from exchange.hub import Hub

PASSWORD = "correct horse battery staple 42"


def add(hub: Hub, name: str, role: str, body: str | None) -> None:
    with hub.sessions.begin() as session:
        add_account(
            session, name, role=role, body=body, password=PASSWORD, actor="cli", now=hub.now()
        )


def test_accounts_are_listed_without_their_secrets(hub: Hub) -> None:
    add(hub, "王 管理", "admin", None)
    add(hub, "李观察", "observer", "audit")
    with hub.sessions.begin() as session:
        disable_account(session, "李观察", actor="cli", now=hub.now())
    with pytest.raises(ExchangeError):
        add(hub, "王  管理", "admin", None)  # the same name, as compared
    with hub.readers() as session:
        rows = account_rows(session)
    assert [(r.name, r.role, r.body, r.status) for r in rows] == [
        ("王 管理", "admin", None, "active"),
        ("李观察", "observer", "audit", "disabled"),
    ]
    shown = repr([asdict(r) for r in rows])
    assert PASSWORD not in shown and "argon2" not in shown
