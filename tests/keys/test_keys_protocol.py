"""The wire constants of ``keys.protocol``: the strings PROTOCOL.md fixes, one place for all."""

from __future__ import annotations

import json
import re

import keys
import schemas
from keys import (
    ACK_TYP,
    CHECKPOINT_TYP,
    EVIDENCE_FORMAT,
    HUB_PARTNER_ID,
    MESSAGE_TYP,
    RECEIPT_TYP,
    LogAction,
)
from schemas import canonical_bytes

# PROTOCOL §6 and every action the hub writes: (subject, event) as the log shows them.
HUB_ACTIONS = (
    "message:received",
    "message:released",
    "message:review:approved",
    "message:review:rejected",
    "message:pulled",
    "message:acked",
    "message:delivered",
    "message:delivery-failed",
    "message:dead-lettered",
    "message:delivery-resent",
    "partner:added",
    "partner:suspended",
    "partner:reinstated",
    "partner:webhook-set",
    "partner:webhook-removed",
    "partner:webhook-disabled",
    "key:added",
    "key:revoked",
    "account:added",
    "account:disabled",
    "account:password-reset",
    "account:login",
    "account:login-failed",
    "account:logout",
)


def test_the_typ_values_are_those_of_the_protocol() -> None:
    """PROTOCOL §3 and §5 spell them; a partner's JOSE library compares them to the byte."""
    assert (MESSAGE_TYP, RECEIPT_TYP, ACK_TYP, CHECKPOINT_TYP) == (
        "exchange-message+jws",
        "exchange-receipt+jws",
        "exchange-ack+jws",
        "exchange-checkpoint+jws",
    )
    assert EVIDENCE_FORMAT == "exchange-evidence/1"


def test_the_hub_partner_id_is_the_one_schemas_knows() -> None:
    """Keys and schemas are independent leaves: each holds ``hub``, and they must agree."""
    assert HUB_PARTNER_ID == schemas.HUB_PARTNER_ID == "hub"


def test_every_action_the_hub_writes_is_a_log_action() -> None:
    """Exactly the hub's actions, each ``subject:event`` in lower case, none twice."""
    assert sorted(LogAction) == sorted(HUB_ACTIONS)
    for action in LogAction:
        assert re.fullmatch(r"(message|partner|key|account)(:[a-z]+(-[a-z]+)*)+", action), action
        assert action.name == action.value.upper().replace(":", "_").replace("-", "_")


def test_a_log_action_is_its_string_on_the_wire() -> None:
    """A member compares, formats, dumps and canonicalizes as its plain string."""
    action = LogAction.MESSAGE_RECEIVED
    assert action == "message:received" and hash(action) == hash("message:received")
    assert f"{action}" == str(action) == "message:received"
    assert LogAction("key:added") is LogAction.KEY_ADDED
    entry = {"action": action, "index": 0}
    assert json.dumps(entry) == json.dumps({"action": "message:received", "index": 0})
    assert canonical_bytes(entry) == b'{"action":"message:received","index":0}'


def test_the_constants_are_exported() -> None:
    for name in ("ACK_TYP", "CHECKPOINT_TYP", "EVIDENCE_FORMAT", "HUB_PARTNER_ID", "LogAction"):
        assert name in keys.__all__, name
        assert getattr(keys, name) is getattr(keys.protocol, name)
