"""Every refusal of PROTOCOL §8: the right problem type, and nothing stored."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from exchange.hub import Hub
from exchange.store.models import PartnerKey
from keys import SigningKey
from schemas import examples
from tests.support import (
    PartnerKeys,
    message_count,
    post_json,
    problem_code,
    signed_request,
)

Partners = dict[str, PartnerKeys]


def referral() -> dict[str, Any]:
    return examples.referral_example()


def refused(
    base_url: str, hub: Hub, who: PartnerKeys, document: Any, code: str, status: int
) -> dict[str, Any]:
    """POST, assert the refusal, assert no message row; return the problem."""
    response = post_json(base_url, who, "/v1/messages", document)
    assert response.status_code == status, response.text
    assert problem_code(response) == code
    assert message_count(hub) == 0
    problem: dict[str, Any] = response.json()
    return problem


def test_malformed_json(base_url: str, hub: Hub, partners: Partners) -> None:
    response = signed_request(
        base_url, partners["audit"], "POST", "/v1/messages", body=b'{"envelope": {'
    )
    assert response.status_code == 400
    assert problem_code(response) == "invalid-json"
    assert message_count(hub) == 0


def test_unknown_top_level_field(base_url: str, hub: Hub, partners: Partners) -> None:
    envelope = referral() | {"priority": "high"}
    problem = refused(
        base_url, hub, partners["audit"], partners["audit"].sign(envelope), "schema-invalid", 422
    )
    assert "priority" in problem["errors"]


def test_unknown_payload_field(base_url: str, hub: Hub, partners: Partners) -> None:
    envelope = referral()
    envelope["payload"]["audited_unit"]["nickname"] = "x"
    problem = refused(
        base_url, hub, partners["audit"], partners["audit"].sign(envelope), "schema-invalid", 422
    )
    assert "payload.audited_unit.nickname" in problem["errors"]


ENVELOPE_REQUIRED = ["id", "type", "from", "to", "sent_at", "classification", "payload"]
REFERRAL_REQUIRED = [
    "referral_id",
    "source",
    "audited_unit",
    "issue_category",
    "facts",
    "legal_basis",
    "evidence",
    "feedback_due",
]


@pytest.mark.parametrize("field", ENVELOPE_REQUIRED)
def test_envelope_required_field_missing(
    base_url: str, hub: Hub, partners: Partners, field: str
) -> None:
    envelope = referral()
    del envelope[field]
    problem = refused(
        base_url,
        hub,
        partners["audit"],
        partners["audit"].sign(envelope),
        "schema-invalid" if field != "from" else problem_for_missing_from(),
        422,
    )
    if field != "from":
        assert field in problem["errors"]


def problem_for_missing_from() -> str:
    # Without `from` the envelope fails its schema before the sender can be compared.
    return "schema-invalid"


@pytest.mark.parametrize("field", REFERRAL_REQUIRED)
def test_referral_required_field_missing(
    base_url: str, hub: Hub, partners: Partners, field: str
) -> None:
    envelope = referral()
    del envelope["payload"][field]
    problem = refused(
        base_url, hub, partners["audit"], partners["audit"].sign(envelope), "schema-invalid", 422
    )
    assert f"payload.{field}" in problem["errors"]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(envelope: dict[str, Any]) -> None:
        target: Any = envelope
        *parents, last = path.split(".")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (_set("payload.audited_unit.uscc", "91110000600037341X"), "payload.audited_unit.uscc"),
        (_set("payload.audited_unit.uscc", "91110000IO0037341L"), "payload.audited_unit.uscc"),
        (
            _set("payload.involved_persons.0.id_number", "110105199001011235"),
            "payload.involved_persons[0].id_number",
        ),
        (
            _set("payload.involved_persons.0.id_number", "110105199013011234"),
            "payload.involved_persons[0].id_number",
        ),
        (_set("payload.amount_involved", "12.345"), "payload.amount_involved"),
        (_set("payload.amount_involved", 12.5), "payload.amount_involved"),
        (_set("payload.amount_involved", "-3"), "payload.amount_involved"),
        (_set("payload.feedback_due", "2025-02-30"), "payload.feedback_due"),
        (_set("sent_at", "2025-03-05T10:00:00"), "sent_at"),
        (_set("type", "clue.rumour.v1"), "type"),
        (_set("to", []), "to"),
    ],
    ids=[
        "uscc-check",
        "uscc-alphabet",
        "id-check",
        "id-birthdate",
        "amount-3dp",
        "amount-number",
        "amount-negative",
        "bad-date",
        "naive-sent-at",
        "unknown-type",
        "no-recipient",
    ],
)
def test_invalid_values(
    base_url: str, hub: Hub, partners: Partners, mutate: Callable[[dict[str, Any]], None], path: str
) -> None:
    envelope = referral()
    mutate(envelope)
    problem = refused(
        base_url, hub, partners["audit"], partners["audit"].sign(envelope), "schema-invalid", 422
    )
    assert path in problem["errors"]
    # Errors never echo payload text back.
    assert "91110000IO0037341L" not in json.dumps(problem)


@pytest.mark.parametrize(
    "mutate",
    [
        _set("classification", "secret"),
        _set("classification", "top-secret"),
        _set("payload.facts", "该项目资料标注为机密级，涉及……"),
        _set("payload.qualification", "绝密"),
        _set("subject", "秘密事项"),
    ],
    ids=["secret", "top-secret", "facts-机密", "qualification-绝密", "subject-秘密"],
)
def test_classified_content_refused(
    base_url: str, hub: Hub, partners: Partners, mutate: Callable[[dict[str, Any]], None]
) -> None:
    envelope = referral()
    mutate(envelope)
    problem = refused(
        base_url,
        hub,
        partners["audit"],
        partners["audit"].sign(envelope),
        "classified-content-refused",
        422,
    )
    assert "机密级" not in json.dumps(problem, ensure_ascii=False)


def test_jws_over_other_bytes(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    signed = audit.sign(referral())
    other = referral()
    refused(
        base_url,
        hub,
        audit,
        {"envelope": other, "signature": signed["signature"]},
        "signature-invalid",
        422,
    )


def test_from_is_not_the_signing_partner(base_url: str, hub: Hub, partners: Partners) -> None:
    inspection = partners["inspection"]
    envelope = examples.referral_example(sender="audit.yanliang")
    refused(base_url, hub, inspection, inspection.sign(envelope), "sender-mismatch", 422)


def test_message_signed_by_unknown_key(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    stranger = PartnerKeys("audit.yanliang", "audit.yanliang#stolen", SigningKey.generate())
    refused(base_url, hub, audit, stranger.sign(referral()), "unknown-key", 401)


def _revoke(hub: Hub, kid: str) -> None:
    with hub.sessions.begin() as session:
        session.execute(
            update(PartnerKey)
            .where(PartnerKey.kid == kid)
            .values(revoked_at=hub.now() - timedelta(seconds=1))
        )


def test_message_signed_by_revoked_key(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    second = register_key(hub, "audit.yanliang", "audit.yanliang#old")
    _revoke(hub, second.kid)
    refused(base_url, hub, audit, second.sign(referral()), "key-not-valid", 401)


def test_message_signed_by_expired_key(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    second = register_key(hub, "audit.yanliang", "audit.yanliang#2024")
    with hub.sessions.begin() as session:
        session.execute(
            update(PartnerKey)
            .where(PartnerKey.kid == second.kid)
            .values(not_after=hub.now() - timedelta(days=1))
        )
    refused(base_url, hub, audit, second.sign(referral()), "key-not-valid", 401)


def register_key(hub: Hub, partner_id: str, kid: str) -> PartnerKeys:
    key = SigningKey.generate()
    with hub.sessions.begin() as session:
        now = hub.now() - timedelta(days=30)
        session.add(
            PartnerKey(
                kid=kid,
                partner_id=partner_id,
                public_key=key.public_key.raw,
                not_before=now,
                created_at=now,
            )
        )
    return PartnerKeys(partner_id, kid, key)


def _body(partners: Partners) -> bytes:
    return json.dumps(partners["audit"].sign(referral()), ensure_ascii=False).encode()


def test_request_without_signature(base_url: str, hub: Hub, partners: Partners) -> None:
    import requests

    response = requests.post(
        base_url + "/v1/messages",
        data=_body(partners),
        headers={"Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 401
    assert problem_code(response) == "request-signature-invalid"
    assert message_count(hub) == 0


def test_stale_request_signature(base_url: str, hub: Hub, partners: Partners) -> None:
    response = signed_request(
        base_url,
        partners["audit"],
        "POST",
        "/v1/messages",
        body=_body(partners),
        created=int(time.time()) - 301,
    )
    assert response.status_code == 401
    assert problem_code(response) == "request-signature-invalid"
    assert message_count(hub) == 0


def test_request_signed_by_revoked_key(base_url: str, hub: Hub, partners: Partners) -> None:
    _revoke(hub, partners["audit"].kid)
    response = signed_request(
        base_url, partners["audit"], "POST", "/v1/messages", body=_body(partners)
    )
    assert response.status_code == 401
    assert problem_code(response) == "key-not-valid"
    assert message_count(hub) == 0


def test_request_signed_by_unknown_key(base_url: str, hub: Hub, partners: Partners) -> None:
    response = signed_request(
        base_url,
        partners["audit"],
        "POST",
        "/v1/messages",
        body=_body(partners),
        key=SigningKey.generate(),
        kid="audit.yanliang#unknown",
    )
    assert response.status_code == 401
    assert problem_code(response) == "unknown-key"
    assert message_count(hub) == 0


def test_body_not_matching_content_digest(base_url: str, hub: Hub, partners: Partners) -> None:
    import requests

    from keys import HttpRequest, httpsig

    body = _body(partners)
    url = base_url + "/v1/messages"
    headers = {"Content-Type": "application/json"}
    headers.update(
        httpsig.sign_request(
            HttpRequest("POST", url, headers, body),
            partners["audit"].key,
            kid=partners["audit"].kid,
        )
    )
    # Same JSON meaning, other bytes: the digest covers bytes, not meaning.
    tampered = body.replace(b'"envelope": {', b'"envelope":  {', 1)
    assert tampered != body
    response = requests.post(url, data=tampered, headers=headers, timeout=10)
    assert response.status_code == 401
    assert problem_code(response) == "request-signature-invalid"
    assert message_count(hub) == 0


def test_route_not_allowed(base_url: str, hub: Hub, partners: Partners) -> None:
    # Personnel does not refer clues to audit.
    personnel = partners["personnel"]
    envelope = examples.referral_example(sender="personnel.yanliang", recipients=["audit.yanliang"])
    refused(base_url, hub, personnel, personnel.sign(envelope), "route-not-allowed", 403)


def test_recipient_not_registered(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    envelope = examples.referral_example(recipients=["discipline.elsewhere"])
    refused(base_url, hub, audit, audit.sign(envelope), "route-not-allowed", 403)


def test_feedback_without_a_referral(base_url: str, hub: Hub, partners: Partners) -> None:
    discipline = partners["discipline"]
    envelope = examples.clue_feedback_example()
    refused(base_url, hub, discipline, discipline.sign(envelope), "route-not-allowed", 403)


def test_duplicate_with_other_content(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    first = examples.rectification_example()
    response = post_json(base_url, audit, "/v1/messages", audit.sign(first))
    assert response.status_code == 201
    changed = json.loads(json.dumps(first))
    changed["payload"]["problem_description"] += "（补充）"
    response = post_json(base_url, audit, "/v1/messages", audit.sign(changed))
    assert response.status_code == 409
    assert problem_code(response) == "duplicate-conflict"
    assert message_count(hub) == 1


def test_oversize_message(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    envelope = referral()
    envelope["payload"]["legal_basis"] = ["《中华人民共和国审计法》第五十条" * 10] * 4000
    refused(base_url, hub, audit, audit.sign(envelope), "payload-too-large", 413)


def test_partner_cannot_read_anothers_message(base_url: str, hub: Hub, partners: Partners) -> None:
    audit, inspection = partners["audit"], partners["inspection"]
    envelope = examples.rectification_example(recipients=["discipline.yanliang"])
    assert post_json(base_url, audit, "/v1/messages", audit.sign(envelope)).status_code == 201
    response = signed_request(base_url, inspection, "GET", f"/v1/messages/{envelope['id']}")
    assert response.status_code == 404
    assert problem_code(response) == "not-found"
    own = signed_request(base_url, audit, "GET", f"/v1/messages/{envelope['id']}")
    assert own.status_code == 200


def test_batch_items_are_independent(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    good = [examples.rectification_example() for _ in range(3)]
    bad = examples.rectification_example()
    bad["payload"]["responsible_unit"]["uscc"] = "123"
    items = [audit.sign(e) for e in good[:2]] + [audit.sign(bad)] + [audit.sign(good[2])]
    response = post_json(base_url, audit, "/v1/messages:batch", {"messages": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r.get("status") for r in results] == ["released", "released", None, "released"]
    assert results[2]["error"]["type"] == "urn:exchange:error:schema-invalid"
    assert "payload.responsible_unit.uscc" in results[2]["error"]["errors"]
    assert message_count(hub) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("after=abc", "after"),
        ("unacked=maybe", "unacked"),
    ],
)
def test_inbox_query_refusals(
    base_url: str, hub: Hub, partners: Partners, query: str, field: str
) -> None:
    response = signed_request(base_url, partners["discipline"], "GET", f"/v1/inbox?{query}")
    assert response.status_code == 422
    assert problem_code(response) == "schema-invalid"
    assert field in response.json()["errors"]


def test_batch_of_more_than_100_is_refused_whole(
    base_url: str, hub: Hub, partners: Partners
) -> None:
    audit = partners["audit"]
    items = [audit.sign(examples.rectification_example()) for _ in range(101)]
    response = post_json(base_url, audit, "/v1/messages:batch", {"messages": items})
    assert response.status_code == 422
    assert problem_code(response) == "schema-invalid"
    assert "messages" in response.json()["errors"]
    assert message_count(hub) == 0


def test_batch_over_8_mib_is_refused(base_url: str, hub: Hub, partners: Partners) -> None:
    audit = partners["audit"]
    envelope = examples.rectification_example()
    envelope["payload"]["measures"] = "整改措施" * 60_000  # ~720 KB of UTF-8 each
    items = [audit.sign(envelope) for _ in range(12)]
    response = post_json(base_url, audit, "/v1/messages:batch", {"messages": items})
    assert response.status_code == 413
    assert problem_code(response) == "payload-too-large"
    assert message_count(hub) == 0


@pytest.mark.parametrize("hidden", ["\u200b", "\u0301", "\u202e", "\ufe0f", "\U000e0041", "\u2065"])
@pytest.mark.parametrize(
    ("example", "key"),
    [
        (examples.rectification_example, "ledger_item_id"),
        (examples.referral_example, "referral_id"),
        (examples.share_example, "share_id"),
    ],
)
def test_business_keys_that_look_like_another_are_refused(
    base_url: str,
    hub: Hub,
    partners: Partners,
    hidden: str,
    example: Callable[[], dict[str, Any]],
    key: str,
) -> None:
    envelope = example()
    envelope["payload"][key] = envelope["subject"] = envelope["payload"][key] + hidden
    problem = refused(
        base_url, hub, partners["audit"], partners["audit"].sign(envelope), "schema-invalid", 422
    )
    assert problem["errors"][f"payload.{key}"] == [
        "Must not contain invisible characters or combining marks."
    ]
