"""The console's oversight pages in headless Chromium against the served hub (issue 11 items 3
and 4): search and page through messages, a message's detail and its evidence bundle, resend
a dead letter to a real webhook endpoint, verify a log entry in the page (and a tampered
proof fails), dashboard figures equal ``/v1/stats``; each page at 1280 px, and the zh-CN
screenshots of the log browser and the dashboard.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, Route

from exchange.hub import Hub
from keys.evidence import verify_evidence
from schemas import examples
from tests.console.test_console_auth import PASSWORD, add, sign_in
from tests.console.test_oversight_dashboard import AUDIT, seeded  # noqa: F401
from tests.console.test_oversight_deliveries import dead_letter
from tests.console.test_oversight_log_verify import tampered
from tests.exchange.test_api_docs_page import CHROMIUM, UPDATE, browser  # noqa: F401
from tests.exchange.test_delivery import DISCIPLINE, Receiver, delivery, status_line
from tests.exchange.test_figures_scenario import YEAR, stats
from tests.support import PartnerKeys, signed_request

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")

Partners = dict[str, PartnerKeys]
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
WIDTH = 1280


def signed_in_page(
    browser: Browser,  # noqa: F811
    hub: Hub,
    base_url: str,
    role: str,
) -> Iterator[Page]:
    """A page signed in through the sign-in form as a new account of ``role`` (zh-CN)."""
    name = f"页面{role}"
    add(hub, name, role)
    context = browser.new_context(viewport={"width": WIDTH, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{base_url}/admin/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/admin/")
    yield page
    assert errors == []
    context.close()


@pytest.fixture
def admin(browser: Browser, hub: Hub, base_url: str) -> Iterator[Page]:  # noqa: F811
    yield from signed_in_page(browser, hub, base_url, "admin")


@pytest.fixture
def observer(browser: Browser, hub: Hub, base_url: str) -> Iterator[Page]:  # noqa: F811
    yield from signed_in_page(browser, hub, base_url, "observer")


def fits(page: Page) -> None:
    """Nothing wider than the window: no sideways scrolling at 1280 px."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH, page.url


def shot(page: Page, name: str, tmp_path: Path) -> None:
    target = (SHOTS if UPDATE else tmp_path) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 20_000


def test_search_and_page_through_messages_then_open_one_and_its_evidence(
    observer: Page, base_url: str, partners: Partners
) -> None:
    lines = [status_line(base_url, partners) for _ in range(5)]
    page = observer
    page.goto(f"{base_url}/admin/messages?size=2")
    seen: list[str] = []
    while True:
        seen += page.locator("#messages tbody tr td:first-child").all_inner_texts()
        fits(page)
        if page.locator("a.next").count() == 0:
            break
        page.click("a.next")
    assert seen == [line["id"] for line in reversed(lines)]  # newest first, each once

    # A filter: the business key keeps one message.
    page.goto(f"{base_url}/admin/messages")
    page.fill("input[name=business_key]", lines[1]["subject"])
    page.click("form.filters button[type=submit]")
    assert page.locator("#messages tbody tr td:first-child").all_inner_texts() == [lines[1]["id"]]
    assert page.locator("#messages tbody tr td:nth-child(5)").inner_text() == "已放行"

    # A bad filter is said on the page, not a 5xx.
    for query in ("from=2026-13-01", "state=lost", "from=2026-05-02&to=2026-05-01", "cursor=x"):
        answer = page.goto(f"{base_url}/admin/messages?{query}")
        assert answer is not None and answer.status == 400, query
        assert page.locator("p.error").count() == 1, query

    page.goto(f"{base_url}/admin/messages?message_id={lines[0]['id']}")
    page.click(f"text={lines[0]['id']}")
    assert page.locator("#envelope").inner_text().count(lines[0]["subject"]) == 1
    assert "message:received" in page.locator("#timeline").inner_text()
    assert DISCIPLINE in page.locator("#deliveries").inner_text()
    fits(page)
    with page.expect_download() as download:
        page.click("#evidence")
    bundle = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    hub_keys = requests.get(f"{base_url}/.well-known/jwks.json", timeout=5)
    proved = verify_evidence(bundle, hub_keys=hub_keys.json() if hub_keys.ok else None)
    assert lines[0]["id"] in json.dumps(bundle)
    assert proved is not None


def test_an_admin_resends_a_dead_letter_and_the_endpoint_gets_it_once(
    admin: Page,
    hub: Hub,
    base_url: str,
    partners: Partners,
) -> None:
    line, port, worker = dead_letter(base_url, hub, partners)
    assert delivery(hub, line["id"]).push_state == "dead"

    # An observer sees the dead letter, but no resend button.
    add(hub, "看看observer", "observer")
    watcher = sign_in(base_url, "看看observer")
    listed = watcher.get(f"{base_url}/admin/deliveries").text
    assert line["id"] in listed and 'class="resend"' not in listed

    page = admin
    page.goto(f"{base_url}/admin/deliveries")
    assert line["id"] in page.locator("#pushes").inner_text()
    fits(page)
    receiver = Receiver(port=port)  # up, on the same port
    try:
        page.click("button.resend")
        assert line["id"] in page.locator("p.flash.done").inner_text()
        assert page.locator("#pushes").count() == 0  # no dead letter left
        assert worker.run_once(hub.now()).pushed == 1
        assert worker.run_once(hub.now()).claimed == 0
        assert receiver.ids() == [line["id"]]
    finally:
        receiver.close()
    assert delivery(hub, line["id"]).push_state == "pushed"
    # Pushed: listed under its state, with nothing to resend.
    page.goto(f"{base_url}/admin/deliveries?state=pushed")
    assert line["id"] in page.locator("#pushes").inner_text()
    assert page.locator("button.resend").count() == 0


def test_verify_a_log_entry_in_the_page_and_a_tampered_proof_fails(
    observer: Page, hub: Hub, base_url: str, partners: Partners, tmp_path: Path
) -> None:
    audit = partners["audit"].client(base_url, hub.now)
    for _ in range(3):
        audit.send(examples.rectification_example())
    checkpoint = signed_request(base_url, partners["audit"], "GET", "/v1/log/checkpoint")
    size = checkpoint.json()["tree_size"]
    page = observer
    page.goto(f"{base_url}/admin/log")
    assert page.locator("[data-tree-size]").inner_text() == str(size)
    buttons = page.locator("[data-verify-url]")
    assert buttons.count() >= 3
    for n in (0, buttons.count() - 1):
        buttons.nth(n).click()
        result = page.locator(f"#{buttons.nth(n).get_attribute('data-verify-result')}")
        page.wait_for_function(
            "id => document.getElementById(id).dataset.verified",
            arg=buttons.nth(n).get_attribute("data-verify-result"),
        )
        assert result.get_attribute("data-verified") == "yes"
        assert result.inner_text() == "已包含于检查点"
    fits(page)
    shot(page, "log-browser.png", tmp_path)

    # The same page with the hub's answer altered on the way: the page says it fails.
    def altered(route: Route) -> None:
        proof = requests.get(route.request.url, cookies=cookies, timeout=5).json()
        route.fulfill(json=tampered(proof, "entry"))

    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    page.route("**/admin/log/*/proof", altered)
    page.reload()
    first = page.locator("[data-verify-url]").first
    first.click()
    target = first.get_attribute("data-verify-result")
    page.wait_for_function("id => document.getElementById(id).dataset.verified", arg=target)
    assert page.locator(f"#{target}").get_attribute("data-verified") == "no"
    assert page.locator(f"#{target}").inner_text() == "证明未通过验证"


def test_the_dashboard_shows_the_stats_figures_and_exports_them(
    observer: Page,
    base_url: str,
    partners: Partners,
    seeded: None,  # noqa: F811
    tmp_path: Path,
) -> None:
    page = observer
    as_of = date(YEAR, 6, 30).isoformat()
    page.goto(f"{base_url}/admin/dashboard?partner={AUDIT}&as_of={as_of}")
    page.wait_for_selector("[data-chart][data-drawn=yes]")
    assert page.locator("[data-chart][data-drawn=yes]").count() == 3
    assert "整改状态变化" in page.locator(".charts").inner_text()
    answered = stats(base_url, partners["audit"], f"as_of={as_of}")
    referrals, ledger = answered["referrals"], answered["rectification"]
    expected: dict[str, Any] = {
        "已放行移送(件次)": referrals["total"],
        "逾期未反馈": referrals["overdue"],
        "反馈用时中位数(天)": referrals["median_days_to_feedback"],
        "整改问题数": ledger["total"],
        "整改率(%)": ledger["rectification_rate"],
        "立行立改完成率(%)": ledger["immediate_rate"],
        "逾期未完成整改": ledger["overdue"],
    }
    for label, value in expected.items():
        shown = page.locator(f'[data-card="{label}"]').inner_text()
        assert shown == ("—" if value is None else str(value)), label
    assert ledger["total"] == 6
    fits(page)
    shot(page, "dashboard.png", tmp_path)

    with page.expect_download() as download:
        page.click("#export")
    book = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes()))
    rows = [row for row in book.worksheets[0].iter_rows(values_only=True)][1:]
    assert [row[1] for row in rows] == [unit["total"] for unit in ledger["by_unit"]]

    # A bad period is said on the page.
    answer = page.goto(f"{base_url}/admin/dashboard?from=2026-05-02&to=2026-05-01")
    assert answer is not None and answer.status == 400
    assert page.locator("p.error").count() == 1
