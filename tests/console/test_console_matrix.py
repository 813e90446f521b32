"""Issue 14 item 3, the console half: every console route × {admin, reviewer, observer,
anonymous, disabled account}, each cell an exact status (and, for a redirect, where to). A route
added without its row fails the completeness check.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

from exchange.admin.accounts import disable_account
from exchange.app import create_app
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import LogEntry
from keys.protocol import LogAction
from tests.console.test_console_auth import add, sign_in, token

CALLERS = ("admin", "reviewer", "observer", "anonymous", "disabled")
SIGNED_IN = CALLERS[:3]
LOGIN = "/admin/login"

Cell = tuple[int, str | None]
"""The status, and for a redirect the start of its Location path."""


def _row(signed_in: Cell, signed_out: Cell) -> dict[str, Cell]:
    return {c: signed_in if c in SIGNED_IN else signed_out for c in CALLERS}


# route → caller → (status, Location prefix); POSTs carry a valid CSRF token of the caller's page.
MATRIX: dict[str, dict[str, Cell]] = {
    "GET /": _row((302, "/admin/"), (302, "/admin/")),
    "GET /admin/": _row((200, None), (302, f"{LOGIN}?next=")),
    "GET /admin/login": _row((200, None), (200, None)),
    "POST /admin/login": _row((401, None), (401, None)),  # a wrong password, whoever asks
    "POST /admin/logout": _row((302, LOGIN), (302, f"{LOGIN}?next=")),
    "POST /admin/language": _row((302, "/admin/"), (302, "/admin/")),  # anyone may choose
    "GET /admin/review/": _row((200, None), (302, f"{LOGIN}?next=")),
    # The matrix asks for the literal path: no such message.
    "GET /admin/review/<message_id>": _row((404, None), (302, f"{LOGIN}?next=")),
    "POST /admin/review/<message_id>/approve": {
        **_row((403, None), (302, f"{LOGIN}?next=")),
        "reviewer": (404, None),  # no such message
    },
    "POST /admin/review/<message_id>/reject": {
        **_row((403, None), (302, f"{LOGIN}?next=")),
        "reviewer": (404, None),
    },
    # The oversight pages: everyone signed in reads; deliveries are the admins' (observers read).
    "GET /admin/messages": _row((200, None), (302, f"{LOGIN}?next=")),
    "GET /admin/messages/<message_id>": _row((404, None), (302, f"{LOGIN}?next=")),
    "GET /admin/messages/<message_id>/evidence": _row((404, None), (302, f"{LOGIN}?next=")),
    "GET /admin/deliveries": {
        **_row((200, None), (302, f"{LOGIN}?next=")),
        "reviewer": (403, None),
    },
    "POST /admin/deliveries/resend": {
        **_row((403, None), (302, f"{LOGIN}?next=")),
        "admin": (302, "/admin/deliveries"),  # nothing to resend: said on the page
    },
    "GET /admin/log": _row((200, None), (302, f"{LOGIN}?next=")),
    "GET /admin/log/<int:index>/proof": _row((404, None), (302, f"{LOGIN}?next=")),
    "GET /admin/dashboard": _row((200, None), (302, f"{LOGIN}?next=")),
    "GET /admin/dashboard.xlsx": _row((200, None), (302, f"{LOGIN}?next=")),
}


def _roles(admin: Cell, reviewer: Cell, observer: Cell) -> dict[str, Cell]:
    """A row by role; signed out, to sign in."""
    out = (302, f"{LOGIN}?next=")
    return {"admin": admin, "reviewer": reviewer, "observer": observer, "anonymous": out,
            "disabled": out}  # fmt: skip


# The administration pages (partners and keys, agreements, users). A POST carrying only its
# token is refused for the missing fields (400); the path parameters name a partner and an
# account that do not exist (404), see PATH_VALUES.
OK, BAD, NO, GONE = (200, None), (400, None), (403, None), (404, None)
for _route, _cells in {
    "GET /admin/partners": (OK, NO, OK),
    "POST /admin/partners": (BAD, NO, NO),
    "GET /admin/partners/<partner_id>": (GONE, NO, GONE),
    "POST /admin/partners/<partner_id>/keys": (GONE, NO, NO),
    "POST /admin/partners/<partner_id>/keys/revoke": (GONE, NO, NO),
    "POST /admin/partners/<partner_id>/webhook": (GONE, NO, NO),
    "POST /admin/partners/<partner_id>/webhook/remove": (GONE, NO, NO),
    "POST /admin/partners/<partner_id>/status": (GONE, NO, NO),
    "GET /admin/agreements": (OK, OK, OK),
    "GET /admin/users": (OK, NO, NO),
    "POST /admin/users": (BAD, NO, NO),
    "POST /admin/users/<int:account_id>/disable": (GONE, NO, NO),
    "POST /admin/users/<int:account_id>/password": (GONE, NO, NO),
}.items():
    MATRIX[_route] = _roles(*_cells)

# What the routes' parameters are in the requests made.
PATH_VALUES = {
    "<partner_id>": "audit.nobody",
    "<int:account_id>": "999999",
    "<message_id>": "no-such-message",
    "<int:index>": "999999",
}


def _console_routes() -> set[str]:
    app = create_app(Config(home=Path("/nonexistent"), database_url="sqlite://"))
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint.endswith("static") or not (
            rule.rule == "/" or rule.rule.startswith("/admin")
        ):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.add(f"{method} {rule.rule}")
    return routes


def test_every_console_route_has_its_row() -> None:
    assert _console_routes() == set(MATRIX)


def _caller(hub: Hub, base_url: str, who: str) -> requests.Session:
    if who == "anonymous":
        return requests.Session()
    role = "reviewer" if who == "disabled" else who
    name = f"矩阵{who}"
    add(hub, name, role)
    client = sign_in(base_url, name)
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 200
    if who == "disabled":
        with hub.sessions.begin() as session:
            disable_account(session, name, actor="cli", now=hub.now())
    return client


def _request(client: requests.Session, base_url: str, route: str) -> requests.Response:
    method, path = route.split(" ", 1)
    for parameter, value in PATH_VALUES.items():
        path = path.replace(parameter, value)
    if method == "GET":
        return client.get(base_url + path, allow_redirects=False)
    data = {"csrf_token": token(client, f"{base_url}{LOGIN}")}
    if path == LOGIN:
        data.update(name="矩阵admin", password="not the password at all")
    return client.post(base_url + path, data=data, allow_redirects=False)


@pytest.mark.parametrize("who", CALLERS)
def test_the_console_matrix(hub: Hub, base_url: str, who: str) -> None:
    client = _caller(hub, base_url, who)
    for route in sorted(MATRIX, key=lambda r: r.endswith("logout")):  # sign out last
        status, location = MATRIX[route][who]
        answer = _request(client, base_url, route)
        assert answer.status_code == status, (who, route, answer.status_code)
        if location is not None:
            path = re.sub(r"^https?://[^/]+", "", answer.headers["Location"])
            assert path.startswith(location), (who, route, path)
    with hub.readers() as session:
        logouts = session.query(LogEntry).filter(LogEntry.action == LogAction.ACCOUNT_LOGOUT)
        assert logouts.count() == (1 if who in SIGNED_IN else 0)


@pytest.mark.parametrize("who", CALLERS)
def test_a_post_without_its_csrf_token_is_refused_for_everyone(
    hub: Hub, base_url: str, who: str
) -> None:
    client = _caller(hub, base_url, who)
    for path in ("/admin/logout", LOGIN):
        refused = client.post(base_url + path, data={"name": "x", "password": "y"})
        assert refused.status_code == 400, (who, path, refused.status_code)
    with hub.readers() as session:
        assert (
            session.query(LogEntry).filter(LogEntry.action == LogAction.ACCOUNT_LOGOUT).count() == 0
        )
