"""The API page in a real browser: headless Debian Chromium renders Swagger UI over the hub's
document, Chinese included; its screenshot is docs/api-docs.png.
"""

from __future__ import annotations

import os
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
DOCS = Path(__file__).resolve().parents[2] / "docs"
# The committed screenshot is remade when asked (EXCHANGE_UPDATE_SCREENSHOTS=1), so that an
# ordinary run leaves the working tree as it was.
UPDATE = os.environ.get("EXCHANGE_UPDATE_SCREENSHOTS") == "1"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield launched
        launched.close()


def test_the_api_page_renders_in_chromium(browser: Browser, base_url: str, tmp_path: Path) -> None:
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
    shot = (DOCS if UPDATE else tmp_path) / "api-docs.png"
    page.screenshot(path=str(shot), full_page=True, clip=clip)  # type: ignore[arg-type]
    assert shot.stat().st_size > 20_000
    page.close()
