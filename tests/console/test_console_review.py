"""The console's review queue and detail over real HTTP (issue 11, item 2): four eyes by
account, refusals shown on the page in Chinese with nothing stored, observers without forms,
a payload's HTML rendered inert.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import requests

from exchange.hub import Hub
from exchange.store.models import Message, Review
from schemas import examples
from tests.console.test_console_auth import PASSWORD, add, sign_in, token
from tests.exchange.test_cli import Cli, cli_env
from tests.support import PartnerKeys, store_small_order_key

VERSION = re.compile(r'name="version" value="(\d+)"')


def held_referral(base_url: str, partners: dict[str, PartnerKeys], **payload: Any) -> str:
    referral = examples.referral_example(payload={"referral_id": "YL-SJ-YJ-2026-C1", **payload})
    assert partners["audit"].client(base_url).send(referral).status == "pending_review"
    return str(referral["id"])


def reviewers(hub: Hub, base_url: str, *names: str) -> list[requests.Session]:
    """Reviewer accounts of these names, each signed in."""
    for name in names:
        add(hub, name, "reviewer")
    return [sign_in(base_url, name) for name in names]


def decide(
    client: requests.Session, base_url: str, message_id: str, verb: str, **form: str
) -> requests.Response:
    page = f"{base_url}/admin/review/{message_id}"
    text = client.get(page).text
    version = VERSION.search(text)
    data = {"csrf_token": token(client, page), "version": version.group(1) if version else "0"}
    data.update(form)
    return client.post(f"{page}/{verb}", data=data, allow_redirects=False)


def reviews(hub: Hub, message_id: str) -> list[tuple[str, str]]:
    with hub.readers() as session:
        rows = session.query(Review).filter(Review.message_id == message_id).order_by(Review.at)
        return [(r.reviewer, r.decision) for r in rows]


def status(hub: Hub, message_id: str) -> str:
    with hub.readers() as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.status


def test_two_reviewer_accounts_release_a_referral_and_one_cannot_approve_twice(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    first, second = reviewers(hub, base_url, "审核甲", "审核乙")
    queue = first.get(f"{base_url}/admin/review/")
    assert queue.status_code == 200 and message_id in queue.text
    assert "问题线索移送" in queue.text and "0 / 2" in queue.text
    detail = first.get(f"{base_url}/admin/review/{message_id}").text
    assert "移送编号 referral id" in detail and "YL-SJ-YJ-2026-C1" in detail
    assert "已验证" in detail and "有效" in detail
    approved = decide(first, base_url, message_id, "approve")
    assert approved.status_code == 302 and approved.headers["Location"].endswith("/admin/review/")
    assert "还需另一名审核员批准" in first.get(f"{base_url}/admin/review/").text
    again = decide(first, base_url, message_id, "approve", version="1")
    assert again.status_code == 409 and "您已对此消息作出过决定" in again.text
    assert len(reviews(hub, message_id)) == 1
    assert decide(second, base_url, message_id, "approve").status_code == 302
    assert status(hub, message_id) == "released"
    assert [i.envelope["id"] for i in partners["discipline"].client(base_url).inbox().items] == [
        message_id
    ]
    actors = {reviewer for reviewer, _ in reviews(hub, message_id)}
    assert all(a.startswith("account:") for a in actors) and len(actors) == 2


def test_a_held_message_whose_key_was_altered_in_the_store_shows_it_does_not_verify(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    # A small-order key put in by SQL after the message was held: the page still opens and
    # tells the reviewer the signature does not verify.
    message_id = held_referral(base_url, partners)
    store_small_order_key(hub, partners["audit"].kid)
    (reviewer,) = reviewers(hub, base_url, "审核丙")
    detail = reviewer.get(f"{base_url}/admin/review/{message_id}")
    assert detail.status_code == 200, detail.text
    assert "验证失败" in detail.text and "已验证" not in detail.text


def test_refusals_show_on_the_page_and_store_nothing(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    client, other = reviewers(hub, base_url, "审核丙", "审核丁")
    empty = decide(client, base_url, message_id, "reject", reason="  ")
    assert empty.status_code == 409 and "退回须写明理由" in empty.text
    secret = decide(client, base_url, message_id, "reject", reason="材料含机密内容")
    assert secret.status_code == 409 and "国家秘密标志" in secret.text
    stale = decide(client, base_url, message_id, "approve", version="3")
    assert stale.status_code == 409 and "另一名审核员已对此消息作出决定" in stale.text
    no_version = decide(client, base_url, message_id, "approve", version="x")
    assert no_version.status_code == 400 and "表单不完整" in no_version.text
    assert reviews(hub, message_id) == [] and status(hub, message_id) == "pending_review"
    reason = "缺少借款合同复印件。"
    assert decide(client, base_url, message_id, "reject", reason=reason).status_code == 302
    late = decide(other, base_url, message_id, "approve", version="1")
    assert late.status_code == 409 and "已不在待审核状态" in late.text
    notices = partners["audit"].client(base_url).inbox().items
    assert [n.envelope["payload"]["reason"] for n in notices] == [reason]
    assert notices[0].envelope["type"] == "hub.notice.v1"


def test_an_observer_sees_no_forms_and_a_forged_post_is_refused(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    message_id = held_referral(base_url, partners)
    add(hub, "观察甲", "observer")
    observer = sign_in(base_url, "观察甲")
    page = observer.get(f"{base_url}/admin/review/{message_id}")
    assert page.status_code == 200 and 'name="version"' not in page.text
    forged = decide(observer, base_url, message_id, "approve")
    assert forged.status_code == 403 and reviews(hub, message_id) == []
    add(hub, "审核戊", "reviewer")
    reviewer = sign_in(base_url, "审核戊")
    no_csrf = reviewer.post(f"{base_url}/admin/review/{message_id}/approve", data={"version": "0"})
    assert no_csrf.status_code == 400 and reviews(hub, message_id) == []


def test_html_in_the_payload_is_escaped(
    hub: Hub, base_url: str, partners: dict[str, PartnerKeys]
) -> None:
    script = '<script>window.pwned = 1</script><b onmouseover="x()">粗</b>'
    message_id = held_referral(base_url, partners, facts=script, auditor_opinion=script)
    add(hub, "审核己", "reviewer")
    page = sign_in(base_url, "审核己").get(f"{base_url}/admin/review/{message_id}").text
    assert "<script>window.pwned" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page


def test_the_console_and_the_cli_count_the_same_accounts(
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
    hub_home: Path,
    tmp_path: Path,
    database_url: str,
) -> None:
    message_id = held_referral(base_url, partners)
    (first,) = reviewers(hub, base_url, "门甲")
    add(hub, "门乙", "reviewer")
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n", encoding="utf-8")
    cli = Cli(cli_env(hub_home, database_url))
    assert decide(first, base_url, message_id, "approve").status_code == 302
    signed = ["--password-file", str(password)]
    stderr = cli.refused("review", "approve", *signed, "--as", "门甲", "--", message_id, code=2)
    assert "already reviewed" in stderr and len(reviews(hub, message_id)) == 1
    cli.ok("review", "approve", *signed, "--as", "门乙", "--", message_id)
    assert status(hub, message_id) == "released"
