"""Keyset pagination of every list (issue 15): walked to the end by cursor while messages
keep arriving, no row twice and none skipped of those there at the start; cursors that are
not this list's or this caller's refused, naming ``cursor``.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from adapters import HubError
from adapters.client import SendResult
from exchange.hub import Hub
from schemas import examples
from tests.support import PartnerKeys, message_count, problem_code, review, signed_request

Partners = dict[str, PartnerKeys]
DISCIPLINE = "discipline.yanliang"
PAGE = 3


def get(base_url: str, who: PartnerKeys, path: str) -> Any:
    response = signed_request(base_url, who, "GET", path)
    assert response.status_code == 200, response.text
    return response.json()


def ledger_line(n: int) -> dict[str, Any]:
    line = examples.rectification_example(recipients=[DISCIPLINE])
    line["payload"]["ledger_item_id"] = line["subject"] = (
        f"YL-SJ-ZG-P{n:05d}-{uuid.uuid4().hex[:6]}"
    )
    return line


def referral(n: int, sent_at: str | None = None) -> dict[str, Any]:
    clue = examples.referral_example(recipients=[DISCIPLINE], sent_at=sent_at)
    clue["payload"]["referral_id"] = clue["subject"] = f"YL-SJ-YJ-P{n:05d}-{uuid.uuid4().hex[:6]}"
    return clue


def accepted(results: list[SendResult | HubError]) -> list[SendResult]:
    sent = [r for r in results if isinstance(r, SendResult)]
    assert len(sent) == len(results), results
    return sent


@pytest.fixture
def seeded(base_url: str, hub: Hub, partners: Partners) -> list[SendResult]:
    """40 ledger items to discipline; 24 referrals to it, several sent in the same second
    (the tie broken by message id), the first four released.
    """
    audit = partners["audit"].client(base_url, hub.now)
    same_second = (hub.now() - timedelta(minutes=1)).replace(microsecond=0)
    moment = same_second.isoformat().replace("+00:00", "Z")
    envelopes = [ledger_line(n) for n in range(40)]
    envelopes += [referral(n, moment if n % 2 else None) for n in range(24)]
    sent = accepted(audit.send_batch(envelopes))
    for held in sent[40:44]:
        review(hub, held.id, "zhang.reviewer")
        review(hub, held.id, "li.reviewer")
    return sent


class Arrivals:
    """Ledger lines and referrals sent in small batches from another thread until stopped."""

    def __init__(self, send: Callable[[int], None]) -> None:
        self.batches = 0
        self.failures: list[BaseException] = []
        self._done = threading.Event()
        self._landed = threading.Condition()
        self._thread = threading.Thread(target=self._run, args=(send,))
        self._thread.start()

    def _run(self, send: Callable[[int], None]) -> None:
        n = 1000
        while not self._done.is_set():
            try:
                send(n)
            except BaseException as failure:
                self.failures.append(failure)
                return
            n += 2
            with self._landed:
                self.batches += 1
                self._landed.notify_all()

    def wait_for_one(self) -> None:
        """Until one more batch is stored: a walk then spans an arrival for certain."""
        with self._landed:
            seen = self.batches
            assert self._landed.wait_for(lambda: self.batches > seen or self.failures, 60)

    def stop(self) -> None:
        """Stop sending; the sender's failures, if any, fail the test."""
        self._done.set()
        self._thread.join(timeout=60)
        assert not self.failures, self.failures


@pytest.fixture
def arriving(base_url: str, hub: Hub, partners: Partners) -> Iterator[Arrivals]:
    """Messages arriving through the API while the test reads."""
    audit = partners["audit"].client(base_url, hub.now)

    def send(n: int) -> None:
        accepted(audit.send_batch([ledger_line(n), referral(n), ledger_line(n + 1)]))

    arrivals = Arrivals(send)
    yield arrivals
    arrivals.stop()


def walk(
    base_url: str,
    who: PartnerKeys,
    path: str,
    key: Callable[[dict[str, Any]], Any],
    size: int = PAGE,
    between: Callable[[], None] = lambda: None,
) -> list[Any]:
    """Every row of a list, page by page of ``size`` along ``next`` (``between`` pages)."""
    rows: list[Any] = []
    cursor: str | None = None
    for _ in range(1000):
        page = get(base_url, who, path + (f"&cursor={cursor}" if cursor else ""))
        assert len(page["items"]) <= size and "total" not in page
        rows += [key(item) for item in page["items"]]
        cursor = page["next"]
        if cursor is None:
            return rows
        between()
    raise AssertionError("the list did not end")


def ledger_key(item: dict[str, Any]) -> tuple[str, str]:
    return item["owner"], item["ledger_item_id"]


def referral_key(case: dict[str, Any]) -> tuple[str, str, str]:
    return case["sent_at"], case["message_id"], case["recipient"]


@pytest.mark.parametrize(
    ("who", "path", "key", "newest_first", "at_start"),
    [
        ("audit", f"/v1/ledger?page_size={PAGE}", ledger_key, False, 40),
        ("discipline", f"/v1/ledger?page_size={PAGE}", ledger_key, False, 40),
        ("audit", f"/v1/referrals?page_size={PAGE}", referral_key, True, 24),
        ("discipline", f"/v1/referrals?page_size={PAGE}", referral_key, True, 4),
    ],
)
def test_a_list_walked_by_cursor_while_messages_arrive(
    base_url: str,
    partners: Partners,
    seeded: list[SendResult],
    arriving: Arrivals,
    who: str,
    path: str,
    key: Callable[[dict[str, Any]], Any],
    newest_first: bool,
    at_start: int,
) -> None:
    # Read before anything arrives: the fixture's thread starts sending only after this test's
    # fixtures are set up, so this read may already see a few of its rows too.
    listed = get(base_url, partners[who], path.replace(f"={PAGE}", "=500"))["items"]
    there = {key(item) for item in listed}
    assert len(there) >= at_start
    walked = walk(base_url, partners[who], path, key, between=arriving.wait_for_one)
    arriving.stop()
    assert len(walked) == len(set(walked)), "a row came twice"
    assert there <= set(walked), "a row there at the start was skipped"
    assert walked == sorted(walked, reverse=newest_first)
    # The same list read at once now: the walk saw each row in its place.
    everything = walk(base_url, partners[who], path.replace(f"={PAGE}", "=500"), key, 500)
    assert set(walked) <= set(everything)


def test_the_inbox_walked_by_cursor_while_messages_arrive(
    base_url: str, partners: Partners, seeded: list[SendResult], arriving: Arrivals
) -> None:
    discipline = partners["discipline"]
    there = {i["cursor"] for i in get(base_url, discipline, "/v1/inbox?limit=500")["items"]}
    assert len(there) >= 44  # 40 lines, the 4 released referrals (and any arrived since)
    walked: list[int] = []
    after = ""
    while True:
        page = get(base_url, discipline, f"/v1/inbox?limit={PAGE}{after}")
        walked += [int(i["cursor"]) for i in page["items"]]
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
        arriving.wait_for_one()
    arriving.stop()
    assert len(walked) == len(set(walked)) and walked == sorted(walked)
    assert {int(c) for c in there} <= set(walked)


def test_the_count_only_when_asked(
    base_url: str, partners: Partners, seeded: list[SendResult]
) -> None:
    audit = partners["audit"]
    assert "total" not in get(base_url, audit, "/v1/ledger")
    assert get(base_url, audit, "/v1/ledger?total=true&page_size=5")["total"] == 40
    assert get(base_url, audit, "/v1/referrals?total=true&page_size=5")["total"] == 24
    first = get(base_url, audit, "/v1/referrals?page_size=24")
    assert len(first["items"]) == 24 and first["next"] is None  # the last page says so


def _cursor(*values: Any) -> str:
    text = json.dumps(list(values), separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def test_foreign_and_malformed_cursors_are_refused_naming_the_cursor(
    base_url: str, hub: Hub, partners: Partners, seeded: list[SendResult]
) -> None:
    audit, discipline = partners["audit"], partners["discipline"]
    me = audit.partner_id
    ledger = get(base_url, audit, "/v1/ledger?page_size=3")["next"]
    referrals = get(base_url, audit, "/v1/referrals?page_size=3")["next"]
    stored = message_count(hub)
    refused = [
        (audit, f"/v1/referrals?cursor={ledger}"),  # another list's
        (audit, f"/v1/ledger?cursor={referrals}"),
        (discipline, f"/v1/ledger?cursor={ledger}"),  # another partner's
        (audit, "/v1/ledger?cursor=%21%21%21"),  # not base64url
        (audit, "/v1/ledger?cursor=bm90IGpzb24"),  # base64url of "not json"
        (audit, "/v1/ledger?cursor=" + "A" * 1025),  # longer than any cursor
        (audit, f"/v1/ledger?cursor={_cursor('ledger', me, 1, 2)}"),
        (audit, f"/v1/ledger?cursor={_cursor('ledger', me, 'a')}"),
        (audit, f"/v1/referrals?cursor={_cursor('referrals', me, 'x', 'm', 'r')}"),
        (audit, f"/v1/referrals?cursor={_cursor('referrals', me, True, 'm', 'r')}"),
        # A time without its offset: not a time this hub writes.
        (audit, f"/v1/referrals?cursor={_cursor('referrals', me, '2026-01-01T00:00', 'm', 'r')}"),
        (audit, f"/v1/referrals?cursor={_cursor({'a': 1})}"),
    ]
    for who, path in refused:
        response = signed_request(base_url, who, "GET", path)
        assert response.status_code in (400, 422), (path, response.text)
        assert response.headers["Content-Type"].startswith("application/problem+json")
        assert "cursor" in response.json()["errors"], (path, response.json())
        if response.status_code == 400:
            assert problem_code(response) == "bad-request"
    # Deeper pages by number: refused, never silently the first page again.
    response = signed_request(base_url, audit, "GET", "/v1/ledger?page=2")
    assert response.status_code == 422 and "page" in response.json()["errors"]
    assert get(base_url, audit, "/v1/ledger?page=1&page_size=3")["next"] == ledger
    assert message_count(hub) == stored


def test_the_sdk_walks_a_list_by_its_cursors(
    base_url: str, hub: Hub, partners: Partners, seeded: list[SendResult]
) -> None:
    audit = partners["audit"].client(base_url, hub.now)
    items = list(audit.listed("/v1/ledger", page_size=PAGE))
    assert len(items) == 40 == len({ledger_key(i) for i in items})
    held = list(audit.listed("/v1/referrals", page_size=PAGE, state="pending_review"))
    assert len(held) == 20 and {c["state"] for c in held} == {"pending_review"}
