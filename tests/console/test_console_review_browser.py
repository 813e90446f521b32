"""The review pages in headless Chromium against the served hub (issue 11, item 2): sign in,
four eyes by two browser sessions, two decisions at once (one wins, the other is told), a
payload's HTML inert, and the zh-CN screenshots (remade with EXCHANGE_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Dialog, Page

from exchange.hub import Hub
from tests.console.test_console_auth import PASSWORD, add
from tests.console.test_console_review import held_referral, reviews, status
from tests.exchange.test_api_docs_page import DOCS, UPDATE, browser  # noqa: F401
from tests.support import PartnerKeys

SCRIPT = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'


def signed_in_page(browser: Browser, base_url: str, name: str, shot: Path | None = None) -> Page:  # noqa: F811
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base_url}/admin/login")
    page.fill('input[name="name"]', name)
    page.fill('input[name="password"]', PASSWORD)
    if shot is not None:
        page.screenshot(path=str(shot))
    page.click('button[type="submit"] >> nth=-1')
    page.wait_for_url(f"{base_url}/admin/")
    return page


def test_four_eyes_in_the_browser_with_a_race_and_inert_html(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
    tmp_path: Path,
) -> None:
    shots = DOCS / "console" if UPDATE else tmp_path
    shots.mkdir(exist_ok=True)
    message_id = held_referral(base_url, partners, facts=SCRIPT, auditor_opinion=SCRIPT)
    for name in ("浏览甲", "浏览乙", "浏览丙"):
        add(hub, name, "reviewer")
    first = signed_in_page(browser, base_url, "浏览甲", shots / "login.png")
    dialogs: list[str] = []

    def seen(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    first.on("dialog", seen)
    first.goto(f"{base_url}/admin/review/")
    assert "问题线索移送" in first.inner_text("main")
    first.screenshot(path=str(shots / "review-queue.png"))
    first.click(f"text={message_id}")
    assert SCRIPT in first.inner_text("main")  # shown as text, escaped
    assert first.evaluate("window.pwned") is None and dialogs == []
    first.screenshot(path=str(shots / "referral-detail.png"))
    # Two reviewers on the same page at once: the first to submit wins, the other is told.
    second = signed_in_page(browser, base_url, "浏览乙")
    third = signed_in_page(browser, base_url, "浏览丙")
    for page in (second, third):
        page.goto(f"{base_url}/admin/review/{message_id}")
    second.click("#approve")
    assert "还需另一名审核员批准" in second.inner_text("main")
    third.click("#approve")
    assert "另一名审核员已对此消息作出决定" in third.inner_text("[role=alert]")
    assert len(reviews(hub, message_id)) == 1
    third.goto(f"{base_url}/admin/review/{message_id}")
    third.click("#approve")
    assert "消息已发给接收方" in third.inner_text("main")
    assert status(hub, message_id) == "released"
    for shot in ("login.png", "review-queue.png", "referral-detail.png"):
        assert (shots / shot).stat().st_size > 10_000


def test_an_observer_reads_the_held_message_without_buttons(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
    partners: dict[str, PartnerKeys],
) -> None:
    message_id = held_referral(base_url, partners)
    add(hub, "浏览观察", "observer")
    page = signed_in_page(browser, base_url, "浏览观察")
    page.goto(f"{base_url}/admin/review/{message_id}")
    assert "YL-SJ-YJ-2026-C1" in page.inner_text("main")
    assert page.locator("#approve").count() == 0 and page.locator("#reject").count() == 0
