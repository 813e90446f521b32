"""The partner API end to end over real HTTP: submit, review, pull, ack, read."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from sqlalchemy import text

from adapters import ExchangeClient, HubError
from exchange.admin.partners import set_partner_status
from exchange.errors import ExchangeError
from exchange.hub import Hub
from keys import jws
from schemas import canonical_bytes, envelope_sha256, examples
from tests.support import PartnerKeys, message_count, post_json, review

Partners = dict[str, PartnerKeys]


def test_submit_is_idempotent(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    body = audit.sign(examples.rectification_example())
    first = post_json(base_url, audit, "/v1/messages", body)
    assert first.status_code == 201
    again = post_json(base_url, audit, "/v1/messages", body)
    assert again.status_code == 200
    assert again.json() == first.json()
    assert message_count(hub) == 1


def test_a_retry_gets_its_receipt_though_the_route_has_closed_since(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    """The first answer was lost; meanwhile a recipient was suspended. The retry of the very
    same message is answered as the first was, and a new message on that route is refused.
    """
    audit = partners["audit"]
    body = audit.sign(examples.rectification_example())
    first = post_json(base_url, audit, "/v1/messages", body)
    assert first.status_code == 201
    with hub.sessions.begin() as session:
        set_partner_status(session, "personnel.yanliang", "suspended", actor="test", now=hub.now())
    again = post_json(base_url, audit, "/v1/messages", body)
    assert (again.status_code, again.json()) == (200, first.json())
    batch = post_json(base_url, audit, "/v1/messages:batch", {"messages": [body]})
    assert batch.json()["results"] == [{"id": body["envelope"]["id"], **first.json()}]
    changed = dict(body["envelope"], payload={**body["envelope"]["payload"], "rules_made": 2})
    refused = post_json(base_url, audit, "/v1/messages", audit.sign(changed))
    assert refused.status_code == 403
    new = post_json(base_url, audit, "/v1/messages", audit.sign(examples.rectification_example()))
    assert new.status_code == 403
    assert message_count(hub) == 1


def test_receipt_is_signed_by_the_hub(base_url: str, hub: Hub, partners: Partners) -> None:
    client = partners["audit"].client(base_url)
    envelope = examples.rectification_example()
    result = client.send(envelope)
    assert result.claims["envelope_sha256"] == envelope_sha256(envelope)
    assert result.claims["from"] == "audit.yanliang"
    assert result.claims["status"] == "released"
    assert result.claims["log_index"] == result.log_index
    assert set(result.claims) >= {
        "id",
        "type",
        "from",
        "to",
        "envelope_sha256",
        "received_at",
        "status",
        "log_index",
    }


def _approve(hub: Hub, message_id: str, reviewer: str) -> str:
    return review(hub, message_id, reviewer)


def test_referral_waits_for_two_distinct_reviewers(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    discipline = partners["discipline"].client(base_url)
    envelope = examples.referral_example()
    result = audit.send(envelope)
    assert result.status == "pending_review"
    assert discipline.inbox().items == []
    assert _approve(hub, envelope["id"], "张审核") == "pending_review"
    with pytest.raises(ExchangeError, match="already reviewed"):
        _approve(hub, envelope["id"], "张审核")
    assert discipline.inbox().items == []
    assert _approve(hub, envelope["id"], "李复核") == "released"
    items = discipline.inbox().items
    assert [i.envelope["id"] for i in items] == [envelope["id"]]


def test_rejected_message_never_reaches_the_inbox(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    personnel = partners["personnel"].client(base_url)
    envelope = examples.share_example()
    assert audit.send(envelope).status == "pending_review"
    status = review(hub, envelope["id"], "王审核", reason="附件不全")
    assert status == "rejected"
    assert personnel.inbox().items == []
    assert audit.message(envelope["id"])["status"] == "rejected"


def test_pull_ack_and_sender_sees_the_ack(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"].client(base_url)
    envelopes = [examples.rectification_example() for _ in range(5)]
    for envelope in envelopes:
        audit.send(envelope)
    discipline = partners["discipline"].client(base_url)
    first = discipline.inbox(limit=3)
    assert [i.envelope["id"] for i in first.items] == [e["id"] for e in envelopes[:3]]
    assert first.next is not None
    rest = discipline.inbox(after=first.next, limit=3)
    assert [i.envelope["id"] for i in rest.items] == [e["id"] for e in envelopes[3:]]
    assert rest.next is None
    results = discipline.ack([e["id"] for e in envelopes])
    assert [r["status"] for r in results] == ["acked"] * 5
    assert discipline.ack([envelopes[0]["id"]])[0]["status"] == "acked"  # harmless twice
    assert discipline.inbox(unacked=True).items == []
    view = audit.message(envelopes[0]["id"])
    delivery = next(d for d in view["deliveries"] if d["recipient"] == "discipline.yanliang")
    assert delivery["state"] == "acked"
    assert delivery["ack"]
    actions = [e["action"] for e in view["events"]]
    assert actions[:2] == ["message:received", "message:released"]
    assert "message:pulled" in actions
    assert "message:acked" in actions


def test_ack_by_someone_else_is_refused(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"].client(base_url)
    envelope = examples.rectification_example(recipients=["discipline.yanliang"])
    audit.send(envelope)
    outsider = partners["inspection"]
    token = jws.sign_compact(
        canonical_bytes(
            {
                "id": envelope["id"],
                "envelope_sha256": envelope_sha256(envelope),
                "acked_at": "2026-11-22T00:00:00Z",
            }
        ),
        outsider.key,
        kid=outsider.kid,
        typ="exchange-ack+jws",
    )
    reply = post_json(
        base_url, outsider, "/v1/inbox/acks", {"acks": [{"id": envelope["id"], "ack": token}]}
    )
    assert reply.status_code == 200
    assert reply.json()["results"][0]["error"]["type"] == "urn:exchange:error:not-found"
    delivery = audit.message(envelope["id"])["deliveries"][0]
    assert delivery["acked_at"] is None


def test_ack_over_another_digest_is_refused(base_url: str, hub: Hub, partners: Partners) -> None:
    partners["audit"].client(base_url).send(
        envelope := examples.rectification_example(recipients=["discipline.yanliang"])
    )
    discipline = partners["discipline"]
    token = jws.sign_compact(
        canonical_bytes(
            {"id": envelope["id"], "envelope_sha256": "0" * 64, "acked_at": "2026-11-22T00:00:00Z"}
        ),
        discipline.key,
        kid=discipline.kid,
        typ="exchange-ack+jws",
    )
    reply = post_json(
        base_url, discipline, "/v1/inbox/acks", {"acks": [{"id": envelope["id"], "ack": token}]}
    )
    assert reply.json()["results"][0]["error"]["type"] == "urn:exchange:error:signature-invalid"


def test_id_numbers_and_payloads_are_not_stored_in_clear(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"].client(base_url)
    envelope = examples.referral_example()
    id_numbers = [
        p["id_number"] for p in envelope["payload"]["involved_persons"] if "id_number" in p
    ]
    assert id_numbers
    facts = envelope["payload"]["facts"]
    audit.send(envelope)
    with hub.engine.connect() as connection:
        rows = []
        for table in ("messages", "person_refs", "log_entries", "deliveries"):
            rows += [repr(tuple(r)) for r in connection.execute(text(f"SELECT * FROM {table}"))]
        raw = connection.execute(text("SELECT sealed_envelope FROM messages")).scalar_one()
        refs = connection.execute(
            text("SELECT masked, id_hmac FROM person_refs ORDER BY json_path")
        ).all()
    dump = "\n".join(rows)
    assert facts[:10] not in dump
    assert bytes(raw).find(facts[:10].encode()) == -1
    for id_number in id_numbers:
        assert id_number not in dump
        assert id_number.encode() not in bytes(raw)
    assert sorted(tuple(r) for r in refs) == sorted(
        (n[:3] + "*" * 11 + n[-4:], hub.trust.person_hmac(n)) for n in id_numbers
    )
    # With the sealing key, the stored envelope is exactly what was signed.
    assert hub.trust.sealing.open(bytes(raw), aad=envelope["id"].encode()) == canonical_bytes(
        envelope
    )


def test_partner_directory_and_jwks(base_url: str, hub: Hub, partners: Partners) -> None:
    client = partners["audit"].client(base_url)
    listed = {p["id"]: p for p in client.partners()}
    assert set(listed) == {p.partner_id for p in partners.values()}
    assert listed["discipline.yanliang"]["body"] == "discipline"
    assert listed["discipline.yanliang"]["keys"][0]["jwk"]["crv"] == "Ed25519"
    jwks = requests.get(base_url + "/.well-known/jwks.json", timeout=10).json()
    assert jwks["keys"][0]["kty"] == "OKP"
    assert jwks["keys"][0]["kid"].startswith("hub#")


def test_open_endpoints(base_url: str, hub: Hub, partners: Partners) -> None:
    assert requests.get(base_url + "/healthz", timeout=10).json() == {"status": "ok"}
    assert requests.get(base_url + "/readyz", timeout=10).json() == {"status": "ready"}
    partners["audit"].client(base_url).send(examples.rectification_example())
    metrics = requests.get(base_url + "/metrics", timeout=10).text
    assert "exchange_messages_accepted_total" in metrics
    spec = requests.get(base_url + "/v1/openapi.json", timeout=10).json()
    assert "/v1/messages" in spec["paths"]
    assert "/v1/inbox" in spec["paths"]
    page = requests.get(base_url + "/v1/docs", timeout=10)
    assert page.status_code == 200
    assert 'data-spec-url="/v1/openapi.json"' in page.text  # Swagger UI renders the document
    assert "/v1/messages:batch" in spec["paths"]


def test_partner_api_requires_a_signature(base_url: str, hub: Hub, partners: Partners) -> None:
    for path in ("/v1/inbox", "/v1/partners", "/v1/messages/abcdefghijklmnop"):
        response = requests.get(base_url + path, timeout=10)
        assert response.status_code == 401, path


def test_client_raises_typed_errors(base_url: str, hub: Hub, partners: Partners) -> None:
    client: ExchangeClient = partners["audit"].client(base_url)
    envelope = examples.rectification_example()
    envelope["payload"]["responsible_unit"]["uscc"] = "bad"
    try:
        client.send(envelope)
    except HubError as refusal:
        assert refusal.status == 422
        assert refusal.code == "schema-invalid"
        assert "payload.responsible_unit.uscc" in refusal.errors
    else:
        raise AssertionError("refusal expected")


def test_batch_through_the_client(base_url: str, hub: Hub, partners: Partners) -> None:
    client = partners["inspection"].client(base_url)
    envelopes: list[dict[str, Any]] = [
        examples.rectification_example(sender="inspection.yanliang", recipients=["audit.yanliang"])
        for _ in range(20)
    ]
    results = client.send_batch(envelopes)
    assert all(not isinstance(r, HubError) for r in results)
    assert message_count(hub) == 20
    again = client.send_batch(envelopes)
    assert [getattr(r, "log_index", None) for r in again] == [
        getattr(r, "log_index", None) for r in results
    ]
    assert message_count(hub) == 20
    assert (
        json.dumps([r.status for r in results if not isinstance(r, HubError)]).count("released")
        == 20
    )
