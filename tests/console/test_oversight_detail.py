"""The console's message detail (issue 11): the same view the API gives the message's
readers — envelope, deliveries with their acks, log entries — and its evidence bundle
verifying offline; an unknown id is refused.
"""

from __future__ import annotations

import pytest

from exchange.console.oversight.detail import message_detail
from exchange.errors import NotFound
from exchange.hub import Hub
from exchange.transparency.evidence import export_evidence
from keys.evidence import verify_evidence
from schemas import examples
from tests.support import PartnerKeys, review, signed_request


def test_the_detail_is_the_readers_view_with_acks_and_evidence(
    base_url: str, hub: Hub, partners: dict[str, PartnerKeys]
) -> None:
    audit = partners["audit"].client(base_url)
    discipline = partners["discipline"].client(base_url)
    sent = audit.send(examples.referral_example())
    review(hub, sent.id, "zhang.reviewer")
    review(hub, sent.id, "li.reviewer")
    discipline.ack([item.envelope["id"] for item in discipline.inbox().items])

    with hub.readers() as session:
        detail = message_detail(session, hub.trust, sent.id)
        with pytest.raises(NotFound):
            message_detail(session, hub.trust, "no-such-message")
    answered = signed_request(base_url, partners["audit"], "GET", f"/v1/messages/{sent.id}")
    assert answered.status_code == 200, answered.text
    assert detail == answered.json()
    [delivered] = detail["deliveries"]
    assert delivered["recipient"] == "discipline.yanliang" and delivered["ack"]
    actions = [event["action"] for event in detail["events"]]
    assert actions[0] == "message:received" and "message:acked" in actions

    with hub.sessions.begin() as session:
        bundle = export_evidence(session, hub.trust, hub.notary, sent.id, now=hub.now())
    verify_evidence(bundle)
    assert bundle["envelope"]["id"] == sent.id
