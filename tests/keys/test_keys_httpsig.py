"""RFC 9421 request signatures: RFC test vectors, interop with http_message_signatures, refusals."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from hypothesis import given
from hypothesis import strategies as st

from keys import (
    HttpRequest,
    KeyNotValid,
    RequestSignatureInvalid,
    SigningKey,
    UnknownKey,
    VerifiedRequest,
    VerifyingKey,
    content_digest,
    sign_request,
    static_resolver,
    verify_request,
)
from keys._sfv import InnerList, Item, Parameters, serialize_dictionary, serialize_inner_list
from keys.httpsig import _component_value, _field_values, _signature_base

# RFC 9421 Appendix B.1.4, test-key-ed25519: public test vectors, not secrets.
RFC_PRIVATE_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
RFC_PUBLIC_PEM = b"""-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----
"""
RFC_KID = "test-key-ed25519"
RFC_CREATED = 1618884473
RFC_BODY = b'{"hello": "world"}'
# RFC 9421 Appendix B.2: the example request.
RFC_HEADERS = {
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Digest": (
        "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
    ),
    "Content-Length": "18",
}
RFC_URL = "https://example.com/foo?param=Value&Pet=dog"
# RFC 9421 Appendix B.2.6.
B26_COMPONENTS = ("date", "@method", "@path", "@authority", "content-type", "content-length")
B26_SIGNATURE_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
B26_SIGNATURE = (
    "sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5"
    "lIp5WPpBKRCw==:"
)
B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)

KID = "audit.yanliang#2026-11"
KEY = SigningKey.generate()
RESOLVE = static_resolver({KID: KEY.public_key})
NOW = datetime(2026, 11, 22, 3, 0, 0, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = b'{"envelope":{},"signature":"x..y"}'


def at(created: int) -> datetime:
    return datetime.fromtimestamp(created, UTC)


def post(body: bytes = BODY, url: str = "https://hub.example/v1/messages?dry=1") -> HttpRequest:
    return HttpRequest("POST", url, {"Content-Type": "application/json"}, body)


def signed(request: HttpRequest, **kwargs: object) -> HttpRequest:
    options: dict[str, object] = {"kid": KID, "created": T}
    options.update(kwargs)
    added = sign_request(request, KEY, **options)  # type: ignore[arg-type]
    return replace(request, headers={**request.headers, **added})


def forge(
    request: HttpRequest,
    covered: Sequence[str],
    params: Parameters,
    *,
    label: str = "sig1",
    key: SigningKey = KEY,
) -> HttpRequest:
    """Sign arbitrary signature parameters validly, so only the policy can refuse them."""
    headers = dict(request.headers)
    if request.body:
        headers["Content-Digest"] = content_digest(request.body)
    inner = InnerList(tuple(Item(name) for name in covered), params)
    base = _signature_base(request, _field_values(headers), covered, serialize_inner_list(inner))
    headers["Signature-Input"] = serialize_dictionary({label: inner})
    headers["Signature"] = serialize_dictionary({label: Item(key.sign(base))})
    return replace(request, headers=headers)


def refused(request: HttpRequest, reason: str, **kwargs: object) -> None:
    with pytest.raises(RequestSignatureInvalid) as info:
        verify_request(request, RESOLVE, now=NOW, **kwargs)  # type: ignore[arg-type]
    assert reason in info.value.reason


# --- RFC 9530 / RFC 9421 known answers -------------------------------------------------------


def test_content_digest_known_answers() -> None:
    # RFC 9530 §2 example for the content {"hello": "world"}.
    assert content_digest(RFC_BODY) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    # The sha-512 Content-Digest of RFC 9421 Appendix B.2 describes the same content.
    sha512 = RFC_HEADERS["Content-Digest"].removeprefix("sha-512=:").removesuffix(":")
    assert base64.b64decode(sha512) == hashlib.sha512(RFC_BODY).digest()
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_rfc9421_b26_signature_base() -> None:
    request = HttpRequest("POST", RFC_URL, RFC_HEADERS, RFC_BODY)
    inner = InnerList(
        tuple(Item(name) for name in B26_COMPONENTS),
        {"created": RFC_CREATED, "keyid": RFC_KID},
    )
    base = _signature_base(
        request, _field_values(RFC_HEADERS), B26_COMPONENTS, serialize_inner_list(inner)
    )
    assert base.decode() == B26_BASE


def test_rfc9421_b26_our_signing_reproduces_the_rfc_signature() -> None:
    key = SigningKey.from_pem(RFC_PRIVATE_PEM)
    request = HttpRequest("POST", RFC_URL, RFC_HEADERS, RFC_BODY)
    added = sign_request(
        request,
        key,
        kid=RFC_KID,
        created=RFC_CREATED,
        components=B26_COMPONENTS,
        label="sig-b26",
        include_alg=False,
    )
    assert added["Signature-Input"] == B26_SIGNATURE_INPUT
    assert added["Signature"] == B26_SIGNATURE
    assert added["Content-Digest"] == content_digest(RFC_BODY)


def test_rfc9421_b26_rfc_signature_verifies_with_rfc_public_key() -> None:
    headers = {**RFC_HEADERS, "Signature-Input": B26_SIGNATURE_INPUT, "Signature": B26_SIGNATURE}
    resolve = static_resolver({RFC_KID: VerifyingKey.from_pem(RFC_PUBLIC_PEM)})
    # B.2.6 does not cover the content, so the body is withheld here: our policy
    # (content-digest covered whenever there is a body) would rightly refuse it.
    request = HttpRequest("POST", RFC_URL, headers)
    verified = verify_request(request, resolve, now=at(RFC_CREATED), required=B26_COMPONENTS)
    assert verified == VerifiedRequest(RFC_KID, RFC_CREATED, B26_COMPONENTS, "sig-b26")
    with pytest.raises(RequestSignatureInvalid, match="content-digest not covered"):
        verify_request(replace(request, body=RFC_BODY), resolve, now=at(RFC_CREATED), required=())
    with pytest.raises(RequestSignatureInvalid, match="@query not covered"):
        verify_request(request, resolve, now=at(RFC_CREATED))
    tampered = replace(request, headers={**headers, "Date": "Tue, 20 Apr 2021 02:07:56 GMT"})
    with pytest.raises(RequestSignatureInvalid, match="signature mismatch"):
        verify_request(tampered, resolve, now=at(RFC_CREATED), required=())


def test_rfc9421_b26_verifies_with_http_message_signatures_too() -> None:
    message = LibRequest("POST", RFC_URL, dict(RFC_HEADERS))
    message.headers.update({"Signature-Input": B26_SIGNATURE_INPUT, "Signature": B26_SIGNATURE})
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={RFC_KID: RFC_PUBLIC_PEM}, private_keys={}),
    )
    (result,) = verifier.verify(message, max_age=None)
    assert result.parameters["keyid"] == RFC_KID


# --- derived components and field values (RFC 9421 §2.1, §2.2) ------------------------------


@pytest.mark.parametrize(
    ("url", "name", "value"),
    [
        # RFC 9421 §2.2.2 .. §2.2.7 examples.
        (
            "https://www.example.com/path?param=value",
            "@target-uri",
            "https://www.example.com/path?param=value",
        ),
        ("https://www.example.com/path?param=value", "@authority", "www.example.com"),
        ("https://www.example.com/path?param=value", "@scheme", "https"),
        ("https://www.example.com/path?param=value", "@request-target", "/path?param=value"),
        ("https://www.example.com/path?param=value", "@path", "/path"),
        (
            "https://www.example.com/path?param=value&foo=bar&baz=bat%2Dman",
            "@query",
            "?param=value&foo=bar&baz=bat%2Dman",
        ),
        ("https://www.example.com/path?queryString", "@query", "?queryString"),
        ("https://www.example.com/path", "@query", "?"),
        ("https://www.example.com/path?", "@query", "?"),
        ("https://www.example.com/path", "@request-target", "/path"),
        ("https://www.example.com/path?", "@request-target", "/path?"),
        ("https://www.example.com", "@path", "/"),
        ("https://www.example.com", "@target-uri", "https://www.example.com/"),
        ("https://WWW.Example.COM:443/a", "@authority", "www.example.com"),
        ("http://example.com:80/a", "@authority", "example.com"),
        ("http://example.com:8080/a", "@authority", "example.com:8080"),
        ("https://example.com:80/a", "@authority", "example.com:80"),
        ("http://[::1]:8080/a", "@authority", "[::1]:8080"),
        ("HTTPS://example.com/a", "@scheme", "https"),
        ("https://user:pw@example.com/a", "@authority", "example.com"),
        ("https://user:pw@example.com/a#frag", "@target-uri", "https://example.com/a"),
        ("https://example.com/a%2Fb?x=%20", "@path", "/a%2Fb"),
        ("/v1/inbox?after=3", "@path", "/v1/inbox"),
        ("/v1/inbox?after=3", "@query", "?after=3"),
    ],
)
def test_derived_component_values(url: str, name: str, value: str) -> None:
    request = HttpRequest("GET", url, {})
    assert _component_value(name, request, urlsplit(url), {}) == value


def test_method_is_taken_as_given() -> None:
    request = HttpRequest("POST", "https://example.com/", {})
    assert _component_value("@method", request, urlsplit(request.url), {}) == "POST"


def test_field_values_per_rfc9421_section_2_1() -> None:
    fields = _field_values(
        {
            "Host": "www.example.com",
            "X-OWS-Header": "   Leading and trailing whitespace.   ",
            "X-Obs-Fold-Header": "Obsolete\r\n    line folding.",
            "Cache-Control": "max-age=60",
            "cache-control": "   must-revalidate",
            "X-Empty-Header": "",
        }
    )
    assert fields == {
        "host": "www.example.com",
        "x-ows-header": "Leading and trailing whitespace.",
        "x-obs-fold-header": "Obsolete line folding.",
        "cache-control": "max-age=60, must-revalidate",
        "x-empty-header": "",
    }


def test_signature_covers_header_fields_case_insensitively() -> None:
    request = HttpRequest("POST", "https://hub.example/v1/messages", {"X-Request-ID": "abc"}, BODY)
    verified = verify_request(
        signed(
            request, components=("@method", "@path", "@query", "x-request-id", "content-digest")
        ),
        RESOLVE,
        now=NOW,
    )
    assert verified.components[3] == "x-request-id"
    lowered = signed(request, components=("@method", "@path", "@query", "content-digest"))
    lowered = replace(lowered, headers={k.lower(): v for k, v in lowered.headers.items()})
    verify_request(lowered, RESOLVE, now=NOW)


# --- our own round trips ---------------------------------------------------------------------


def test_default_signature_shape() -> None:
    added = sign_request(post(), KEY, kid=KID, created=T)
    assert set(added) == {"Signature-Input", "Signature", "Content-Digest"}
    assert added["Signature-Input"] == (
        f'sig1=("@method" "@path" "@query" "content-digest");created={T}'
        f';keyid="{KID}";alg="ed25519"'
    )
    assert added["Content-Digest"] == content_digest(BODY)


def test_bodyless_request_has_no_digest() -> None:
    request = HttpRequest("GET", "https://hub.example/v1/inbox?limit=10", {})
    added = sign_request(request, KEY, kid=KID, now=NOW)
    assert "Content-Digest" not in added
    assert '("@method" "@path" "@query")' in added["Signature-Input"]
    assert f"created={T};" in added["Signature-Input"]
    verified = verify_request(signed(request), RESOLVE, now=NOW)
    assert verified == VerifiedRequest(KID, T, ("@method", "@path", "@query"), "sig1")


def test_round_trip_with_body() -> None:
    verified = verify_request(signed(post()), RESOLVE, now=NOW)
    assert verified.components == ("@method", "@path", "@query", "content-digest")


def test_every_supported_component_round_trips() -> None:
    components = (
        "@method",
        "@target-uri",
        "@authority",
        "@scheme",
        "@request-target",
        "@path",
        "@query",
        "content-type",
        "content-digest",
    )
    request = signed(post(), components=components, expires=T + 60)
    assert verify_request(request, RESOLVE, now=NOW).components == components


@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-._~%/", max_size=40),
    st.text("abcdefghijklmnopqrstuvwxyz0123456789=&%+", max_size=40),
    st.binary(max_size=200),
)
def test_signed_requests_verify(method: str, path: str, query: str, body: bytes) -> None:
    url = f"https://hub.example/{path}" + (f"?{query}" if query else "")
    request = signed(HttpRequest(method, url, {}, body))
    verify_request(request, RESOLVE, now=NOW)


def test_expires_in_the_future_accepted() -> None:
    verify_request(signed(post(), expires=T + 1), RESOLVE, now=NOW)
    verify_request(signed(post(), expires=T), RESOLVE, now=NOW)


def test_created_at_the_skew_boundaries_accepted() -> None:
    verify_request(signed(post(), created=T - 300), RESOLVE, now=NOW)
    verify_request(signed(post(), created=T + 300), RESOLVE, now=NOW)
    verify_request(signed(post(), created=T - 30), RESOLVE, now=NOW, max_skew=30)


def test_now_in_another_timezone_is_the_same_instant() -> None:
    beijing = NOW.astimezone(timezone(timedelta(hours=8)))
    verify_request(signed(post()), RESOLVE, now=beijing)


def test_naive_now_refused() -> None:
    with pytest.raises(ValueError):
        verify_request(signed(post()), RESOLVE, now=datetime(2026, 11, 22, 3, 0, 0))
    with pytest.raises(ValueError):
        sign_request(post(), KEY, kid=KID, now=datetime(2026, 11, 22, 3, 0, 0))


def test_label_choice() -> None:
    other = signed(post(), label="proxy")
    assert verify_request(other, RESOLVE, now=NOW).label == "proxy"
    ours = signed(post())
    both = replace(
        ours,
        headers={
            **ours.headers,
            "Signature-Input": other.headers["Signature-Input"]
            + ", "
            + ours.headers["Signature-Input"],
            "Signature": other.headers["Signature"] + ", " + ours.headers["Signature"],
        },
    )
    assert verify_request(both, RESOLVE, now=NOW).label == "sig1"


def test_several_signatures_without_sig1_refused() -> None:
    a, b = signed(post(), label="a"), signed(post(), label="b")
    both = replace(
        a,
        headers={
            **a.headers,
            "Signature-Input": a.headers["Signature-Input"] + ", " + b.headers["Signature-Input"],
            "Signature": a.headers["Signature"] + ", " + b.headers["Signature"],
        },
    )
    refused(both, "several signatures")


def test_sign_refuses_bad_components() -> None:
    for components in (["@status"], ["@method", "@method"], ["Content-Type"], ["@query-param"]):
        with pytest.raises(ValueError):
            sign_request(post(), KEY, kid=KID, created=T, components=components)
    with pytest.raises(ValueError):
        sign_request(post(), KEY, kid=KID, created=T, components=["x-missing"])
    with pytest.raises(ValueError):
        sign_request(post(), KEY, kid=KID, created=T, label="Sig1")


# --- interoperability with http_message_signatures -----------------------------------------


@dataclass
class LibRequest:
    """The request interface http_message_signatures reads: method, url, headers."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


def test_our_signature_verifies_with_http_message_signatures() -> None:
    now = datetime.now(UTC)
    request = post(url="https://hub.example/v1/messages?x=1&y=%20")
    added = sign_request(
        request,
        KEY,
        kid=KID,
        now=now,
        components=("@method", "@path", "@query", "@authority", "@target-uri", "content-digest"),
    )
    message = LibRequest(request.method, request.url, {**request.headers, **added})
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(
            public_keys={KID: KEY.public_key.to_pem()}, private_keys={}
        ),
    )
    (result,) = verifier.verify(
        message, body=request.body, require_components=("@method", "@path", "@query")
    )
    assert result.parameters == {"created": int(now.timestamp()), "keyid": KID, "alg": "ed25519"}
    assert result.body == request.body
    message.headers["Content-Digest"] = content_digest(b"other")
    with pytest.raises(InvalidSignature):
        verifier.verify(message, body=request.body)


@pytest.mark.parametrize(
    "url",
    ["https://hub.example/v1/messages?limit=5&after=a%2Fb", "https://hub.example:8443/v1/inbox"],
)
def test_http_message_signatures_signature_verifies_with_ours(url: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    message = LibRequest("POST", url, {"Content-Type": "application/json"})
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.ED25519,
        key_resolver=MappingKeyResolver(public_keys={}, private_keys={KID: KEY.to_pem()}),
    )
    components = (
        "@method",
        "@path",
        "@query",
        "@authority",
        "@scheme",
        "@target-uri",
        "@request-target",
        "content-type",
    )
    signer.sign(
        message, key_id=KID, created=now, label="sig1", covered_component_ids=components, body=BODY
    )
    request = HttpRequest(message.method, message.url, message.headers, BODY)
    verified = verify_request(request, RESOLVE, now=now)
    assert verified.components == (*components, "content-digest")
    assert verified.created == int(now.timestamp())
    refused_request = replace(request, body=BODY + b" ")
    with pytest.raises(RequestSignatureInvalid, match="content-digest mismatch"):
        verify_request(refused_request, RESOLVE, now=now)


# --- refusals --------------------------------------------------------------------------------


def test_missing_signature_headers_refused() -> None:
    request = signed(post())
    for name in ("Signature", "Signature-Input"):
        headers = {k: v for k, v in request.headers.items() if k != name}
        refused(replace(request, headers=headers), "missing signature")
    refused(replace(request, headers={**request.headers, "Signature": ""}), "missing signature")


@pytest.mark.parametrize(
    ("signature_input", "signature"),
    [
        ('sig1=("@method"', None),
        ('sig1=("@method" "@path" "@query";created=1', None),
        ('sig1=("@method"),', None),
        ('sig1=("@method"), sig1=("@path")', None),
        ('sig1=("@méthod")', None),
        (None, "sig1=:not base64:"),
        (None, "sig1=:YWJj:"),
        (None, "sig1=abc"),
        (None, "sig1=(:YWJj:)"),
    ],
)
def test_unparseable_or_misshapen_signature_refused(
    signature_input: str | None, signature: str | None
) -> None:
    request = signed(post())
    headers = dict(request.headers)
    if signature_input is not None:
        headers["Signature-Input"] = signature_input
    if signature is not None:
        headers["Signature"] = signature
    with pytest.raises(RequestSignatureInvalid):
        verify_request(replace(request, headers=headers), RESOLVE, now=NOW)


def test_signature_input_that_is_not_an_inner_list_refused() -> None:
    request = signed(post())
    headers = {**request.headers, "Signature-Input": 'sig1="@method";created=1'}
    refused(replace(request, headers=headers), "inner list")


def test_signature_label_mismatch_refused() -> None:
    request = signed(post())
    headers = {**request.headers, "Signature": request.headers["Signature"].replace("sig1", "sig2")}
    refused(replace(request, headers=headers), "no signature for label")


@pytest.mark.parametrize("alg", ["rsa-pss-sha512", "ecdsa-p256-sha256", "hmac-sha256", "Ed25519"])
def test_wrong_alg_refused(alg: str) -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    refused(forge(post(), covered, {"created": T, "keyid": KID, "alg": alg}), "unsupported alg")


def test_alg_absent_is_accepted() -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    verify_request(forge(post(), covered, {"created": T, "keyid": KID}), RESOLVE, now=NOW)


def test_missing_keyid_refused() -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    refused(forge(post(), covered, {"created": T, "alg": "ed25519"}), "missing keyid")
    refused(forge(post(), covered, {"created": T, "keyid": ""}), "missing keyid")


def test_missing_or_malformed_created_refused() -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    refused(forge(post(), covered, {"keyid": KID, "alg": "ed25519"}), "missing created")
    refused(forge(post(), covered, {"keyid": KID, "created": str(T)}), "missing created")
    refused(forge(post(), covered, {"keyid": KID, "created": True}), "missing created")


def test_stale_and_future_created_refused() -> None:
    refused(signed(post(), created=T - 301), "created outside allowed skew")
    refused(signed(post(), created=T + 301), "created outside allowed skew")
    refused(signed(post(), created=T - 31), "created outside allowed skew", max_skew=30)


def test_expired_refused() -> None:
    refused(signed(post(), expires=T - 1), "expired")
    covered = ("@method", "@path", "@query", "content-digest")
    params: Parameters = {"created": T, "keyid": KID, "expires": "later"}
    refused(forge(post(), covered, params), "malformed expires")


def test_unknown_signature_parameter_refused() -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    refused(forge(post(), covered, {"created": T, "keyid": KID, "context": "x"}), "unknown")


def test_nonce_and_tag_accepted_when_strings() -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    params: Parameters = {"created": T, "keyid": KID, "nonce": "n1", "tag": "exchange"}
    verify_request(forge(post(), covered, params), RESOLVE, now=NOW)
    refused(forge(post(), covered, {"created": T, "keyid": KID, "nonce": 5}), "malformed nonce")


@pytest.mark.parametrize("missing", ["@method", "@path", "@query"])
def test_required_component_not_covered_refused(missing: str) -> None:
    components = [c for c in ("@method", "@path", "@query", "content-digest") if c != missing]
    refused(signed(post(), components=components), f"{missing} not covered")


def test_custom_required_components() -> None:
    request = signed(post())
    refused(request, "@authority not covered", required=("@method", "@authority"))
    verify_request(request, RESOLVE, now=NOW, required=())


def test_body_without_content_digest_coverage_refused() -> None:
    refused(signed(post(), components=("@method", "@path", "@query")), "content-digest not covered")


def test_content_digest_header_missing_refused() -> None:
    request = signed(post())
    headers = {k: v for k, v in request.headers.items() if k != "Content-Digest"}
    refused(replace(request, headers=headers), "missing content-digest")


def test_content_digest_mismatch_refused() -> None:
    request = signed(post())
    refused(replace(request, body=BODY.replace(b"x..y", b"x..z")), "content-digest mismatch")


def test_body_dropped_after_signing_refused() -> None:
    refused(replace(signed(post()), body=b""), "content-digest mismatch")


def test_content_digest_needs_sha256() -> None:
    digest = "sha-512=:" + base64.b64encode(hashlib.sha512(BODY).digest()).decode() + ":"
    request = replace(
        post(), headers={"Content-Type": "application/json", "Content-Digest": digest}
    )
    covered = ("@method", "@path", "@query", "content-digest")
    inner = InnerList(tuple(Item(c) for c in covered), {"created": T, "keyid": KID})
    base = _signature_base(
        request, _field_values(request.headers), covered, serialize_inner_list(inner)
    )
    headers = {
        **request.headers,
        "Signature-Input": serialize_dictionary({"sig1": inner}),
        "Signature": serialize_dictionary({"sig1": Item(KEY.sign(base))}),
    }
    refused(replace(request, headers=headers), "lacks sha-256")


def test_other_digest_algorithms_alongside_sha256_are_ignored() -> None:
    digest = (
        "sha-512=:"
        + base64.b64encode(hashlib.sha512(BODY).digest()).decode()
        + ":, "
        + content_digest(BODY)
    )
    request = replace(
        post(), headers={"Content-Type": "application/json", "Content-Digest": digest}
    )
    covered = ("@method", "@path", "@query", "content-digest")
    inner = InnerList(tuple(Item(c) for c in covered), {"created": T, "keyid": KID})
    base = _signature_base(
        request, _field_values(request.headers), covered, serialize_inner_list(inner)
    )
    headers = {
        **request.headers,
        "Signature-Input": serialize_dictionary({"sig1": inner}),
        "Signature": serialize_dictionary({"sig1": Item(KEY.sign(base))}),
    }
    verify_request(replace(request, headers=headers), RESOLVE, now=NOW)


def test_malformed_content_digest_refused() -> None:
    request = signed(post())
    refused(replace(request, headers={**request.headers, "Content-Digest": "sha-256"}), "sha-256")
    refused(
        replace(request, headers={**request.headers, "Content-Digest": "sha-256=:x"}),
        "malformed content-digest",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"method": "PUT"},
        {"url": "https://hub.example/v1/messages?dry=0"},
        {"url": "https://hub.example/v1/messages:batch?dry=1"},
        {"url": "https://hub.example/v1/messages"},
    ],
)
def test_changed_request_refused(change: Mapping[str, str]) -> None:
    refused(replace(signed(post()), **change), "signature mismatch")  # type: ignore[arg-type]


def test_path_is_covered_but_not_the_host() -> None:
    # PROTOCOL §4: @path rather than the full URI, so a reverse proxy does not break signatures.
    moved = replace(signed(post()), url="http://10.0.0.5:8080/v1/messages?dry=1")
    verify_request(moved, RESOLVE, now=NOW)


def test_tampered_signature_refused() -> None:
    request = signed(post())
    signature = bytearray(KEY.sign(b"something else"))
    headers = {
        **request.headers,
        "Signature": serialize_dictionary({"sig1": Item(bytes(signature))}),
    }
    refused(replace(request, headers=headers), "signature mismatch")
    short = {**request.headers, "Signature": serialize_dictionary({"sig1": Item(b"\x00" * 10)})}
    refused(replace(request, headers=short), "signature mismatch")


def test_wrong_key_refused() -> None:
    covered = ("@method", "@path", "@query", "content-digest")
    params: Parameters = {"created": T, "keyid": KID}
    refused(forge(post(), covered, params, key=SigningKey.generate()), "signature mismatch")


def test_unknown_kid_propagates_unknown_key() -> None:
    with pytest.raises(UnknownKey):
        verify_request(signed(post(), kid="audit.other#1"), RESOLVE, now=NOW)


def test_key_not_valid_propagates() -> None:
    def revoked(kid: str) -> VerifyingKey:
        raise KeyNotValid(kid)

    with pytest.raises(KeyNotValid):
        verify_request(signed(post()), revoked, now=NOW)


def test_component_with_parameters_refused() -> None:
    request = signed(post())
    value = request.headers["Signature-Input"].replace('"content-digest"', '"content-digest";sf')
    refused(replace(request, headers={**request.headers, "Signature-Input": value}), "parameters")


@pytest.mark.parametrize("component", ["@status", "@query-param", "@signature-params", "@foo"])
def test_unsupported_derived_component_refused(component: str) -> None:
    request = signed(post())
    value = request.headers["Signature-Input"].replace('"@query"', f'"@query" "{component}"')
    refused(replace(request, headers={**request.headers, "Signature-Input": value}), "unsupported")


def test_duplicate_component_refused() -> None:
    request = signed(post())
    value = request.headers["Signature-Input"].replace('"@query"', '"@query" "@path"')
    refused(replace(request, headers={**request.headers, "Signature-Input": value}), "twice")


def test_component_that_is_not_a_string_refused() -> None:
    request = signed(post())
    value = request.headers["Signature-Input"].replace('"@query"', '"@query" date')
    refused(replace(request, headers={**request.headers, "Signature-Input": value}), "not a string")


def test_covered_header_missing_refused() -> None:
    request = signed(
        post(), components=("@method", "@path", "@query", "content-digest", "content-type")
    )
    headers = {k: v for k, v in request.headers.items() if k != "Content-Type"}
    refused(replace(request, headers=headers), "covered field content-type missing")


def test_unsignable_header_value_refused() -> None:
    request = signed(
        post(), components=("@method", "@path", "@query", "content-digest", "content-type")
    )
    headers = {**request.headers, "Content-Type": 'application/json\n"@method": GET'}
    refused(replace(request, headers=headers), "cannot be signed")
