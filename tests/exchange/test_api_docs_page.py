"""The API page in a real browser: headless Debian Chromium renders Swagger UI over the hub's
document, Chinese included; the screenshot is committed as docs/api-docs.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
# Flags for this machine's closed network and its sandbox (DEVELOPERS.md).
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "api-docs.png"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


def test_the_api_page_renders_in_chromium(browser: Browser, base_url: str) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(base_url + "/v1/docs")
    page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    page.wait_for_selector('[data-path="/v1/messages:batch"]', timeout=20_000)
    assert "贯通协同监督数据交换" in page.inner_text(".swagger-ui .info")
    assert "urn:exchange:error:classified-content-refused" in page.inner_text(".swagger-ui .info")
    assert page.locator(".opblock").count() >= 20
    assert errors == []
    # The operations, as a reader finds them below the description and the problem types.
    top = page.locator(".opblock-tag-section").first.bounding_box()
    assert top is not None
    clip = {"x": 0, "y": top["y"] - 20, "width": 1280, "height": 1000}
    page.screenshot(path=str(SCREENSHOT), full_page=True, clip=clip)  # type: ignore[arg-type]
    assert SCREENSHOT.stat().st_size > 20_000
    page.close()
