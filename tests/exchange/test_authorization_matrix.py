"""Who may do what, endpoint by endpoint: every partner route against every kind of caller.

The callers: the sender of a released referral and of a ledger line, their recipient, another
partner of each body (a second audit and a second discipline partner beside inspection and
personnel), the recipient signing with a revoked key, a suspended partner that was a
recipient of the ledger line, and a caller with no signature. Each cell is the exact status
and, for lists and exports, whether the caller's answer shows the message — nobody reads,
acks, proves or exports what is not theirs. A last test checks that no partner route is left
out of the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from sqlalchemy import select

from exchange.admin.partners import add_key, revoke_key, set_partner_status
from exchange.app import create_app
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Delivery
from keys import SigningKey, jws
from schemas import canonical_bytes, envelope_sha256, examples
from tests.support import PartnerKeys, register, review, signed_request

SENDER, RECIPIENT = "sender", "recipient"
OTHERS = ("audit.other", "discipline.other", "inspection", "personnel")
REVOKED, SUSPENDED, ANONYMOUS = "revoked key", "suspended", "no signature"
ACTORS = (SENDER, RECIPIENT, *OTHERS, REVOKED, SUSPENDED, ANONYMOUS)
REFUSED = {REVOKED: 401, SUSPENDED: 401, ANONYMOUS: 401}


@dataclass
class World:
    """The hub with its callers, a released referral and a ledger line."""

    base_url: str
    hub: Hub
    callers: dict[str, PartnerKeys]
    referral: dict[str, Any]
    referral_index: int
    line: dict[str, Any]
    tree_size: int

    def send(self, actor: str, method: str, path: str, body: Any = None) -> requests.Response:
        """The request as ``actor`` would send it (unsigned for no signature)."""
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        if actor == ANONYMOUS:
            headers = {"Content-Type": "application/json"} if data else {}
            return requests.request(
                method, self.base_url + path, data=data or None, headers=headers, timeout=30
            )
        return signed_request(self.base_url, self.callers[actor], method, path, body=data)


@pytest.fixture
def world(base_url: str, hub: Hub, partners: dict[str, PartnerKeys]) -> World:
    """Register the callers, send and release the messages, revoke and suspend."""
    audit, discipline = partners["audit"], partners["discipline"]
    callers = {
        SENDER: audit,
        RECIPIENT: discipline,
        "audit.other": register(hub, "audit.other"),
        "discipline.other": register(hub, "discipline.other"),
        "inspection": partners["inspection"],
        "personnel": partners["personnel"],
    }
    suspended = register(hub, "inspection.suspended")
    old = SigningKey.generate()
    now = hub.now()
    with hub.sessions.begin() as session:
        add_key(
            session,
            discipline.partner_id,
            kid=f"{discipline.partner_id}#old",
            public_key=old.public_key,
            not_before=now - timedelta(minutes=5),
            not_after=None,
            actor="test",
            now=now,
        )
    callers[REVOKED] = PartnerKeys(discipline.partner_id, f"{discipline.partner_id}#old", old)
    callers[SUSPENDED] = suspended

    client = audit.client(base_url)
    referral = examples.referral_example()
    sent = client.send(referral)
    review(hub, sent.id, "zhang.reviewer")
    review(hub, sent.id, "li.reviewer")
    line = examples.rectification_example(recipients=[discipline.partner_id, suspended.partner_id])
    client.send(line)
    with hub.sessions.begin() as session:
        revoke_key(session, f"{discipline.partner_id}#old", actor="test", now=hub.now())
        set_partner_status(session, suspended.partner_id, "suspended", actor="test", now=hub.now())
    checkpoint = signed_request(base_url, audit, "GET", "/v1/log/checkpoint").json()
    return World(base_url, hub, callers, referral, sent.log_index, line, checkpoint["tree_size"])


def status(response: requests.Response) -> int:
    """The status alone."""
    return response.status_code


def shows(text: str) -> Callable[[requests.Response], Any]:
    """The status, and whether the answer's body contains ``text``."""

    def observe(response: requests.Response) -> Any:
        if response.status_code != 200:
            return response.status_code
        return (200, text in response.content.decode("utf-8-sig"))

    return observe


def owners(code: int, denied: int = 404) -> dict[str, Any]:
    """``code`` for the sender and the recipient, ``denied`` for other partners."""
    return {SENDER: code, RECIPIENT: code, **dict.fromkeys(OTHERS, denied), **REFUSED}


def everyone(code: Any) -> dict[str, Any]:
    """``code`` for every signed partner."""
    return {SENDER: code, RECIPIENT: code, **dict.fromkeys(OTHERS, code), **REFUSED}


def listed() -> dict[str, Any]:
    """A list: the sender's and the recipient's show the message, the others' do not."""
    return {
        SENDER: (200, True),
        RECIPIENT: (200, True),
        **dict.fromkeys(OTHERS, (200, False)),
        **REFUSED,
    }


def ack_body(world: World, actor: str) -> dict[str, Any]:
    """An ack of the referral signed by ``actor``'s own key."""
    who = world.callers.get(actor, world.callers[SENDER])
    claims = {
        "id": world.referral["id"],
        "envelope_sha256": envelope_sha256(world.referral),
        "acked_at": world.hub.now().isoformat().replace("+00:00", "Z"),
    }
    token = jws.sign_compact(canonical_bytes(claims), who.key, kid=who.kid, typ="exchange-ack+jws")
    return {"acks": [{"id": world.referral["id"], "ack": token}]}


def acked(response: requests.Response) -> Any:
    """The status, and whether the one ack was taken."""
    if response.status_code != 200:
        return response.status_code
    return (200, "error" not in response.json()["results"][0])


@dataclass(frozen=True)
class Route:
    """One endpoint: how to call it, how to read the answer, and the expected row."""

    rule: str
    method: str
    call: Callable[[World, str], requests.Response]
    observe: Callable[[requests.Response], Any]
    expected: dict[str, Any]


def get(path: Callable[[World], str]) -> Callable[[World, str], requests.Response]:
    """A GET of ``path(world)``."""
    return lambda world, actor: world.send(actor, "GET", path(world))


def resubmission(world: World, actor: str) -> requests.Response:
    """The sender's signed referral again, brought by ``actor``."""
    return world.send(actor, "POST", "/v1/messages", world.callers[SENDER].sign(world.referral))


def batch_resubmission(world: World, actor: str) -> requests.Response:
    """The same, as a batch of one."""
    document = {"messages": [world.callers[SENDER].sign(world.referral)]}
    return world.send(actor, "POST", "/v1/messages:batch", document)


def batch_taken(response: requests.Response) -> Any:
    """The status, and whether the one item was taken."""
    if response.status_code != 200:
        return response.status_code
    result = response.json()["results"][0]
    return (200, result["error"]["status"] if "error" in result else "taken")


ROUTES = (
    Route("/v1/partners", "GET", get(lambda w: "/v1/partners"), status, everyone(200)),
    Route("/v1/log/checkpoint", "GET", get(lambda w: "/v1/log/checkpoint"), status, everyone(200)),
    Route(
        "/v1/log/proofs/consistency",
        "GET",
        get(lambda w: f"/v1/log/proofs/consistency?first=1&second={w.tree_size}"),
        status,
        everyone(200),
    ),
    Route(
        "/v1/log/proofs/inclusion",
        "GET",
        get(lambda w: f"/v1/log/proofs/inclusion?index={w.referral_index}&tree_size={w.tree_size}"),
        status,
        owners(200),
    ),
    Route(
        "/v1/log/entries/<string:index>",
        "GET",
        get(lambda w: f"/v1/log/entries/{w.referral_index}"),
        status,
        owners(200),
    ),
    Route(
        "/v1/messages/<message_id:message_id>",
        "GET",
        get(lambda w: f"/v1/messages/{w.referral['id']}"),
        status,
        owners(200),
    ),
    Route(
        "/v1/messages/<message_id:message_id>/evidence",
        "GET",
        get(lambda w: f"/v1/messages/{w.referral['id']}/evidence"),
        status,
        owners(200),
    ),
    Route(
        "/v1/inbox",
        "GET",
        get(lambda w: "/v1/inbox"),
        shows(examples.REFERRAL_ID),
        {**listed(), SENDER: (200, False)},  # the sender's inbox holds what it was sent
    ),
    Route(
        "/v1/inbox/acks",
        "POST",
        lambda w, actor: w.send(actor, "POST", "/v1/inbox/acks", ack_body(w, actor)),
        acked,
        {**everyone((200, False)), RECIPIENT: (200, True), **REFUSED},
    ),
    Route(
        "/v1/messages",
        "POST",
        resubmission,
        status,
        {**everyone(422), SENDER: 200, **REFUSED},  # 200: the identical message again
    ),
    Route(
        "/v1/messages:batch",
        "POST",
        batch_resubmission,
        batch_taken,
        {**everyone((200, 422)), SENDER: (200, "taken"), **REFUSED},
    ),
    Route(
        "/v1/referrals",
        "GET",
        get(lambda w: "/v1/referrals"),
        shows(examples.REFERRAL_ID),
        listed(),
    ),
    Route(
        "/v1/referrals/<business_key:referral_id>",
        "GET",
        get(lambda w: f"/v1/referrals/{examples.REFERRAL_ID}"),
        status,
        owners(200),
    ),
    Route(
        "/v1/ledger",
        "GET",
        get(lambda w: "/v1/ledger"),
        shows(examples.LEDGER_ITEM_ID),
        listed(),
    ),
    Route(
        "/v1/ledger/<business_key:ledger_item_id>",
        "GET",
        get(lambda w: f"/v1/ledger/{examples.LEDGER_ITEM_ID}"),
        status,
        owners(200),
    ),
    Route(
        "/v1/reports/ledger.csv",
        "GET",
        get(lambda w: "/v1/reports/ledger.csv"),
        shows(examples.LEDGER_ITEM_ID),
        listed(),
    ),
    Route(
        "/v1/reports/ledger.xlsx",
        "GET",
        get(lambda w: "/v1/reports/ledger.xlsx"),
        status,
        everyone(200),
    ),
    Route(
        "/v1/reports/referrals.csv",
        "GET",
        get(lambda w: "/v1/reports/referrals.csv"),
        shows(examples.REFERRAL_ID),
        listed(),
    ),
    Route(
        "/v1/reports/referrals.xlsx",
        "GET",
        get(lambda w: "/v1/reports/referrals.xlsx"),
        status,
        everyone(200),
    ),
    Route("/v1/stats", "GET", get(lambda w: "/v1/stats"), status, everyone(200)),
    # No result is shared in this world: the list answers everyone, the item no one (the
    # share endpoints' own test, test_figures_api.py, shows who sees a shared result).
    Route("/v1/shares", "GET", get(lambda w: "/v1/shares"), status, everyone(200)),
    Route(
        "/v1/shares/<business_key:share_id>",
        "GET",
        get(lambda w: f"/v1/shares/{examples.SHARE_ID}"),
        status,
        everyone(404),
    ),
)

# Open to anyone: the key set and health (the hub's own), the API's description.
PUBLIC = {
    "/.well-known/jwks.json",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/openapi.json",
    "/v1/docs",
    "/v1/docs/static/<path:filename>",
    "/static/<path:filename>",
}


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.rule}")
def test_each_caller_gets_exactly_its_due(world: World, route: Route) -> None:
    observed = {actor: route.observe(route.call(world, actor)) for actor in ACTORS}
    assert observed == route.expected


def test_an_ack_by_another_partner_changes_nothing(world: World) -> None:
    for actor in (SENDER, *OTHERS):
        world.send(actor, "POST", "/v1/inbox/acks", ack_body(world, actor))
    with world.hub.readers() as session:
        states = set(
            session.scalars(
                select(Delivery.acked_at).where(Delivery.message_id == world.referral["id"])
            )
        )
    assert states == {None}


def test_the_exports_of_others_hold_no_row_of_the_messages(world: World) -> None:
    """The workbook of a partner that may not see the ledger line has no row of it."""
    for actor, expected in ((SENDER, True), ("inspection", False), ("discipline.other", False)):
        response = world.send(actor, "GET", "/v1/reports/ledger.xlsx")
        workbook = load_workbook(BytesIO(response.content), read_only=True)
        cells = {
            str(value)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
            for value in row
            if value is not None
        }
        assert (examples.LEDGER_ITEM_ID in cells) is expected, actor


def test_every_partner_route_is_in_the_table(tmp_path: Path) -> None:
    app = create_app(Config(home=tmp_path, database_url=f"sqlite:///{tmp_path}/unused.db"))
    app_rules = {
        (rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods or ()
        if method not in {"HEAD", "OPTIONS"}
        and rule.rule not in PUBLIC
        # The operators' console has its own matrix: tests/console/test_console_matrix.py.
        and not (rule.rule == "/" or rule.rule.startswith("/admin/"))
    }
    assert app_rules == {(route.rule, route.method) for route in ROUTES}
