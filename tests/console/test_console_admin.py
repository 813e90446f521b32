"""The console's administration pages over real HTTP (issue 11 item 3): an admin registers a
partner, adds and revokes keys, sets and rotates a webhook secret (shown once), suspends and
reinstates; manages accounts; every action a log entry naming the admin's account id; bad
input a translated message naming the field, with nothing stored; reviewers and observers
refused on every POST.
"""

from __future__ import annotations

import json
import re

import pytest
import requests
from sqlalchemy import func, select

from exchange.admin.accounts import find_account
from exchange.hub import Hub
from exchange.store.models import Account, LogEntry, Partner, PartnerKey
from exchange.trust.webhook_secrets import open_secret
from keys import SigningKey
from keys.webhooks import webhook_secret_key
from tests.console.test_console_auth import PASSWORD, add, sign_in, token

PARTNER = "audit.xinhe"
HOOK = "https://10.20.30.40/hooks/exchange"


def admin_client(hub: Hub, base_url: str, name: str = "王管理") -> tuple[requests.Session, int]:
    add(hub, name, "admin")
    with hub.readers() as session:
        account_id = find_account(session, name).id
    return sign_in(base_url, name), account_id


def post(
    client: requests.Session, base_url: str, path: str, data: dict[str, str]
) -> requests.Response:
    data = {**data, "csrf_token": token(client, f"{base_url}/admin/partners")}
    return client.post(f"{base_url}{path}", data=data, allow_redirects=False)


def pem() -> str:
    return SigningKey.generate().public_key.to_pem().decode()


def log_since(hub: Hub, index: int) -> list[tuple[str, str]]:
    with hub.readers() as session:
        entries = session.scalars(
            select(LogEntry).where(LogEntry.index > index).order_by(LogEntry.index)
        )
        return [(e.action, e.actor) for e in entries]


def log_head(hub: Hub) -> int:
    with hub.readers() as session:
        return int(session.scalar(select(func.max(LogEntry.index))) or -1)


def counts(hub: Hub) -> tuple[int, int, int, int]:
    with hub.readers() as session:
        return tuple(  # type: ignore[return-value]
            int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Partner, PartnerKey, Account, LogEntry)
        )


def test_an_admin_registers_a_partner_and_works_its_keys_and_webhook(
    hub: Hub, base_url: str
) -> None:
    client, admin_id = admin_client(hub, base_url)
    actor = f"account:{admin_id}"
    start = log_head(hub)
    added = post(
        client, base_url, "/admin/partners",
        {"partner_id": PARTNER, "name": "新河县审计局", "public_key": pem()},
    )  # fmt: skip
    assert added.status_code == 302
    page = client.get(f"{base_url}/admin/partners/{PARTNER}").text
    assert "已添加接入单位 audit.xinhe，密钥 audit.xinhe#1。" in page and "新河县审计局" in page

    jwk = SigningKey.generate().public_key.to_jwk(f"{PARTNER}#2")
    keyed = post(client, base_url, f"/admin/partners/{PARTNER}/keys",
                 {"public_key": json.dumps(jwk), "not_after": "2099-01-01"})  # fmt: skip
    assert keyed.status_code == 302
    revoked = post(client, base_url, f"/admin/partners/{PARTNER}/keys/revoke",
                   {"kid": f"{PARTNER}#1"})  # fmt: skip
    assert revoked.status_code == 302
    again = post(client, base_url, f"/admin/partners/{PARTNER}/keys/revoke",
                 {"kid": f"{PARTNER}#1"})  # fmt: skip
    assert again.status_code == 409 and "密钥 audit.xinhe#1 已被吊销。" in again.text

    secrets = []
    for _ in range(2):  # set, then rotate
        shown = post(client, base_url, f"/admin/partners/{PARTNER}/webhook", {"webhook_url": HOOK})
        assert shown.status_code == 200
        match = re.search(r'<code id="webhook-secret">([^<]+)</code>', shown.text)
        assert match
        secrets.append(match.group(1))
    assert secrets[0] != secrets[1]
    later = client.get(f"{base_url}/admin/partners/{PARTNER}").text
    assert HOOK in later and secrets[1] not in later and "webhook-secret" not in later
    with hub.readers() as session:
        partner = session.get(Partner, PARTNER)
        assert partner is not None and partner.webhook_secret_sealed is not None
        assert secrets[1].encode() not in partner.webhook_secret_sealed
        sealed = partner.webhook_secret_sealed
    # The secret shown is the one the hub signs pushes with.
    assert open_secret(hub.trust, PARTNER, sealed) == webhook_secret_key(secrets[1])

    for status, says in (("suspended", "已暂停 audit.xinhe。"), ("active", "已恢复 audit.xinhe。")):
        changed = post(client, base_url, f"/admin/partners/{PARTNER}/status", {"status": status})
        assert changed.status_code == 302
        assert says in client.get(f"{base_url}/admin/partners/{PARTNER}").text
    removed = post(client, base_url, f"/admin/partners/{PARTNER}/webhook/remove", {})
    assert removed.status_code == 302

    with hub.readers() as session:
        keys = {k.kid: k for k in session.scalars(select(PartnerKey))}
    assert keys[f"{PARTNER}#1"].revoked_at is not None
    assert keys[f"{PARTNER}#2"].revoked_at is None and keys[f"{PARTNER}#2"].not_after is not None
    assert log_since(hub, start) == [
        (action, actor)
        for action in (
            "partner:added", "key:added", "key:added", "key:revoked",
            "partner:webhook-set", "partner:webhook-set",
            "partner:suspended", "partner:reinstated", "partner:webhook-removed",
        )
    ]  # fmt: skip


BAD_PARTNERS = [
    ({"partner_id": "Audit Xinhe"}, "partner_id", "接入单位标识：格式为"),
    ({"name": ""}, "name", "单位名称：此项必填。"),
    ({"public_key": "not a key"}, "public_key", "公钥：不是 Ed25519 公钥"),
    ({"public_key": SigningKey.generate().to_pem().decode()}, "public_key", "公钥：这是私钥。"),
    ({"kid": "audit.other#1"}, "kid", "密钥标识（kid）：格式必须为 audit.xinhe#&lt;标签&gt;。"),
    ({"webhook_url": "ftp://files.example/x"}, "webhook_url", "不是 http 或 https 地址。"),
    ({"webhook_url": "https://u:p@10.1.1.1/x"}, "webhook_url", "不得包含用户名或密码。"),
    ({"webhook_url": "http://127.0.0.1:9/x"}, "webhook_url", "是回环或链路本地地址"),
]


@pytest.mark.parametrize(("change", "field", "says"), BAD_PARTNERS)
def test_bad_partner_input_names_the_field_and_stores_nothing(
    hub: Hub, base_url: str, change: dict[str, str], field: str, says: str
) -> None:
    client, _ = admin_client(hub, base_url)
    before = counts(hub)
    form = {"partner_id": PARTNER, "name": "新河县审计局", "public_key": pem(), **change}
    refused = post(client, base_url, "/admin/partners", form)
    assert refused.status_code == 400
    assert says in refused.text and f'id="{field}-error"' in refused.text
    assert counts(hub) == before


def test_refusals_on_an_existing_partner_store_nothing(hub: Hub, base_url: str) -> None:
    client, _ = admin_client(hub, base_url)
    form = {"partner_id": PARTNER, "name": "新河县审计局", "public_key": pem()}
    assert post(client, base_url, "/admin/partners", form).status_code == 302
    before = counts(hub)
    cases = [
        ("/admin/partners", form, 409, "接入单位标识：audit.xinhe 已存在。"),
        (f"/admin/partners/{PARTNER}/keys", {"public_key": pem(), "kid": f"{PARTNER}#1"}, 409,
         "密钥标识（kid）：audit.xinhe#1 已存在。"),
        (f"/admin/partners/{PARTNER}/keys", {"public_key": pem()}, 400, "此项必填"),
        (f"/admin/partners/{PARTNER}/keys",
         {"public_key": pem(), "kid": f"{PARTNER}#3", "not_after": "someday"}, 400,
         "失效时间：不是日期"),
        (f"/admin/partners/{PARTNER}/keys",
         {"public_key": pem(), "kid": f"{PARTNER}#3", "not_before": "2030-01-02",
          "not_after": "2030-01-01"}, 400, "失效时间：必须晚于生效时间。"),
        (f"/admin/partners/{PARTNER}/keys/revoke", {"kid": "audit.other#1"}, 404,
         "该接入单位没有这个密钥"),
        (f"/admin/partners/{PARTNER}/webhook", {"webhook_url": ""}, 400, "此项必填"),
        (f"/admin/partners/{PARTNER}/webhook/remove", {}, 409, "没有推送地址"),
        (f"/admin/partners/{PARTNER}/status", {"status": "active"}, 409, "已处于该状态"),
        (f"/admin/partners/{PARTNER}/status", {"status": "gone"}, 400, "只能是暂停或正常"),
        ("/admin/partners/audit.nobody/status", {"status": "suspended"}, 404,
         "没有接入单位 audit.nobody。"),
    ]  # fmt: skip
    for path, data, status, says in cases:
        refused = post(client, base_url, path, data)
        assert (refused.status_code, says in refused.text) == (status, True), (path, data)
    assert counts(hub) == before


def test_english_messages_when_english_is_chosen(hub: Hub, base_url: str) -> None:
    client, _ = admin_client(hub, base_url)
    data = {"lang": "en", "next": "/admin/", "csrf_token": token(client, f"{base_url}/admin/")}
    client.post(f"{base_url}/admin/language", data=data)
    refused = post(client, base_url, "/admin/partners", {"partner_id": PARTNER})
    assert (
        refused.status_code == 400 and "Name of the body: this field is required." in refused.text
    )


@pytest.mark.parametrize("role", ["reviewer", "observer"])
def test_reviewers_and_observers_may_not_act(hub: Hub, base_url: str, role: str) -> None:
    client, _ = admin_client(hub, base_url)
    form = {"partner_id": PARTNER, "name": "新河县审计局", "public_key": pem()}
    assert post(client, base_url, "/admin/partners", form).status_code == 302
    add(hub, f"某{role}", role)
    other = sign_in(base_url, f"某{role}")
    before = counts(hub)
    forged = {
        "/admin/partners": {**form, "partner_id": "audit.other"},
        f"/admin/partners/{PARTNER}/keys": {"public_key": pem(), "kid": f"{PARTNER}#9"},
        f"/admin/partners/{PARTNER}/keys/revoke": {"kid": f"{PARTNER}#1"},
        f"/admin/partners/{PARTNER}/webhook": {"webhook_url": HOOK},
        f"/admin/partners/{PARTNER}/status": {"status": "suspended"},
        "/admin/users": {"name": "新人", "role": "admin"},
        "/admin/users/1/disable": {},
        "/admin/users/1/password": {},
    }
    csrf = token(other, f"{base_url}/admin/agreements")
    for path, data in forged.items():
        refused = other.post(f"{base_url}{path}", data={**data, "csrf_token": csrf})
        assert refused.status_code == 403, (role, path)
        assert other.post(f"{base_url}{path}", data=data).status_code == 400  # no token
    assert counts(hub) == before
    seen = other.get(f"{base_url}/admin/partners/{PARTNER}")
    assert seen.status_code == (200 if role == "observer" else 403)
    if role == "observer":
        assert "吊销" not in seen.text and "csrf_token" in seen.text  # no action forms but sign-out
        assert 'action="/admin/partners/audit.xinhe/keys"' not in seen.text


def test_a_post_without_its_token_changes_nothing(hub: Hub, base_url: str) -> None:
    client, _ = admin_client(hub, base_url)
    before = counts(hub)
    form = {"partner_id": PARTNER, "name": "新河县审计局", "public_key": pem()}
    assert client.post(f"{base_url}/admin/partners", data=form).status_code == 400
    assert (
        client.post(f"{base_url}/admin/users", data={"name": "x", "role": "admin"}).status_code
        == 400
    )
    assert counts(hub) == before


def test_the_agreements_page_lists_the_hubs_agreements(hub: Hub, base_url: str) -> None:
    add(hub, "看协议", "reviewer")
    page = sign_in(base_url, "看协议").get(f"{base_url}/admin/agreements")
    assert page.status_code == 200
    rows = re.findall(r"<tr>\s*<td>", page.text)
    assert len(rows) == len(hub.agreements.agreements)
    assert "问题线索移送 <code>clue.referral.v1</code>" in page.text
    assert "2 名不同审核员" in page.text and "敏感" in page.text


def test_an_admin_manages_accounts(hub: Hub, base_url: str) -> None:
    client, admin_id = admin_client(hub, base_url)
    start = log_head(hub)
    typed = post(client, base_url, "/admin/users", {
        "name": "李审核", "role": "reviewer", "body": "discipline",
        "password": PASSWORD, "password_again": PASSWORD,
    })  # fmt: skip
    assert typed.status_code == 302
    assert "已添加账号" in client.get(f"{base_url}/admin/users").text
    assert sign_in(base_url, "李审核").get(f"{base_url}/admin/").status_code == 200

    generated = post(client, base_url, "/admin/users", {"name": "赵观察", "role": "observer"})
    assert generated.status_code == 200
    match = re.search(r'<code id="generated-password">([^<]+)</code>', generated.text)
    assert match
    password = match.group(1)
    assert password not in client.get(f"{base_url}/admin/users").text
    observer = sign_in(base_url, "赵观察", password)
    assert observer.get(f"{base_url}/admin/", allow_redirects=False).status_code == 200
    with hub.readers() as session:
        zhao = find_account(session, "赵观察").id
        li = find_account(session, "李审核").id

    reset = post(client, base_url, f"/admin/users/{zhao}/password", {})
    assert reset.status_code == 200
    match = re.search(r'<code id="generated-password">([^<]+)</code>', reset.text)
    assert match and match.group(1) != password
    # A reset ends the account's sessions; the new password signs in.
    assert observer.get(f"{base_url}/admin/", allow_redirects=False).status_code == 302
    assert (
        sign_in(base_url, "赵观察", match.group(1))
        .get(f"{base_url}/admin/", allow_redirects=False)
        .status_code
        == 200
    )

    assert post(client, base_url, f"/admin/users/{li}/disable", {}).status_code == 302
    assert "已停用账号" in client.get(f"{base_url}/admin/users").text
    actor = f"account:{admin_id}"
    assert [(a, who) for a, who in log_since(hub, start) if who == actor] == [
        ("account:added", actor), ("account:added", actor),
        ("account:password-reset", actor), ("account:disabled", actor),
    ]  # fmt: skip


def test_account_refusals_name_the_field_and_store_nothing(hub: Hub, base_url: str) -> None:
    client, admin_id = admin_client(hub, base_url)
    before = counts(hub)
    cases = [
        ("/admin/users", {"name": "", "role": "admin"}, 400, "用户名：此项必填。"),
        ("/admin/users", {"name": "新人", "role": "boss"}, 400, "角色：请选择一项。"),
        ("/admin/users", {"name": "新人", "role": "reviewer", "body": "mayor"}, 400, "所属机关"),
        ("/admin/users", {"name": "新人", "role": "reviewer", "password": "short",
                          "password_again": "short"}, 400, "密码：至少 10 个字符"),
        ("/admin/users", {"name": "新人", "role": "reviewer", "password": PASSWORD,
                          "password_again": PASSWORD + "x"}, 400, "两次输入的密码不一致"),
        ("/admin/users", {"name": "王管理 ", "role": "reviewer"}, 409, "同名账号已存在"),
        (f"/admin/users/{admin_id}/disable", {}, 409, "最后一个在用的管理员"),
        (f"/admin/users/{admin_id}/password", {"password": "short"}, 400, "至少 10 个字符"),
        ("/admin/users/424242/disable", {}, 404, "没有账号 424242。"),
    ]  # fmt: skip
    for path, data, status, says in cases:
        refused = post(client, base_url, path, data)
        assert (refused.status_code, says in refused.text) == (status, True), (path, data)
    assert counts(hub) == before
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 200


def test_an_admin_may_be_disabled_while_another_remains(hub: Hub, base_url: str) -> None:
    client, admin_id = admin_client(hub, base_url)
    add(hub, "第二管理", "admin")
    assert post(client, base_url, f"/admin/users/{admin_id}/disable", {}).status_code == 302
    assert client.get(f"{base_url}/admin/", allow_redirects=False).status_code == 302
    second = sign_in(base_url, "第二管理")
    with hub.readers() as session:
        second_id = find_account(session, "第二管理").id
    refused = post(second, base_url, f"/admin/users/{second_id}/disable", {})
    assert refused.status_code == 409


def test_odd_paths_and_ids_are_a_clear_404(hub: Hub, base_url: str) -> None:
    client, _ = admin_client(hub, base_url)
    for path in ("/admin/partners/a%00b", "/admin/partners/%E4%B8%AD"):
        assert client.get(f"{base_url}{path}").status_code == 404
        refused = post(client, base_url, f"{path}/status", {"status": "suspended"})
        assert refused.status_code == 404 and "没有接入单位" in refused.text
    form = {"partner_id": PARTNER, "name": "新河县审计局", "public_key": pem()}
    assert post(client, base_url, "/admin/partners", form).status_code == 302
    revoke = post(client, base_url, f"/admin/partners/{PARTNER}/keys/revoke", {"kid": "a\x00#1"})
    assert revoke.status_code == 404
    huge = post(client, base_url, f"/admin/users/{10**20}/disable", {})
    assert huge.status_code == 404 and "没有账号" in huge.text
    nul = post(client, base_url, "/admin/users", {"name": "新\x00人", "role": "observer"})
    assert nul.status_code == 400 and "不得包含控制字符" in nul.text
