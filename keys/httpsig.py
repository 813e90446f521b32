"""RFC 9421 HTTP Message Signatures for requests (alg ed25519) and RFC 9530 Content-Digest."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import SplitResult, urlsplit

from keys._clock import aware_now
from keys._sfv import (
    InnerList,
    Item,
    Member,
    Parameters,
    StructuredFieldError,
    parse_dictionary,
    serialize_dictionary,
    serialize_inner_list,
    serialize_item,
)
from keys.ed25519 import KeyResolver, SigningKey
from keys.errors import RequestSignatureInvalid, SignatureInvalid

ALG = "ed25519"
DEFAULT_LABEL = "sig1"
DEFAULT_COMPONENTS = ("@method", "@path", "@query")
DERIVED_COMPONENTS = frozenset(
    {"@method", "@target-uri", "@authority", "@scheme", "@request-target", "@path", "@query"}
)
# RFC 9421 §6.3.2: the registered signature parameters; anything else is refused.
_SIGNATURE_PARAMETERS = frozenset({"created", "expires", "keyid", "alg", "nonce", "tag"})
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_FIELD_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9a-z]+")
_OBS_FOLD = re.compile(r"[ \t]*\r\n[ \t]+")
_AUTHORITY = re.compile(r"(\[[^\]]*\]|[^:]*)(?::([0-9]*))?")


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request a signature can cover; header names match case-insensitively."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class VerifiedRequest:
    """What a verified request signature vouches for."""

    kid: str
    created: int
    components: tuple[str, ...]
    label: str


class _ComponentError(Exception):
    """A covered component that cannot be resolved for this request."""


def content_digest(body: bytes) -> str:
    """Return the RFC 9530 Content-Digest field value of body with SHA-256."""
    return serialize_dictionary({"sha-256": Item(hashlib.sha256(body).digest())})


def sign_request(
    request: HttpRequest,
    key: SigningKey,
    *,
    kid: str,
    created: int | None = None,
    expires: int | None = None,
    components: Sequence[str] | None = None,
    label: str = DEFAULT_LABEL,
    now: datetime | None = None,
    include_alg: bool = True,
) -> dict[str, str]:
    """Sign request; return the headers to add (Signature-Input, Signature, Content-Digest).

    Explicit components are used verbatim; the default covers content-digest when there is a body.
    """
    if created is None:
        created = int(aware_now(now).timestamp())
    added: dict[str, str] = {}
    fields = _field_values(request.headers)
    if request.body:
        added["Content-Digest"] = fields["content-digest"] = content_digest(request.body)
    if components is None:
        covered = DEFAULT_COMPONENTS + (("content-digest",) if request.body else ())
    else:
        covered = tuple(components)
    params: Parameters = {"created": created}
    if expires is not None:
        params["expires"] = expires
    params["keyid"] = kid
    if include_alg:
        params["alg"] = ALG
    signature_params = InnerList(tuple(Item(name) for name in covered), params)
    try:
        _check_covered(covered)
        base = _signature_base(request, fields, covered, serialize_inner_list(signature_params))
        added["Signature-Input"] = serialize_dictionary({label: signature_params})
    except (_ComponentError, StructuredFieldError) as e:
        raise ValueError(f"cannot sign request: {e}") from e
    added["Signature"] = serialize_dictionary({label: Item(key.sign(base))})
    return added


def verify_request(
    request: HttpRequest,
    resolve: KeyResolver,
    *,
    now: datetime | None = None,
    max_skew: int = 300,
    required: Sequence[str] = DEFAULT_COMPONENTS,
) -> VerifiedRequest:
    """Verify the request's signature (label sig1, or the only one); return what it covers.

    Raises RequestSignatureInvalid with a short reason; UnknownKey and KeyNotValid from resolve
    propagate unchanged.
    """
    moment = aware_now(now).timestamp()
    fields = _field_values(request.headers)
    label, signature_params, signature = _select_signature(fields)
    covered = _covered_components(signature_params)
    params = signature_params.params
    kid, created = _check_parameters(params, moment, max_skew)
    for name in required:
        if name not in covered:
            raise RequestSignatureInvalid(f"{name} not covered")
    # RFC 9421 §7.2.8: only a covered digest protects the body, and a covered one must match it.
    if request.body and "content-digest" not in covered:
        raise RequestSignatureInvalid("content-digest not covered")
    if "content-digest" in covered:
        _check_content_digest(fields.get("content-digest"), request.body)
    try:
        base = _signature_base(request, fields, covered, serialize_inner_list(signature_params))
    except (_ComponentError, StructuredFieldError) as e:
        raise RequestSignatureInvalid(str(e)) from e
    key = resolve(kid)
    try:
        key.verify(signature, base)
    except SignatureInvalid as e:
        raise RequestSignatureInvalid("signature mismatch") from e
    return VerifiedRequest(kid=kid, created=created, components=covered, label=label)


def _field_values(headers: Mapping[str, str]) -> dict[str, str]:
    # RFC 9421 §2.1: lower-case names, values trimmed and unfolded, several lines joined by ", ".
    lines: dict[str, list[str]] = {}
    for name, value in headers.items():
        normalized = _OBS_FOLD.sub(" ", value).strip(" \t")
        lines.setdefault(name.lower(), []).append(normalized)
    return {name: ", ".join(values) for name, values in lines.items()}


def _select_signature(fields: Mapping[str, str]) -> tuple[str, InnerList, bytes]:
    input_value = fields.get("signature-input")
    signature_value = fields.get("signature")
    if not input_value or not signature_value:
        raise RequestSignatureInvalid("missing signature")
    try:
        inputs = parse_dictionary(input_value)
        signatures = parse_dictionary(signature_value)
    except StructuredFieldError as e:
        raise RequestSignatureInvalid("malformed signature header") from e
    if DEFAULT_LABEL in inputs:
        label = DEFAULT_LABEL
    elif len(inputs) == 1:
        (label,) = inputs
    else:
        raise RequestSignatureInvalid("no sig1 among several signatures")
    signature_params = inputs[label]
    signature = signatures.get(label)
    if not isinstance(signature_params, InnerList):
        raise RequestSignatureInvalid("signature input is not an inner list")
    if signature is None:
        raise RequestSignatureInvalid("no signature for label")
    if not isinstance(signature, Item) or not isinstance(signature.value, bytes):
        raise RequestSignatureInvalid("signature is not a byte sequence")
    return label, signature_params, signature.value


def _covered_components(signature_params: InnerList) -> tuple[str, ...]:
    names: list[str] = []
    for item in signature_params.items:
        if not isinstance(item.value, str):
            raise RequestSignatureInvalid("component identifier is not a string")
        if item.params:
            raise RequestSignatureInvalid("component parameters not supported")
        names.append(item.value)
    covered = tuple(names)
    try:
        _check_covered(covered)
    except _ComponentError as e:
        raise RequestSignatureInvalid(str(e)) from e
    return covered


def _check_covered(covered: Sequence[str]) -> None:
    if len(set(covered)) != len(covered):
        # RFC 9421 §2.5: a component identifier must not be covered twice.
        raise _ComponentError("component covered twice")
    for name in covered:
        if name.startswith("@"):
            if name not in DERIVED_COMPONENTS:
                raise _ComponentError(f"unsupported component {name}")
        elif not _FIELD_NAME.fullmatch(name):
            raise _ComponentError(f"invalid field name {name!r}")


def _check_parameters(params: Parameters, moment: float, max_skew: int) -> tuple[str, int]:
    for name in params:
        if name not in _SIGNATURE_PARAMETERS:
            raise RequestSignatureInvalid(f"unknown signature parameter {name}")
    alg = params.get("alg")
    if alg is not None and alg != ALG:
        raise RequestSignatureInvalid("unsupported alg")
    kid = params.get("keyid")
    if not isinstance(kid, str) or not kid:
        raise RequestSignatureInvalid("missing keyid")
    created = params.get("created")
    if isinstance(created, bool) or not isinstance(created, int):
        raise RequestSignatureInvalid("missing created")
    if abs(moment - created) > max_skew:
        # The offset helps the partner fix its clock; the hub's time is no secret (Date).
        raise RequestSignatureInvalid(
            f"created outside allowed skew: {created - moment:+.0f} s from the verifier's clock, "
            f"at most ±{max_skew:g} s allowed"
        )
    if "expires" in params:
        expires = params["expires"]
        if isinstance(expires, bool) or not isinstance(expires, int):
            raise RequestSignatureInvalid("malformed expires")
        if moment > expires:
            raise RequestSignatureInvalid("signature expired")
    for name in ("nonce", "tag"):
        if name in params and not isinstance(params[name], str):
            raise RequestSignatureInvalid(f"malformed {name}")
    return kid, created


def _check_content_digest(value: str | None, body: bytes) -> None:
    if value is None:
        raise RequestSignatureInvalid("missing content-digest")
    try:
        digests = parse_dictionary(value)
    except StructuredFieldError as e:
        raise RequestSignatureInvalid("malformed content-digest") from e
    # RFC 9530 §2: other algorithms may be listed; sha-256 is the one this protocol requires.
    member: Member | None = digests.get("sha-256")
    if not isinstance(member, Item) or not isinstance(member.value, bytes):
        raise RequestSignatureInvalid("content-digest lacks sha-256")
    if not hmac.compare_digest(member.value, hashlib.sha256(body).digest()):
        raise RequestSignatureInvalid("content-digest mismatch")


def _signature_base(
    request: HttpRequest,
    fields: Mapping[str, str],
    covered: Sequence[str],
    signature_params: str,
) -> bytes:
    # RFC 9421 §2.5: one line per component, "@signature-params" last, no trailing newline.
    url = urlsplit(request.url)
    lines = []
    for name in covered:
        value = _component_value(name, request, url, fields)
        if any(not (0x20 <= ord(c) <= 0x7E or c == "\t") for c in value):
            raise _ComponentError(f"value of {name} cannot be signed")
        lines.append(f"{serialize_item(Item(name))}: {value}")
    lines.append(f'"@signature-params": {signature_params}')
    return "\n".join(lines).encode("ascii")


def _component_value(
    name: str, request: HttpRequest, url: SplitResult, fields: Mapping[str, str]
) -> str:
    if not name.startswith("@"):
        if name not in fields:
            raise _ComponentError(f"covered field {name} missing")
        return fields[name]
    if name == "@method":
        return request.method
    path = url.path or "/"  # RFC 9421 §2.2.6: an empty path is "/".
    # urlsplit drops an empty "?"; look at the raw URL to keep it in @request-target.
    query_suffix = f"?{url.query}" if "?" in request.url.split("#", 1)[0] else ""
    if name == "@path":
        return path
    if name == "@query":
        return f"?{url.query}"  # RFC 9421 §2.2.7: an absent query is "?".
    if name == "@request-target":
        return path + query_suffix
    scheme = url.scheme.lower()
    if not scheme or not url.netloc:
        raise _ComponentError(f"{name} needs an absolute URL")
    if name == "@scheme":
        return scheme
    if name == "@authority":
        return _authority(url.netloc, scheme)
    return f"{scheme}://{url.netloc.rpartition('@')[2]}{path}{query_suffix}"


def _authority(netloc: str, scheme: str) -> str:
    # RFC 9421 §2.2.3 via RFC 9110 §4.2.3: lower-case host, default port omitted.
    match = _AUTHORITY.fullmatch(netloc.rpartition("@")[2])
    if not match:
        raise _ComponentError("malformed authority")
    host, port = match.group(1).lower(), match.group(2)
    if not port or port == _DEFAULT_PORTS.get(scheme):
        return host
    return f"{host}:{port}"
