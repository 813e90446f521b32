"""Console sign-in and the role guard (issue 11, issue 14 item 3), over real HTTP: every POST
needs its CSRF token, a session names its account, a disabled account is signed out, the
console's pages carry a strict CSP.
"""

from __future__ import annotations

import re

import pytest
import requests

from exchange.admin.accounts import add_account, disable_account
from exchange.hub import Hub
from exchange.store.models import LogEntry
from keys.protocol import LogAction

PASSWORD = "correct horse battery staple 42"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def add(hub: Hub, name: str, role: str) -> None:
    with hub.sessions.begin() as session:
        add_account(
            session, name, role=role, body=None, password=PASSWORD, actor="cli", now=hub.now()
        )


def token(client: requests.Session, url: str) -> str:
    match = TOKEN.search(client.get(url).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(base_url: str, name: str, password: str = PASSWORD) -> requests.Session:
    client = requests.Session()
    login = f"{base_url}/admin/login"
    data = {"name": name, "password": password, "csrf_token": token(client, login)}
    client.post(login, data=data, allow_redirects=False)
    return client


def test_root_and_anonymous_go_to_sign_in(base_url: str) -> None:
    root = requests.get(f"{base_url}/", allow_redirects=False)
    assert root.status_code == 302 and root.headers["Location"].endswith("/admin/")
    home = requests.get(f"{base_url}/admin/", allow_redirects=False)
    assert home.status_code == 302 and "/admin/login" in home.headers["Location"]
    page = requests.get(f"{base_url}/admin/login")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp
    assert page.headers["X-Frame-Options"] == "DENY"


@pytest.mark.parametrize("role", ["admin", "reviewer", "observer"])
def test_each_role_signs_in_and_out(hub: Hub, base_url: str, role: str) -> None:
    add(hub, f"甲{role}", role)
    client = sign_in(base_url, f"甲{role}")
    cookie = next(c for c in client.cookies if c.name == "session")
    assert cookie.has_nonstandard_attr("HttpOnly") and cookie.path == "/admin"
    home = client.get(f"{base_url}/admin/", allow_redirects=False)
    label = {"admin": "管理员", "reviewer": "审核员", "observer": "观察员"}[role]
    assert home.status_code == 200 and label in home.text
    out = client.post(
        f"{base_url}/admin/logout",
        data={"csrf_token": token(client, f"{base_url}/admin/")},
        allow_redirects=False,
    )
    assert out.status_code == 302
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 302
    with hub.readers() as session:
        entries = [(e.action, e.actor) for e in session.query(LogEntry).order_by(LogEntry.index)]
    actors = {actor for _, actor in entries[-2:]}
    assert [a for a, _ in entries[-2:]] == [LogAction.ACCOUNT_LOGIN, LogAction.ACCOUNT_LOGOUT]
    assert len(actors) == 1 and actors.pop().startswith("account:")


def test_post_without_csrf_token_is_refused(hub: Hub, base_url: str) -> None:
    add(hub, "乙", "admin")
    client = requests.Session()
    refused = client.post(
        f"{base_url}/admin/login", data={"name": "乙", "password": PASSWORD}, allow_redirects=False
    )
    assert refused.status_code == 400
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 302


def test_wrong_password_refused_then_throttled(hub: Hub, base_url: str) -> None:
    add(hub, "丙", "reviewer")
    statuses = {sign_in_status(base_url, "丙", "wrong") for _ in range(12)}
    assert statuses == {401, 429}
    assert sign_in_status(base_url, "丙", PASSWORD) == 429


def sign_in_status(base_url: str, name: str, password: str) -> int:
    client = requests.Session()
    login = f"{base_url}/admin/login"
    data = {"name": name, "password": password, "csrf_token": token(client, login)}
    return client.post(login, data=data, allow_redirects=False).status_code


def test_disabled_account_is_signed_out(hub: Hub, base_url: str) -> None:
    add(hub, "丁", "observer")
    client = sign_in(base_url, "丁")
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 200
    with hub.sessions.begin() as session:
        disable_account(session, "丁", actor="cli", now=hub.now())
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 302
