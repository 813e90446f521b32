"""JWS compact, attached and detached: format, interop with joserfc, every refusal."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from joserfc import jws as jose_jws
from joserfc.jwk import OKPKey

from keys import (
    KeyNotValid,
    SignatureInvalid,
    SigningKey,
    UnknownKey,
    VerifyingKey,
    sign_compact,
    sign_detached,
    static_resolver,
    unverified_header,
    verify_compact,
    verify_detached,
)

KID = "audit.yanliang#2026-11"
TYP = "exchange-message+jws"
KEY = SigningKey.generate()
RESOLVE = static_resolver({KID: KEY.public_key})
CONTENT = json.dumps({"id": "msg-0000000000000001", "type": "clue.referral.v1"}).encode()


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: Any, payload: bytes = CONTENT, *, detached: bool = True, raw: bool = False
) -> str:
    """A token with an arbitrary header, validly signed by KEY: only the header is at fault."""
    encoded = header if raw else json.dumps(header, separators=(",", ":")).encode()
    header_segment = b64(encoded)
    payload_segment = b64(payload)
    signature = KEY.sign(f"{header_segment}.{payload_segment}".encode())
    middle = "" if detached else payload_segment
    return f"{header_segment}.{middle}.{b64(signature)}"


def attach(token: str, content: bytes) -> str:
    header_segment, _, signature_segment = token.split(".")
    return f"{header_segment}.{b64(content)}.{signature_segment}"


def okp_private() -> OKPKey:
    return OKPKey.import_key(KEY.to_pem())


def okp_public() -> OKPKey:
    jwk: dict[str, str | list[str]] = {**KEY.public_key.to_jwk(KID)}
    return OKPKey.import_key(jwk)


def test_detached_token_shape() -> None:
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    header_segment, middle, signature_segment = token.split(".")
    assert middle == ""
    assert base64.urlsafe_b64decode(header_segment + "==") == (
        b'{"alg":"Ed25519","kid":"audit.yanliang#2026-11","typ":"exchange-message+jws"}'
    )
    assert "=" not in token
    assert len(base64.urlsafe_b64decode(signature_segment + "==")) == 64


def test_detached_round_trip_returns_header() -> None:
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    header = verify_detached(token, CONTENT, RESOLVE, typ=TYP)
    assert header == {"alg": "Ed25519", "kid": KID, "typ": TYP}
    assert verify_detached(token, CONTENT, RESOLVE) == header


def test_compact_round_trip_returns_payload() -> None:
    token = sign_compact(b'{"tree_size":8}', KEY, kid="hub#2026-11", typ="exchange-receipt+jws")
    resolve = static_resolver({"hub#2026-11": KEY.public_key})
    header, payload = verify_compact(token, resolve, typ="exchange-receipt+jws")
    assert payload == b'{"tree_size":8}'
    assert header["kid"] == "hub#2026-11"


def test_compact_with_empty_payload() -> None:
    token = sign_compact(b"", KEY, kid=KID, typ=TYP)
    assert verify_compact(token, RESOLVE)[1] == b""


@given(st.binary(max_size=512))
def test_any_content_round_trips(content: bytes) -> None:
    verify_detached(sign_detached(content, KEY, kid=KID, typ=TYP), content, RESOLVE, typ=TYP)
    assert verify_compact(sign_compact(content, KEY, kid=KID, typ=TYP), RESOLVE)[1] == content


@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_changed_byte_of_content_refused(content: bytes, data: st.DataObject) -> None:
    token = sign_detached(content, KEY, kid=KID, typ=TYP)
    index = data.draw(st.integers(0, len(content) - 1))
    changed = bytearray(content)
    changed[index] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SignatureInvalid):
        verify_detached(token, bytes(changed), RESOLVE)


# --- interoperability with joserfc -------------------------------------------------------


def test_our_detached_token_verifies_with_joserfc() -> None:
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    public = okp_public()
    # RFC 7515 Appendix F: re-insert the payload between the dots.
    obj = jose_jws.deserialize_compact(attach(token, CONTENT), public, algorithms=["Ed25519"])
    assert obj.payload == CONTENT
    assert obj.headers() == {"alg": "Ed25519", "kid": KID, "typ": TYP}
    # joserfc's own detached-content support agrees.
    obj = jose_jws.deserialize_compact(token, public, algorithms=["Ed25519"], payload=CONTENT)
    assert obj.payload == CONTENT


def test_our_compact_token_verifies_with_joserfc() -> None:
    token = sign_compact(CONTENT, KEY, kid=KID, typ=TYP)
    public = okp_public()
    assert jose_jws.deserialize_compact(token, public, algorithms=["Ed25519"]).payload == CONTENT


def test_tampered_token_fails_in_joserfc_too() -> None:
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    public = okp_public()
    with pytest.raises(Exception, match="signature"):
        jose_jws.deserialize_compact(attach(token, CONTENT + b" "), public, algorithms=["Ed25519"])


@pytest.mark.parametrize("alg", ["Ed25519", "EdDSA"])
def test_joserfc_token_verifies_with_ours(alg: str) -> None:
    protected = {"alg": alg, "kid": KID, "typ": TYP}
    with warnings.catch_warnings():
        # joserfc warns that "EdDSA" is deprecated by RFC 9864; accepting it is the point here.
        warnings.simplefilter("ignore")
        token = jose_jws.serialize_compact(protected, CONTENT, okp_private(), algorithms=[alg])
    header, payload = verify_compact(token, RESOLVE, typ=TYP)
    assert (header["alg"], payload) == (alg, CONTENT)
    detached = jose_jws.detach_content(token)
    assert verify_detached(detached, CONTENT, RESOLVE, typ=TYP)["alg"] == alg
    with pytest.raises(SignatureInvalid):
        verify_detached(detached, CONTENT + b"!", RESOLVE)


# --- refusals -------------------------------------------------------------------------------


def test_wrong_typ_refused() -> None:
    token = sign_detached(CONTENT, KEY, kid=KID, typ="exchange-ack+jws")
    with pytest.raises(SignatureInvalid, match="typ"):
        verify_detached(token, CONTENT, RESOLVE, typ=TYP)
    with pytest.raises(SignatureInvalid, match="typ"):
        verify_detached(forge({"alg": "Ed25519", "kid": KID}), CONTENT, RESOLVE, typ=TYP)
    with pytest.raises(SignatureInvalid, match="typ"):
        verify_detached(forge({"alg": "Ed25519", "kid": KID, "typ": 1}), CONTENT, RESOLVE)


def test_tampered_content_refused() -> None:
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    with pytest.raises(SignatureInvalid):
        verify_detached(token, CONTENT + b" ", RESOLVE)


def test_tampered_compact_payload_refused() -> None:
    token = sign_compact(b"released", KEY, kid=KID, typ=TYP)
    header_segment, _, signature_segment = token.split(".")
    with pytest.raises(SignatureInvalid):
        verify_compact(f"{header_segment}.{b64(b'rejected')}.{signature_segment}", RESOLVE)


def test_tampered_signature_refused() -> None:
    header_segment, _, signature_segment = sign_detached(CONTENT, KEY, kid=KID, typ=TYP).split(".")
    signature = bytearray(base64.urlsafe_b64decode(signature_segment + "=="))
    signature[10] ^= 0x40
    with pytest.raises(SignatureInvalid):
        verify_detached(f"{header_segment}..{b64(bytes(signature))}", CONTENT, RESOLVE)
    with pytest.raises(SignatureInvalid):
        verify_detached(f"{header_segment}..{b64(bytes(signature[:63]))}", CONTENT, RESOLVE)


def test_header_swapped_to_other_typ_refused() -> None:
    # The header is signed: changing typ after signing breaks the signature.
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    _, _, signature_segment = token.split(".")
    header = b64(b'{"alg":"Ed25519","kid":"audit.yanliang#2026-11","typ":"exchange-ack+jws"}')
    with pytest.raises(SignatureInvalid):
        verify_detached(f"{header}..{signature_segment}", CONTENT, RESOLVE)


def test_wrong_key_refused() -> None:
    token = sign_detached(CONTENT, SigningKey.generate(), kid=KID, typ=TYP)
    with pytest.raises(SignatureInvalid):
        verify_detached(token, CONTENT, RESOLVE)


def test_unknown_kid_propagates_unknown_key() -> None:
    token = sign_detached(CONTENT, KEY, kid="audit.elsewhere#1", typ=TYP)
    with pytest.raises(UnknownKey):
        verify_detached(token, CONTENT, RESOLVE)
    with pytest.raises(UnknownKey):
        verify_compact(sign_compact(CONTENT, KEY, kid="nobody#1", typ=TYP), RESOLVE)


def test_key_not_valid_propagates() -> None:
    def revoked(kid: str) -> VerifyingKey:
        raise KeyNotValid(f"{kid} revoked")

    with pytest.raises(KeyNotValid):
        verify_detached(sign_detached(CONTENT, KEY, kid=KID, typ=TYP), CONTENT, revoked)


def test_resolver_not_consulted_for_malformed_token() -> None:
    calls: list[str] = []

    def resolve(kid: str) -> VerifyingKey:
        calls.append(kid)
        return KEY.public_key

    with pytest.raises(SignatureInvalid):
        verify_detached(forge({"alg": "none", "kid": KID}), CONTENT, resolve)
    assert calls == []


@pytest.mark.parametrize("alg", ["none", "HS256", "ES256", "RS256", "ed25519", "Ed448", 5, None])
def test_wrong_alg_refused(alg: object) -> None:
    with pytest.raises(SignatureInvalid, match="alg"):
        verify_detached(forge({"alg": alg, "kid": KID, "typ": TYP}), CONTENT, RESOLVE)


def test_missing_alg_refused() -> None:
    with pytest.raises(SignatureInvalid, match="alg"):
        verify_detached(forge({"kid": KID, "typ": TYP}), CONTENT, RESOLVE)


@pytest.mark.parametrize("kid", [None, "", 7])
def test_missing_or_bad_kid_refused(kid: object) -> None:
    header: dict[str, object] = {"alg": "Ed25519", "typ": TYP}
    if kid is not None:
        header["kid"] = kid
    with pytest.raises(SignatureInvalid, match="kid"):
        verify_detached(forge(header), CONTENT, RESOLVE)


def test_crit_header_refused() -> None:
    header = {"alg": "Ed25519", "kid": KID, "typ": TYP, "crit": ["exp"], "exp": 1}
    with pytest.raises(SignatureInvalid, match="crit"):
        verify_detached(forge(header), CONTENT, RESOLVE)


def test_unencoded_payload_option_refused() -> None:
    header = {"alg": "Ed25519", "kid": KID, "typ": TYP, "b64": False}
    with pytest.raises(SignatureInvalid, match="b64"):
        verify_detached(forge(header), CONTENT, RESOLVE)


@pytest.mark.parametrize(
    "raw",
    [b"[]", b'"Ed25519"', b"null", b"42", b"not json", b"\xff\xfe{}", b""],
)
def test_header_that_is_not_a_json_object_refused(raw: bytes) -> None:
    with pytest.raises(SignatureInvalid, match="header"):
        verify_detached(forge(raw, raw=True), CONTENT, RESOLVE)


def test_duplicate_header_names_refused() -> None:
    raw = b'{"alg":"Ed25519","kid":"nobody#1","kid":"audit.yanliang#2026-11"}'
    with pytest.raises(SignatureInvalid, match="duplicate"):
        verify_detached(forge(raw, raw=True), CONTENT, RESOLVE)


def test_payload_segment_in_detached_token_refused() -> None:
    token = forge({"alg": "Ed25519", "kid": KID, "typ": TYP}, detached=False)
    verify_compact(token, RESOLVE)  # fine as a compact token
    with pytest.raises(SignatureInvalid, match="payload"):
        verify_detached(token, CONTENT, RESOLVE)


@pytest.mark.parametrize("segment", [0, 2])
def test_padding_refused(segment: int) -> None:
    parts = sign_detached(CONTENT, KEY, kid=KID, typ=TYP).split(".")
    parts[segment] += "=" * (-len(parts[segment]) % 4 or 4)
    with pytest.raises(SignatureInvalid, match="base64url"):
        verify_detached(".".join(parts), CONTENT, RESOLVE)


def test_padded_payload_refused() -> None:
    header_segment, payload_segment, signature_segment = sign_compact(
        b"ab", KEY, kid=KID, typ=TYP
    ).split(".")
    with pytest.raises(SignatureInvalid, match="base64url"):
        verify_compact(f"{header_segment}.{payload_segment}==.{signature_segment}", RESOLVE)


@pytest.mark.parametrize("bad", ["+", "/", " ", "\n", "!", "é"])
def test_non_base64url_characters_refused(bad: str) -> None:
    header_segment, _, signature_segment = sign_detached(CONTENT, KEY, kid=KID, typ=TYP).split(".")
    with pytest.raises(SignatureInvalid):
        verify_detached(f"{header_segment}..{signature_segment[:-1]}{bad}", CONTENT, RESOLVE)
    with pytest.raises(SignatureInvalid):
        verify_detached(f"{bad}{header_segment}..{signature_segment}", CONTENT, RESOLVE)


def test_non_canonical_base64url_refused() -> None:
    # 64 bytes take 86 characters; the last one carries 2 unused bits that must be zero.
    header_segment, _, signature_segment = sign_detached(CONTENT, KEY, kid=KID, typ=TYP).split(".")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature_segment[-1])
    sloppy = signature_segment[:-1] + alphabet[last | 1]
    assert base64.urlsafe_b64decode(sloppy + "==") == base64.urlsafe_b64decode(
        signature_segment + "=="
    )
    with pytest.raises(SignatureInvalid, match="base64url"):
        verify_detached(f"{header_segment}..{sloppy}", CONTENT, RESOLVE)


@pytest.mark.parametrize("token", ["", ".", "..", "a.b", "a.b.c.d", "a..b..c"])
def test_not_three_parts_or_empty_refused(token: str) -> None:
    with pytest.raises(SignatureInvalid):
        verify_detached(token, CONTENT, RESOLVE)


def test_oversized_header_refused() -> None:
    header = {"alg": "Ed25519", "kid": KID, "typ": TYP, "x": "a" * 5000}
    with pytest.raises(SignatureInvalid, match="large"):
        verify_detached(forge(header), CONTENT, RESOLVE)


def test_unverified_header_reads_without_verifying() -> None:
    token = sign_detached(CONTENT, SigningKey.generate(), kid="somebody#1", typ=TYP)
    assert unverified_header(token) == {"alg": "Ed25519", "kid": "somebody#1", "typ": TYP}
    with pytest.raises(SignatureInvalid):
        unverified_header("garbage")


def test_sign_refuses_empty_kid_or_typ() -> None:
    with pytest.raises(ValueError):
        sign_detached(CONTENT, KEY, kid="", typ=TYP)
    with pytest.raises(ValueError):
        sign_compact(CONTENT, KEY, kid=KID, typ="")


def test_a_header_returned_and_changed_does_not_change_the_next_verification() -> None:
    # Decoded headers are kept by segment; each caller gets its own copy.
    token = sign_detached(CONTENT, KEY, kid=KID, typ=TYP)
    first = verify_detached(token, CONTENT, RESOLVE, typ=TYP)
    first["typ"] = "something-else"
    first["kid"] = "nobody#1"
    assert verify_detached(token, CONTENT, RESOLVE, typ=TYP) == {
        "alg": "Ed25519",
        "kid": KID,
        "typ": TYP,
    }
    assert unverified_header(token)["kid"] == KID


def test_a_bad_header_is_refused_every_time_it_comes() -> None:
    token = forge(b'{"alg":"Ed25519","kid":"a#1","kid":"b#1"}', raw=True)
    for _ in range(3):
        with pytest.raises(SignatureInvalid, match="duplicate"):
            verify_detached(token, CONTENT, RESOLVE)
