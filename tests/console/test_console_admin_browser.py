"""The partners pages in a real browser (issue 11 item 3): in headless Debian Chromium at
1280 px and in Chinese, an admin adds a partner and a key, sets a webhook and rotates its
secret (each shown once), suspends and reinstates the partner — under the strict CSP, with
no script error, nothing wider than the window.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from exchange.hub import Hub
from keys import SigningKey
from tests.console.test_console_auth import PASSWORD, add
from tests.exchange.test_api_docs_page import CHROMIUM, DOCS, UPDATE, browser  # noqa: F401

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")

PARTNER = "audit.xinhe"
HOOK = "https://10.20.30.40/hooks/exchange"


def _sign_in(page: Page, base_url: str, name: str) -> None:
    page.goto(f"{base_url}/admin/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.card button[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")


def _fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280


def test_an_admin_works_a_partner_in_chromium(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
    tmp_path: Path,
) -> None:
    add(hub, "王管理", "admin")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # A CSP violation is a console error; the browser's own favicon request is not ours.
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "Failed to load resource" not in m.text
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            problems.append(r.url)
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, base_url, "王管理")

    page.click("nav >> text=接入单位与密钥")
    page.wait_for_url(f"{base_url}/admin/partners")
    page.fill("#partner_id", PARTNER)
    page.fill("#name", "新河县审计局")
    page.fill("#public_key", SigningKey.generate().public_key.to_pem().decode())
    page.click("text=添加该接入单位")
    page.wait_for_url(f"{base_url}/admin/partners/{PARTNER}")
    assert "已添加接入单位 audit.xinhe，密钥 audit.xinhe#1。" in page.inner_text("main")

    jwk = SigningKey.generate().public_key.to_jwk(f"{PARTNER}#2")
    page.fill("#add-key #public_key", json.dumps(jwk))
    page.click("#add-key button[type=submit]")
    page.wait_for_selector("text=已添加密钥 audit.xinhe#2。")
    assert page.locator("#keys tbody tr").count() == 2

    page.fill("#webhook_url", HOOK)
    page.click("#set-webhook button[type=submit]")
    first = page.inner_text("#webhook-secret")
    assert first.startswith("whsec_")
    page.click("#set-webhook button[type=submit]")  # rotate: the URL is filled in
    second = page.inner_text("#webhook-secret")
    assert second.startswith("whsec_") and second != first
    _fits(page)
    shot = (DOCS if UPDATE else tmp_path) / "console-partner.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    page.goto(f"{base_url}/admin/partners/{PARTNER}")
    assert page.locator("#webhook-secret").count() == 0
    assert second not in page.content() and HOOK in page.inner_text("#partner-webhook")

    page.click("text=暂停该接入单位")  # after the confirmation dialog
    page.wait_for_selector("text=已暂停 audit.xinhe。")
    assert "已暂停" in page.inner_text("#partner-status")
    page.click("text=恢复该接入单位")
    page.wait_for_selector("text=已恢复 audit.xinhe。")
    assert "正常" in page.inner_text("#partner-status")

    page.click("nav >> text=接入单位与密钥")
    row = page.locator("table.admin tbody tr", has_text=PARTNER)
    assert "正常" in row.inner_text() and HOOK in row.inner_text()
    _fits(page)
    assert problems == []
    page.close()
