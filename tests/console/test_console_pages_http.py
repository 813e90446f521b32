"""The oversight pages' refusals and edges over plain HTTP (issue 11 item 3): a resend the
outbox refuses is said on the page and changes nothing, an observer's forged resend is
refused, the log browser pages by key and answers no proof for an entry no checkpoint covers,
and a filter carrying markup is shown as text.
"""

from __future__ import annotations

import re

from exchange.console.log_views import PAGE
from exchange.hub import Hub
from schemas import examples
from tests.console.test_console_auth import add, sign_in, token
from tests.exchange.test_delivery import actions, status_line
from tests.support import PartnerKeys, signed_request

Partners = dict[str, PartnerKeys]


def test_a_refused_resend_is_said_and_a_forged_one_refused(
    hub: Hub, base_url: str, partners: Partners
) -> None:
    line = status_line(base_url, partners)  # discipline pulls: nothing to resend
    add(hub, "页面admin", "admin")
    add(hub, "页面observer", "observer")
    admin = sign_in(base_url, "页面admin")
    observer = sign_in(base_url, "页面observer")
    before = actions(hub, line["id"])
    for message_id in (line["id"], "no-such-message"):
        data = {
            "csrf_token": token(admin, f"{base_url}/admin/deliveries"),
            "message_id": message_id,
        }
        page = admin.post(f"{base_url}/admin/deliveries/resend", data=data)
        assert page.status_code == 200
        assert re.search(r'class="flash error"[^>]*>未重新推送：', page.text), message_id
    forged = {"csrf_token": token(observer, f"{base_url}/admin/messages"), "message_id": line["id"]}
    assert observer.post(f"{base_url}/admin/deliveries/resend", data=forged).status_code == 403
    assert actions(hub, line["id"]) == before


def test_the_log_browser_pages_by_key_and_proves_only_checkpointed_entries(
    hub: Hub, base_url: str, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url, hub.now)
    audit.send(examples.rectification_example())
    size = signed_request(base_url, partners["audit"], "GET", "/v1/log/checkpoint").json()[
        "tree_size"
    ]
    for _ in range(PAGE // 2):  # past one page, after the checkpoint
        audit.send(examples.rectification_example())
    add(hub, "页面reviewer", "reviewer")
    reviewer = sign_in(base_url, "页面reviewer")
    first = reviewer.get(f"{base_url}/admin/log").text
    older = re.search(r'href="(/admin/log\?before=(\d+))" rel="next"', first)
    assert older is not None
    second = reviewer.get(base_url + older.group(1)).text
    indexes = [int(i) for i in re.findall(r"<tr>\s*<td>(\d+)</td>", first + second)]
    assert indexes == sorted(indexes, reverse=True) == list(range(indexes[0], -1, -1))
    assert "尚未纳入检查点" in first  # entries after the checkpoint: nothing to verify yet
    proof = reviewer.get(f"{base_url}/admin/log/{size - 1}/proof")
    assert proof.status_code == 200 and proof.json()["tree_size"] == size
    assert reviewer.get(f"{base_url}/admin/log/{size}/proof").status_code == 404
    refused = reviewer.get(f"{base_url}/admin/log?before=x")
    assert refused.status_code == 200 and "此翻页链接无效" in refused.text


def test_markup_in_a_filter_is_shown_as_text(hub: Hub, base_url: str) -> None:
    add(hub, "页面observer", "observer")
    observer = sign_in(base_url, "页面observer")
    page = observer.get(
        f"{base_url}/admin/messages", params={"business_key": '<script>alert(1)</script>"'}
    )
    assert page.status_code == 200
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in page.text
