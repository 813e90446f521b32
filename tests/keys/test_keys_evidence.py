"""Evidence bundles verify offline, and altering any single field anywhere makes them fail."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import rfc8785
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from keys import (
    EvidenceInvalid,
    KeysError,
    SigningKey,
    VerifiedEvidence,
    inclusion_proof,
    jwk_set,
    leaf_hash,
    root_hash,
    sign_compact,
    sign_detached,
    verify_evidence,
)

HUB_KID = "hub#2026-11"
SENDER = "audit.yanliang"
DISCIPLINE = "discipline.yanliang"
PERSONNEL = "personnel.yanliang"
OUTSIDER = "inspection.yanliang"
SENDER_KID = f"{SENDER}#2026-11"
DISCIPLINE_KID = f"{DISCIPLINE}#2026-11"
PERSONNEL_KID = f"{PERSONNEL}#2026-11"
OUTSIDER_KID = f"{OUTSIDER}#2026-11"
MESSAGE_ID = "01JD6Y3ZQ8R2M4T5V6W7X8Y9ZA"
OTHER_ID = "01JD6Y0000000000000000OTHR"
ADMIN = "admin:zhang.wei"
T0 = datetime(2026, 11, 21, 22, 0, tzinfo=UTC)

JsonPath = tuple[str | int, ...]


def jcs(value: Any) -> str:
    """RFC 8785 text of a JSON value."""
    return rfc8785.dumps(value).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def referral() -> dict[str, Any]:
    """A clue referral from an audit office to the discipline and personnel bodies."""
    return {
        "id": MESSAGE_ID,
        "type": "clue.referral.v1",
        "from": SENDER,
        "to": [DISCIPLINE, PERSONNEL],
        "sent_at": "2026-11-22T06:00:00+08:00",
        "classification": "internal",
        "subject": "YLSJ-2026-0042",
        "payload": {
            "referral_id": "YLSJ-2026-0042",
            "title": "某国有企业违规发放津贴补贴问题线索",
            "summary": "审计发现2025年度超标准发放津贴，涉及金额较大。",
            "amount": "1280000.00",
            "persons_involved": 2,
            "urgent": True,
            "share_of_budget": 0.25,
            "evidence": [
                {"name": "审计工作底稿.pdf", "sha256": sha256_hex(b"working papers")},
                {"name": "会计凭证.zip", "sha256": sha256_hex(b"vouchers")},
            ],
        },
    }


class Scene:
    """A hub's transparency log around one message, and every key that signs what a bundle shows.

    ``tell()`` plays the story; ``bundle()`` exports what an evidence export would hold. Tests
    change ``shown``, ``acks``, ``receipt`` or ``partner_kids`` (or log more) before exporting.
    """

    def __init__(self) -> None:
        self.hub = {HUB_KID: SigningKey.generate()}
        self.partners = {
            kid: SigningKey.generate()
            for kid in (SENDER_KID, DISCIPLINE_KID, PERSONNEL_KID, OUTSIDER_KID)
        }
        self.envelope = referral()
        self.envelope_jcs = jcs(self.envelope)
        self.envelope_sha256 = sha256_hex(self.envelope_jcs.encode())
        self.signature = self.sign_envelope(SENDER_KID)
        self.entries: list[dict[str, Any]] = []
        self.shown: list[int] = []
        self.acks: list[dict[str, str]] = []
        self.receipt = ""
        self.partner_kids = [SENDER_KID, DISCIPLINE_KID, PERSONNEL_KID]
        self.hub_kids = [HUB_KID]

    def log(self, actor: str, action: str, **fields: Any) -> int:
        """Append one entry, as the hub's ledger writes it; return its index."""
        index = len(self.entries)
        at = (T0 + timedelta(seconds=index)).isoformat().replace("+00:00", "Z")
        self.entries.append({"index": index, "at": at, "actor": actor, "action": action, **fields})
        return index

    def log_about(self, actor: str, action: str, **fields: Any) -> int:
        """Append an entry about the message of this scene."""
        return self.log(
            actor,
            action,
            message_id=MESSAGE_ID,
            type="clue.referral.v1",
            envelope_sha256=self.envelope_sha256,
            **fields,
        )

    def key_added(self, kid: str) -> int:
        raw = self.partners[kid].public_key.raw
        return self.log(ADMIN, "key:added", kid=kid, key_sha256=sha256_hex(raw))

    def sign_envelope(self, kid: str) -> str:
        content = self.envelope_jcs.encode()
        return sign_detached(content, self.partners[kid], kid=kid, typ="exchange-message+jws")

    def hub_token(self, claims: dict[str, Any], typ: str, kid: str = HUB_KID) -> str:
        return sign_compact(jcs(claims).encode(), self.hub[kid], kid=kid, typ=typ)

    def make_receipt(self, at_index: int, kid: str = HUB_KID, **changes: Any) -> str:
        claims = {
            "id": MESSAGE_ID,
            "type": "clue.referral.v1",
            "from": SENDER,
            "to": [DISCIPLINE, PERSONNEL],
            "envelope_sha256": self.envelope_sha256,
            "received_at": "2026-11-21T22:00:06Z",
            "status": "released",
            "log_index": at_index,
            **changes,
        }
        return self.hub_token(claims, "exchange-receipt+jws", kid)

    def make_ack(self, kid: str, **changes: Any) -> str:
        claims = {
            "id": MESSAGE_ID,
            "envelope_sha256": self.envelope_sha256,
            "acked_at": "2026-11-22T09:30:00+08:00",
            **changes,
        }
        return sign_compact(
            jcs(claims).encode(), self.partners[kid], kid=kid, typ="exchange-ack+jws"
        )

    def acked(self, recipient: str, ack: str) -> int:
        """Log an ack and add it to the bundle's acks."""
        index = self.log_about(recipient, "message:acked", ack_sha256=sha256_hex(ack.encode()))
        self.acks.append({"recipient": recipient, "ack": ack})
        return index

    def leaves(self) -> list[bytes]:
        return [leaf_hash(jcs(entry).encode()) for entry in self.entries]

    def checkpoint(self, kid: str = HUB_KID) -> str:
        claims = {
            "origin": "exchange.yanliang.example",
            "tree_size": len(self.entries),
            "root_hash": root_hash(self.leaves()).hex(),
            "issued_at": "2026-11-21T23:00:00Z",
        }
        return self.hub_token(claims, "exchange-checkpoint+jws", kid)

    def item(self, index: int) -> dict[str, Any]:
        proof = inclusion_proof(self.leaves(), index)
        return {"entry": jcs(self.entries[index]), "proof": [h.hex() for h in proof]}

    def tell(self) -> None:
        """The standard story: keys registered, the message received, released, pulled, acked."""
        self.log(ADMIN, "partner:added", partner=SENDER)  # 0, not shown
        for kid in self.partners:
            self.key_added(kid)  # 1..4; the outsider's (4) is not shown
        self.log(  # 5, another message: not shown
            DISCIPLINE,
            "message:received",
            message_id=OTHER_ID,
            type="clue.feedback.v1",
            envelope_sha256=sha256_hex(b"another envelope"),
            kid=DISCIPLINE_KID,
        )
        received = self.log_about(SENDER, "message:received", kid=SENDER_KID)  # 6
        self.log_about("hub", "message:released")  # 7
        self.log_about(DISCIPLINE, "message:pulled")  # 8
        self.log("hub", "message:released", message_id=OTHER_ID)  # 9, not shown
        self.acked(DISCIPLINE, self.make_ack(DISCIPLINE_KID))  # 10
        self.log_about(PERSONNEL, "message:pulled")  # 11
        self.acked(PERSONNEL, self.make_ack(PERSONNEL_KID))  # 12
        self.log(ADMIN, "admin:login")  # 13, not shown
        self.receipt = self.make_receipt(received)
        self.shown = [1, 2, 3, 6, 7, 8, 10, 11, 12]

    def bundle(self) -> dict[str, Any]:
        """The evidence bundle of the message, as the hub would export it now."""
        return {
            "format": "exchange-evidence/1",
            "message_id": MESSAGE_ID,
            "envelope": copy.deepcopy(self.envelope),
            "envelope_jcs": self.envelope_jcs,
            "signature": self.signature,
            "receipt": self.receipt,
            "acks": copy.deepcopy(self.acks),
            "log": [self.item(index) for index in self.shown],
            "checkpoint": self.checkpoint(self.hub_kids[0]),
            "keys": {
                "hub": jwk_set({kid: self.hub[kid].public_key for kid in self.hub_kids}),
                "partners": jwk_set(
                    {kid: self.partners[kid].public_key for kid in self.partner_kids}
                ),
            },
        }


@pytest.fixture
def scene() -> Scene:
    """A fresh scene with the standard story told; tests may log more and re-export."""
    told = Scene()
    told.tell()
    return told


@pytest.fixture(scope="module")
def told() -> Scene:
    """One scene for the tests that only read it."""
    once = Scene()
    once.tell()
    return once


@pytest.fixture(scope="module")
def good(told: Scene) -> dict[str, Any]:
    """The standard bundle; copy it before changing it."""
    return told.bundle()


def refusal(bundle: Any, **kwargs: Any) -> EvidenceInvalid:
    """The EvidenceInvalid verifying this bundle raises (any other exception fails the test)."""
    with pytest.raises(EvidenceInvalid) as caught:
        verify_evidence(bundle, **kwargs)
    return caught.value


def refused(bundle: Any) -> bool:
    try:
        verify_evidence(bundle)
    except EvidenceInvalid:
        return True
    return False


# --- Walking the bundle -------------------------------------------------------------------------


def nodes(value: Any, path: JsonPath = ()) -> Iterator[tuple[JsonPath, Any]]:
    """Every node of a JSON document with its path, containers before their members."""
    yield path, value
    if isinstance(value, dict):
        for name, member in value.items():
            yield from nodes(member, (*path, name))
    elif isinstance(value, list):
        for i, member in enumerate(value):
            yield from nodes(member, (*path, i))


def leaves(value: Any) -> list[tuple[JsonPath, Any]]:
    return [(path, node) for path, node in nodes(value) if not isinstance(node, dict | list)]


def show(path: JsonPath) -> str:
    """A path as EvidenceInvalid.field writes it: ``log[2].proof[0]``."""
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


def edited(bundle: dict[str, Any], path: JsonPath, edit: Callable[[Any, Any], None]) -> Any:
    """A deep copy of bundle with ``edit(parent, last step)`` applied at path."""
    changed = copy.deepcopy(bundle)
    parent: Any = changed
    for step in path[:-1]:
        parent = parent[step]
    edit(parent, path[-1])
    return changed


def replaced(bundle: dict[str, Any], path: JsonPath, value: Any) -> Any:
    def put(parent: Any, step: Any) -> None:
        parent[step] = value

    return edited(bundle, path, put)


def other_char(char: str) -> str:
    """A different character of the same kind: hex stays hex, base64url stays base64url."""
    for alphabet in ("0123456789abcdef", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "ghijklmnopqrstuvwxyz"):
        if char in alphabet:
            return alphabet[(alphabet.index(char) + 1) % len(alphabet)]
    if char.isascii():
        return "-" if char == "_" else "_"
    return chr(ord(char) + 1)


def altered_values(value: Any) -> list[Any]:
    """Small alterations of a leaf: one character changed at the start, middle and end; +1."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1]
    assert isinstance(value, str) and value, value
    return [
        value[:i] + other_char(value[i]) + value[i + 1 :]
        for i in sorted({0, len(value) // 2, len(value) - 1})
    ]


# --- The good bundle ----------------------------------------------------------------------------


def test_a_good_bundle_verifies_and_returns_what_it_proves(told: Scene, good: Any) -> None:
    verified = verify_evidence(good)
    assert isinstance(verified, VerifiedEvidence)
    assert verified.message_id == MESSAGE_ID
    assert verified.envelope == told.envelope
    assert verified.sender_kid == SENDER_KID
    assert verified.checkpoint["tree_size"] == len(told.entries) == 14
    assert verified.checkpoint["root_hash"] == root_hash(told.leaves()).hex()
    assert [e["index"] for e in verified.entries] == told.shown
    assert verified.entries == [told.entries[i] for i in told.shown]
    assert verified.acked_by == (DISCIPLINE, PERSONNEL)
    assert verified.receipt["log_index"] == 6
    assert verified.receipt["status"] == "released"


def test_it_verifies_from_json_text_whatever_the_escaping(good: Any) -> None:
    for ensure_ascii in (True, False):
        text = json.dumps(good, ensure_ascii=ensure_ascii, indent=2)
        assert verify_evidence(json.loads(text)).acked_by == (DISCIPLINE, PERSONNEL)


def test_the_order_of_log_items_does_not_matter(good: Any) -> None:
    shuffled = copy.deepcopy(good)
    random.Random(7).shuffle(shuffled["log"])
    assert shuffled["log"] != good["log"]
    indices = [e["index"] for e in verify_evidence(shuffled).entries]
    assert indices == sorted(indices)


def test_a_message_no_one_acked_yet_verifies_with_no_acks() -> None:
    scene = Scene()
    scene.tell()
    scene.acks = []
    scene.shown = [1, 2, 3, 6, 7, 8, 11]
    assert verify_evidence(scene.bundle()).acked_by == ()


def test_the_result_is_frozen(good: Any) -> None:
    verified = verify_evidence(good)
    with pytest.raises(AttributeError):
        verified.message_id = "x"  # type: ignore[misc]


# --- Pinned hub keys ----------------------------------------------------------------------------


def test_pinned_hub_keys_that_hold_the_hub_key_verify(told: Scene, good: Any) -> None:
    pinned = jwk_set(
        {
            HUB_KID: told.hub[HUB_KID].public_key,
            "hub#2027-05": SigningKey.generate().public_key,
        }
    )
    assert verify_evidence(good, hub_keys=pinned).message_id == MESSAGE_ID


def test_a_different_pinned_hub_key_fails(good: Any) -> None:
    pinned = jwk_set({HUB_KID: SigningKey.generate().public_key})
    assert refusal(good, hub_keys=pinned).field == "keys.hub.keys[0]"


def test_the_hub_key_pinned_under_another_kid_fails(told: Scene, good: Any) -> None:
    pinned = jwk_set({"hub#2025-01": told.hub[HUB_KID].public_key})
    assert refusal(good, hub_keys=pinned).field.startswith("keys.hub")


def test_a_forged_hub_fools_only_an_inspector_who_pins_nothing(told: Scene) -> None:
    """A bundle made up end to end by another 'hub' is self-consistent; pinning catches it."""
    forger = Scene()
    forger.tell()
    forged = forger.bundle()
    verify_evidence(forged)
    pinned = jwk_set({HUB_KID: told.hub[HUB_KID].public_key})
    assert refusal(forged, hub_keys=pinned).field == "keys.hub.keys[0]"


def test_with_pinned_keys_an_altered_bundle_hub_key_still_fails(told: Scene, good: Any) -> None:
    pinned = jwk_set({HUB_KID: told.hub[HUB_KID].public_key})
    for path, value in leaves(good["keys"]["hub"]):
        for altered in altered_values(value):
            bad = replaced(good, ("keys", "hub", *path), altered)
            assert refusal(bad, hub_keys=pinned).field.startswith("keys.hub"), path


# --- Every single field altered fails -----------------------------------------------------------


def test_every_leaf_altered_fails(good: Any) -> None:
    walked = leaves(good)
    assert len(walked) > 90
    assert {show(p) for p, _ in walked} >= {
        "format",
        "envelope.payload.evidence[1].sha256",
        "envelope.payload.persons_involved",
        "envelope.payload.urgent",
        "envelope.to[1]",
        "log[8].proof[0]",
        "acks[1].recipient",
        "keys.partners.keys[2].x",
        "keys.hub.keys[0].kid",
    }
    survived = [
        f"{show(path)} = {altered!r}"
        for path, value in walked
        for altered in altered_values(value)
        if not refused(replaced(good, path, altered))
    ]
    assert not survived, "alterations that still verify:\n" + "\n".join(survived)


def test_every_member_removed_or_renamed_fails(good: Any) -> None:
    members = [
        (path, name) for path, node in nodes(good) if isinstance(node, dict) for name in node
    ]
    survived: list[str] = []
    for path, name in members:

        def rename(parent: Any, step: Any) -> None:
            parent[f"{step}_"] = parent.pop(step)

        def remove(parent: Any, step: Any) -> None:
            del parent[step]

        for edit in (rename, remove):
            if not refused(edited(good, (*path, name), edit)):
                survived.append(f"{edit.__name__} {show((*path, name))}")
    assert not survived, "\n".join(survived)


def test_every_array_item_duplicated_fails(good: Any) -> None:
    items = [
        (path, i) for path, node in nodes(good) if isinstance(node, list) for i in range(len(node))
    ]
    assert items

    def duplicate(parent: Any, step: Any) -> None:
        parent.insert(step, copy.deepcopy(parent[step]))

    survived = [show((*p, i)) for p, i in items if not refused(edited(good, (*p, i), duplicate))]
    assert not survived, "\n".join(survived)


def test_every_array_item_removed_fails_but_optional_log_items(told: Scene, good: Any) -> None:
    """Only the released and pulled entries may go: nothing the bundle claims rests on them."""
    items = [
        (path, i) for path, node in nodes(good) if isinstance(node, list) for i in range(len(node))
    ]

    def remove(parent: Any, step: Any) -> None:
        del parent[step]

    outcome = {show((*p, i)): refused(edited(good, (*p, i), remove)) for p, i in items}
    optional = {
        f"log[{n}]"
        for n, index in enumerate(told.shown)
        if told.entries[index]["action"] in {"message:released", "message:pulled"}
    }
    assert len(optional) == 3
    assert {path for path, failed in outcome.items() if not failed} == optional


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_character_changed_anywhere_fails(good: Any, data: st.DataObject) -> None:
    strings = [(path, value) for path, value in leaves(good) if isinstance(value, str)]
    path, value = data.draw(st.sampled_from(strings), label="leaf")
    at = data.draw(st.integers(0, len(value) - 1), label="position")
    char = data.draw(st.characters().filter(lambda c: c != value[at]), label="new character")
    error = refusal(replaced(good, path, value[:at] + char + value[at + 1 :]))
    assert error.field


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_node_replaced_by_any_json_fails_cleanly(good: Any, data: st.DataObject) -> None:
    """Whatever replaces a node (object, array or scalar), the answer is EvidenceInvalid."""
    paths = [path for path, _ in nodes(good) if path]
    path = data.draw(st.sampled_from(paths), label="node")
    value = data.draw(JSON_VALUES, label="value")
    original: Any = good
    for step in path:
        original = original[step]
    assume(json.dumps(value, sort_keys=True) != json.dumps(original, sort_keys=True))
    assert refusal(replaced(good, path, value)).field is not None


# --- Specific refusals --------------------------------------------------------------------------


def test_the_error_names_the_field_and_the_reason(good: Any) -> None:
    error = refusal(replaced(good, ("acks", 0, "recipient"), PERSONNEL))
    assert isinstance(error, KeysError)
    assert error.field.startswith("acks[")
    assert error.reason
    assert str(error) == f"{error.field}: {error.reason}"


@pytest.mark.parametrize(
    "bundle", [None, [], "exchange-evidence/1"], ids=["null", "array", "string"]
)
def test_a_bundle_that_is_not_an_object_fails(bundle: Any) -> None:
    assert refusal(bundle).field == ""


@pytest.mark.parametrize(
    "name",
    [
        "format",
        "message_id",
        "envelope",
        "envelope_jcs",
        "signature",
        "receipt",
        "acks",
        "log",
        "checkpoint",
        "keys",
    ],
)
def test_a_missing_top_level_member_fails(good: Any, name: str) -> None:
    bad = copy.deepcopy(good)
    del bad[name]
    assert refusal(bad).field == name


def test_an_unknown_top_level_member_fails(good: Any) -> None:
    bad = copy.deepcopy(good) | {"note": "trust me"}
    assert (refusal(bad).field, refusal(bad).reason) == ("note", "unknown member")


def test_another_format_fails(good: Any) -> None:
    assert refusal(replaced(good, ("format",), "exchange-evidence/2")).field == "format"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("acks",), {}),
        (("log",), "[]"),
        (("log", 0, "proof"), "abc"),
        (("log", 0, "entry"), {"index": 1}),
        (("envelope",), [1]),
        (("receipt",), 1),
        (("keys", "hub"), []),
        (("keys", "partners", "keys"), {}),
        (("acks", 0, "ack"), None),
    ],
)
def test_members_of_the_wrong_type_fail(good: Any, path: JsonPath, value: Any) -> None:
    assert refusal(replaced(good, path, value)).field.startswith(show(path))


def test_swapped_proofs_fail(good: Any) -> None:
    bad = copy.deepcopy(good)
    bad["log"][0]["proof"], bad["log"][1]["proof"] = bad["log"][1]["proof"], bad["log"][0]["proof"]
    assert refusal(bad).field == "log[0].proof"


def test_a_proof_hash_in_upper_case_fails(good: Any) -> None:
    upper = good["log"][0]["proof"][0].upper()
    assert refusal(replaced(good, ("log", 0, "proof", 0), upper)).field == "log[0].proof[0]"


@pytest.mark.parametrize(
    ("index", "field"), [(6, "receipt"), (10, "acks[0].ack"), (12, "acks[1].ack")]
)
def test_dropping_a_log_item_a_claim_rests_on_fails(scene: Scene, index: int, field: str) -> None:
    """The received entry (the receipt's), or an acked entry (an ack's)."""
    scene.shown.remove(index)
    assert refusal(scene.bundle()).field == field


@pytest.mark.parametrize("index", [1, 2, 3])
def test_dropping_a_key_added_item_fails(scene: Scene, index: int) -> None:
    scene.shown.remove(index)
    assert refusal(scene.bundle()).field == f"keys.partners.keys[{index - 1}]"


def test_dropping_an_ack_whose_entry_is_shown_fails(scene: Scene) -> None:
    """An acked entry without its ack would claim an ack the bundle cannot show."""
    scene.acks.pop()
    assert refusal(scene.bundle()).field == "log[8].entry"


def test_an_entry_about_another_message_fails(scene: Scene) -> None:
    scene.shown.append(5)
    error = refusal(scene.bundle())
    assert (error.field, error.reason) == ("log[9].entry", "another message")


def test_an_entry_about_neither_this_message_nor_a_key_fails(scene: Scene) -> None:
    scene.shown.append(13)
    assert refusal(scene.bundle()).field == "log[9].entry"


def test_a_log_item_shown_twice_fails(good: Any) -> None:
    bad = copy.deepcopy(good)
    bad["log"].append(copy.deepcopy(bad["log"][0]))
    assert "twice" in refusal(bad).reason


def test_an_ack_by_a_partner_who_is_not_a_recipient_fails(scene: Scene) -> None:
    scene.acked(OUTSIDER, scene.make_ack(OUTSIDER_KID))
    scene.shown += [4, len(scene.entries) - 1]
    scene.partner_kids.append(OUTSIDER_KID)
    error = refusal(scene.bundle())
    assert (error.field, error.reason) == ("acks[2].recipient", "not a recipient")


def test_an_ack_given_under_another_recipients_name_fails(scene: Scene) -> None:
    scene.acks[1]["ack"] = scene.acks[0]["ack"]
    assert refusal(scene.bundle()).field == "acks[1].ack"


def test_the_same_recipient_twice_fails(scene: Scene) -> None:
    scene.acks.append(dict(scene.acks[0]))
    assert refusal(scene.bundle()).field == "acks[2].recipient"


def test_an_ack_over_another_digest_fails(scene: Scene) -> None:
    scene.acks = []
    scene.acked(DISCIPLINE, scene.make_ack(DISCIPLINE_KID, envelope_sha256="0" * 64))
    scene.shown = [1, 2, 3, 6, len(scene.entries) - 1]
    assert refusal(scene.bundle()).field == "acks[0].ack"


def test_an_ack_the_log_does_not_hold_fails(scene: Scene) -> None:
    """Signed later, never sent to the hub: no message:acked entry logs it."""
    scene.acks[0]["ack"] = scene.make_ack(DISCIPLINE_KID, acked_at="2026-11-23T08:00:00+08:00")
    error = refusal(scene.bundle())
    assert (error.field, error.reason) == ("acks[0].ack", "no message:acked entry logs it")


def test_a_receipt_whose_log_index_points_elsewhere_fails(scene: Scene) -> None:
    scene.receipt = scene.make_receipt(7)
    error = refusal(scene.bundle())
    assert error.field == "receipt"
    assert "message:received" in error.reason


def test_a_receipt_pointing_at_an_entry_not_shown_fails(scene: Scene) -> None:
    scene.receipt = scene.make_receipt(5)
    assert "not in the bundle" in refusal(scene.bundle()).reason


@pytest.mark.parametrize(
    "change",
    [
        {"id": OTHER_ID},
        {"from": DISCIPLINE},
        {"to": [DISCIPLINE]},
        {"type": "clue.feedback.v1"},
        {"envelope_sha256": "f" * 64},
        {"log_index": "6"},
        {"status": None},
    ],
)
def test_a_receipt_that_disagrees_with_the_envelope_fails(
    scene: Scene, change: dict[str, Any]
) -> None:
    scene.receipt = scene.make_receipt(6, **change)
    assert refusal(scene.bundle()).field == "receipt"


def test_a_receipt_signed_by_a_partner_fails(scene: Scene) -> None:
    bundle = scene.bundle()
    bundle["receipt"] = sign_compact(
        b"{}", scene.partners[SENDER_KID], kid=SENDER_KID, typ="exchange-receipt+jws"
    )
    assert refusal(bundle).field == "receipt"


def test_a_signature_by_a_recipient_fails(scene: Scene) -> None:
    scene.signature = scene.sign_envelope(DISCIPLINE_KID)
    error = refusal(scene.bundle())
    assert (error.field, error.reason) == ("signature", f"{DISCIPLINE_KID} is not the sender's key")


def test_a_sender_key_the_log_never_registered_fails(scene: Scene) -> None:
    """Someone re-signs the envelope with a key of their own under the sender's kid."""
    scene.partners[SENDER_KID] = SigningKey.generate()
    scene.signature = scene.sign_envelope(SENDER_KID)
    error = refusal(scene.bundle())
    assert (error.field, error.reason) == ("keys.partners.keys[0]", "no key:added entry binds it")


def test_a_hub_key_that_signed_nothing_fails(scene: Scene) -> None:
    """Keys nobody checks could be altered unseen, so the bundle carries only the signing ones."""
    scene.hub["hub#2027-05"] = SigningKey.generate()
    scene.hub_kids.append("hub#2027-05")
    assert refusal(scene.bundle()).field == "keys.hub.keys[1]"


def test_receipt_and_checkpoint_signed_by_two_hub_keys_verify(scene: Scene) -> None:
    """Across a rotation of the hub's key the bundle carries both keys."""
    scene.hub["hub#2027-05"] = SigningKey.generate()
    scene.hub_kids = ["hub#2027-05", HUB_KID]
    verified = verify_evidence(scene.bundle())
    assert verified.checkpoint["tree_size"] == 14


def test_a_private_jwk_member_fails(told: Scene, good: Any) -> None:
    bad = copy.deepcopy(good)
    bad["keys"]["partners"]["keys"][0]["d"] = "AAAA"
    assert refusal(bad).field == "keys.partners.keys[0].d"


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("envelope", "payload", "urgent"), 1),
        (("envelope", "payload", "persons_involved"), 2.0),
        (("envelope", "payload", "persons_involved"), True),
        (("envelope", "payload", "share_of_budget"), 0.250001),
        (("envelope", "to"), (DISCIPLINE, PERSONNEL)),
    ],
)
def test_an_envelope_equal_only_to_python_fails(good: Any, path: JsonPath, value: Any) -> None:
    """Python's == says True == 1 == 1.0; the envelope shown must be the signed one exactly."""
    assert refusal(replaced(good, path, value)).field == "envelope"


def test_a_message_id_that_is_not_the_envelopes_fails(good: Any) -> None:
    error = refusal(replaced(good, ("message_id",), OTHER_ID))
    assert (error.field, error.reason) == ("message_id", "is not the envelope's id")


def test_a_checkpoint_with_a_smaller_tree_fails(scene: Scene) -> None:
    bundle = scene.bundle()
    entries, scene.entries = scene.entries, scene.entries[:13]
    bundle["checkpoint"] = scene.checkpoint()
    scene.entries = entries
    assert refusal(bundle).field.startswith("log[")


@pytest.mark.parametrize(
    "claims",
    [
        {"origin": "x", "tree_size": 0, "root_hash": "0" * 64, "issued_at": "x"},
        {"origin": "x", "tree_size": True, "root_hash": "0" * 64, "issued_at": "x"},
        {"origin": "x", "tree_size": 14, "root_hash": "0" * 63, "issued_at": "x"},
        {"origin": 1, "tree_size": 14, "root_hash": "0" * 64, "issued_at": "x"},
        {"origin": "x", "tree_size": 14, "root_hash": "0" * 64},
    ],
)
def test_a_malformed_checkpoint_fails(scene: Scene, claims: dict[str, Any]) -> None:
    bundle = scene.bundle()
    bundle["checkpoint"] = scene.hub_token(claims, "exchange-checkpoint+jws")
    assert refusal(bundle).field == "checkpoint"


def test_a_checkpoint_of_another_typ_fails(scene: Scene) -> None:
    bundle = scene.bundle()
    bundle["checkpoint"] = bundle["receipt"]
    assert refusal(bundle).field == "checkpoint"


def test_odd_types_inside_signed_entries_fail_cleanly(scene: Scene) -> None:
    """A hub (or a forger pinned by no one) may log anything; the verifier still only refuses."""
    scene.shown.append(scene.log(ADMIN, "key:added", kid=[SENDER_KID], key_sha256={"x": 1}))
    scene.shown.append(scene.log_about(PERSONNEL, "message:acked", ack_sha256=["0" * 64]))
    error = refusal(scene.bundle())
    assert (error.field, error.reason) == ("log[10].entry", "message:acked entry without its ack")
