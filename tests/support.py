"""Helpers shared by the tests: partner registration and raw signed requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import func, select, update

from adapters import ExchangeClient
from exchange.admin.accounts import scripted_reviewer
from exchange.admin.partners import add_partner
from exchange.hub import Hub
from exchange.store.models import LogEntry, Message, PartnerKey
from exchange.transport.review import decide
from keys import HttpRequest, SigningKey, httpsig, jws
from keys.merkle import CompactTree, leaf_hash
from schemas import canonical_bytes

NAMES = {
    "audit.yanliang": "燕良区审计局",
    "discipline.yanliang": "燕良区纪委监委",
    "inspection.yanliang": "燕良区委巡察办",
    "personnel.yanliang": "燕良区委组织部",
}


@dataclass
class PartnerKeys:
    """A registered partner's id, kid and private key."""

    partner_id: str
    kid: str
    key: SigningKey

    def client(self, base_url: str, clock: Callable[[], datetime] | None = None) -> ExchangeClient:
        """A real client speaking as this partner (on the hub's clock when tests move it)."""
        return ExchangeClient(base_url, self.kid, self.key, clock=clock)

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """A submission body signed by this partner."""
        signature = jws.sign_detached(
            canonical_bytes(envelope), self.key, kid=self.kid, typ="exchange-message+jws"
        )
        return {"envelope": envelope, "signature": signature}


def register(
    the_hub: Hub, partner_id: str, *, kid: str | None = None, key: SigningKey | None = None
) -> PartnerKeys:
    """Register a partner with one key straight in the store (the CLI has its own test)."""
    key = key or SigningKey.generate()
    kid = kid or f"{partner_id}#1"
    now = the_hub.now() - timedelta(minutes=5)
    with the_hub.sessions.begin() as session:
        add_partner(
            session,
            partner_id,
            name=NAMES.get(partner_id, partner_id),
            kid=kid,
            public_key=key.public_key,
            actor="test",
            now=now,
        )
    return PartnerKeys(partner_id, kid, key)


def signed_request(
    base_url: str,
    who: PartnerKeys,
    method: str,
    path: str,
    *,
    body: bytes = b"",
    created: int | None = None,
    extra_headers: dict[str, str] | None = None,
    key: SigningKey | None = None,
    kid: str | None = None,
) -> requests.Response:
    """Send a raw request signed (RFC 9421) as ``who``; the knobs let tests break it."""
    url = base_url + path
    headers = {"Content-Type": "application/json"} if body else {}
    headers.update(
        httpsig.sign_request(
            HttpRequest(method=method, url=url, headers=headers, body=body),
            key or who.key,
            kid=kid or who.kid,
            created=created,
        )
    )
    headers.update(extra_headers or {})
    return requests.request(method, url, data=body or None, headers=headers, timeout=30)


def post_json(base_url: str, who: PartnerKeys, path: str, document: Any) -> requests.Response:
    """POST a JSON document, signed as ``who``."""
    return signed_request(
        base_url, who, "POST", path, body=json.dumps(document, ensure_ascii=False).encode()
    )


def message_count(the_hub: Hub) -> int:
    """How many message rows the store holds."""
    with the_hub.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Message)) or 0)


def problem_code(response: requests.Response) -> str:
    """The problem code of an error response (checking the media type)."""
    assert response.headers["Content-Type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).removeprefix("urn:exchange:error:")


# The identity point (RFC 8032 §5.1.3 encoding of y = 1): a key of small order.
IDENTITY_KEY = bytes([1]) + bytes(31)


def store_small_order_key(the_hub: Hub, kid: str) -> None:
    """Tamper as a database administrator would: replace partner key ``kid`` by the identity
    point, a key the hub never registers.
    """
    with the_hub.engine.begin() as connection:
        changed = connection.execute(
            update(PartnerKey).where(PartnerKey.kid == kid).values(public_key=IDENTITY_KEY)
        )
        assert changed.rowcount == 1


def rewrite_entry(the_hub: Hub, index: int, old: bytes, new: bytes) -> None:
    """Tamper as a database administrator would: change entry ``index`` and recompute every
    stored leaf and interior hash, so that only checkpoints and receipts can tell.
    """
    with the_hub.engine.begin() as connection:
        rows = connection.execute(
            select(LogEntry.index, LogEntry.entry).order_by(LogEntry.index)
        ).all()
        tree = CompactTree()
        for i, entry in rows:
            entry = bytes(entry).replace(old, new) if i == index else bytes(entry)
            leaf = leaf_hash(entry)
            connection.execute(
                update(LogEntry)
                .where(LogEntry.index == i)
                .values(entry=entry, leaf_hash=leaf, nodes=b"".join(tree.append(leaf)))
            )


def review(hub: Hub, message_id: str, reviewer: str, *, reason: str | None = None) -> str:
    """One reviewer account (made when missing) approves (no reason) or rejects (with one);
    return the message's status.
    """
    with hub.sessions.begin() as session:
        return decide(
            session,
            message_id,
            reviewer=scripted_reviewer(session, reviewer, now=hub.now()),
            approve=reason is None,
            reason=reason,
            now=hub.now(),
            trust=hub.trust,
        ).status
