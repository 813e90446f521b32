"""The console's remaining flows of issue 11 in headless Chromium against the served hub: a
reviewer's second approval refused, a rejection whose reason reaches the sender as a
``hub.notice.v1``, POSTs without a CSRF token or from an observer refused by the server,
switching the language, and failed sign-ins throttled and logged by account id.
"""

from __future__ import annotations

from playwright.sync_api import Browser, Page

from exchange.hub import Hub
from exchange.store.models import Account, LogEntry
from keys.protocol import LogAction
from tests.console.test_console_auth import PASSWORD, add
from tests.console.test_console_review import held_referral, reviews, status
from tests.console.test_console_review_browser import signed_in_page
from tests.exchange.test_api_docs_page import browser  # noqa: F401
from tests.support import PartnerKeys


def blank_page(browser: Browser) -> Page:  # noqa: F811
    return browser.new_context(viewport={"width": 1280, "height": 900}).new_page()


def test_a_second_approval_is_refused_and_a_rejection_reaches_the_sender(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
) -> None:
    message_id = held_referral(base_url, partners)
    for name in ("流程甲", "流程乙"):
        add(hub, name, "reviewer")
    first = signed_in_page(browser, base_url, "流程甲")
    first.goto(f"{base_url}/admin/review/{message_id}")
    first.click("#approve")
    assert "还需另一名审核员批准" in first.inner_text("main")
    first.goto(f"{base_url}/admin/review/{message_id}")
    first.click("#approve")
    assert "您已对此消息作出过决定" in first.inner_text("[role=alert]")
    assert len(reviews(hub, message_id)) == 1 and status(hub, message_id) == "pending_review"
    second = signed_in_page(browser, base_url, "流程乙")
    second.goto(f"{base_url}/admin/review/{message_id}")
    reason = "证据不足，请补充询问笔录后再移送。"
    second.fill("#reason", reason)
    second.click("#reject")
    assert "已退回" in second.inner_text("main")
    assert status(hub, message_id) == "rejected"
    notices = partners["audit"].client(base_url).inbox().items
    assert [(n.envelope["type"], n.envelope["payload"]["reason"]) for n in notices] == [
        ("hub.notice.v1", reason)
    ]
    assert partners["discipline"].client(base_url).inbox().items == []


def test_the_server_refuses_a_post_without_its_token_and_an_observers_forged_one(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
) -> None:
    message_id = held_referral(base_url, partners)
    add(hub, "流程审核", "reviewer")
    add(hub, "流程观察", "observer")
    approve = f"{base_url}/admin/review/{message_id}/approve"
    reviewer = signed_in_page(browser, base_url, "流程审核")
    # The signed-in reviewer's own cookies, but no CSRF token: refused, nothing stored.
    refused = reviewer.request.post(approve, form={"version": "0"}, max_redirects=0)
    assert refused.status == 400
    observer = signed_in_page(browser, base_url, "流程观察")
    observer.goto(f"{base_url}/admin/review/{message_id}")
    assert observer.locator("#approve").count() == 0
    token = observer.get_attribute('input[name="csrf_token"] >> nth=0', "value")
    assert token
    forged = observer.request.post(
        approve, form={"csrf_token": token, "version": "0"}, max_redirects=0
    )
    assert forged.status == 403 and "无权操作" in forged.text()
    assert reviews(hub, message_id) == [] and status(hub, message_id) == "pending_review"


def test_the_language_switch_and_throttled_failed_sign_ins(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
) -> None:
    add(hub, "流程语言", "observer")
    page = blank_page(browser)
    page.goto(f"{base_url}/admin/login")
    assert page.get_attribute("html", "lang") == "zh-CN" and page.inner_text("h1") == "登录"
    page.select_option("#lang-select", "en")
    page.click(".language button")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en" and page.inner_text("h1") == "Sign in"
    failures = []
    for _ in range(12):
        page.fill('input[name="name"]', "流程语言")
        page.fill('input[name="password"]', "not the password")
        page.click('main button[type="submit"]')
        failures.append(page.inner_text("[role=alert]"))
        if "Too many failed sign-ins" in failures[-1]:
            break
    assert failures[0] == "Name or password not accepted."
    assert "Too many failed sign-ins" in failures[-1], failures
    # Throttled: even the right password is refused for now.
    page.fill('input[name="name"]', "流程语言")
    page.fill('input[name="password"]', PASSWORD)
    page.click('main button[type="submit"]')
    assert "Too many failed sign-ins" in page.inner_text("[role=alert]")
    page.select_option("#lang-select", "zh_CN")
    page.click(".language button")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "zh-CN" and page.inner_text("h1") == "登录"
    with hub.readers() as session:
        account = session.query(Account).filter(Account.name == "流程语言").one()
        failed = [
            e.actor
            for e in session.query(LogEntry).filter(
                LogEntry.action == LogAction.ACCOUNT_LOGIN_FAILED
            )
        ]
    assert failed and set(failed) == {f"account:{account.id}"}
    assert all("流程" not in actor for actor in failed)
