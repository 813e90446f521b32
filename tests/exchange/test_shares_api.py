"""``GET /v1/shares``: the shared results a partner sent or received, a page at a time by
cursor; nobody else's.
"""

from __future__ import annotations

from typing import Any

from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys, review, signed_request

Partners = dict[str, PartnerKeys]


def _share(number: int) -> dict[str, Any]:
    share = examples.share_example()
    share_id = f"YL-SJ-GX-2026-{number:03d}"
    share["subject"] = share["payload"]["share_id"] = share_id
    return share


def _list(base_url: str, partner: PartnerKeys, query: str = "") -> Any:
    return signed_request(base_url, partner, "GET", f"/v1/shares{query}")


def test_shares_are_listed_by_cursor_to_their_parties_only(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    for number in (1, 2, 3):
        review(hub, audit.send(_share(number)).id, "zhang")

    seen: list[str] = []
    cursor = ""
    while True:
        answer = _list(base_url, partners["personnel"], f"?page_size=2{cursor}")
        assert answer.status_code == 200, answer.text
        page = answer.json()
        seen += [item["share_id"] for item in page["items"]]
        if page["next"] is None:
            break
        cursor = f"&cursor={page['next']}"
    # Each once, over two pages (all three were sent within one second: their order is the ids').
    assert sorted(seen) == ["YL-SJ-GX-2026-001", "YL-SJ-GX-2026-002", "YL-SJ-GX-2026-003"]

    counted = _list(base_url, partners["audit"], "?total=true").json()
    assert counted["total"] == 3 and len(counted["items"]) == 3
    assert _list(base_url, partners["discipline"]).json()["items"] == []


def test_a_cursor_of_another_partner_or_a_deep_page_is_refused(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    for number in (1, 2):
        review(hub, audit.send(_share(number)).id, "zhang")
    first = _list(base_url, partners["personnel"], "?page_size=1").json()
    foreign = _list(base_url, partners["audit"], f"?cursor={first['next']}")
    assert foreign.status_code == 400
    assert "cursor" in foreign.json()["detail"] or "cursor" in foreign.json().get("errors", {})
    deep = _list(base_url, partners["personnel"], "?page=2")
    assert deep.status_code == 422 and "page" in deep.json()["errors"]
