"""The SDK's figures and lists: ``stats``, ``ledger``, ``referrals`` and ``shares`` answer what
the signed API answers, filters spelled as Python takes them, every page followed.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from adapters import HubError
from exchange.hub import Hub
from exchange.supervision.days import china_today
from schemas import examples
from tests.support import PartnerKeys, review, signed_request

Partners = dict[str, PartnerKeys]
DOC_NUMBER = "阎审经责报〔2025〕2号"


def _api(base_url: str, who: PartnerKeys, path: str) -> Any:
    answer = signed_request(base_url, who, "GET", path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _api_items(base_url: str, who: PartnerKeys, path: str) -> list[dict[str, Any]]:
    separator = "&" if "?" in path else "?"
    return list(_api(base_url, who, f"{path}{separator}page_size=100")["items"])


@pytest.fixture
def seeded(hub: Hub, base_url: str, partners: Partners) -> Partners:
    """Three ledger items, two referrals (one released, one held), one shared result."""
    audit = partners["audit"].client(base_url)
    for n in (1, 2, 3):
        line = examples.rectification_example(recipients=["discipline.yanliang"])
        key = f"YL-ZG-SDK-{n:03d}"
        line["subject"] = line["payload"]["ledger_item_id"] = key
        audit.send(line)
    for n, released in ((1, True), (2, False)):
        referral = examples.referral_example(sent_at=hub.now())
        key = f"YL-YJ-SDK-{n:03d}"
        referral["subject"] = referral["payload"]["referral_id"] = key
        sent = audit.send(referral)
        if released:
            for reviewer in ("zhang", "li"):
                review(hub, sent.id, reviewer)
    share = examples.share_example()
    review(hub, audit.send(share).id, "zhang")
    return partners


def test_stats_equal_the_api_with_and_without_filters(
    seeded: Partners, base_url: str, hub: Hub
) -> None:
    audit = seeded["audit"].client(base_url)
    assert audit.stats() == _api(base_url, seeded["audit"], "/v1/stats")

    today = china_today(hub.now())
    filtered = audit.stats(
        source_doc_number=DOC_NUMBER, as_of=today, from_=today - timedelta(days=30), to=today
    )
    query = urlencode(
        {
            "source_doc_number": DOC_NUMBER,
            "as_of": today,
            "from": today - timedelta(days=30),
            "to": today,
        }
    )
    assert filtered == _api(base_url, seeded["audit"], f"/v1/stats?{query}")
    assert (
        filtered["rectification"]
        != audit.stats(source_doc_number="阎审报〔1999〕1号")["rectification"]
    )


def test_the_lists_follow_every_page(seeded: Partners, base_url: str) -> None:
    audit = seeded["audit"].client(base_url)
    ledger = list(audit.ledger(page_size=1))
    assert [i["ledger_item_id"] for i in ledger] == [
        i["ledger_item_id"] for i in _api_items(base_url, seeded["audit"], "/v1/ledger")
    ]
    assert len(ledger) == 3

    referrals = list(audit.referrals(page_size=1))
    assert referrals == _api_items(base_url, seeded["audit"], "/v1/referrals")
    assert {r["referral_id"] for r in referrals} >= {"YL-YJ-SDK-001"}

    shares = list(seeded["personnel"].client(base_url).shares(page_size=1))
    assert shares == _api_items(base_url, seeded["personnel"], "/v1/shares")
    assert len(shares) == 1

    # Filters in Python's spelling: a boolean, and nothing of another body's.
    assert list(audit.ledger(overdue=False)) == _api_items(
        base_url, seeded["audit"], "/v1/ledger?overdue=false"
    )
    assert list(seeded["inspection"].client(base_url).ledger()) == []


def test_a_bad_filter_is_refused_by_name(seeded: Partners, base_url: str) -> None:
    audit = seeded["audit"].client(base_url)
    with pytest.raises(HubError) as refused:
        audit.stats(as_of="June")
    assert refused.value.status == 422 and "as_of" in refused.value.errors
    with pytest.raises(HubError) as refused:
        list(audit.ledger(status="finished-maybe"))
    assert refused.value.status == 422 and "status" in refused.value.errors
    assert date.fromisoformat(audit.stats(as_of=date(2026, 6, 30))["as_of"]) == date(2026, 6, 30)
