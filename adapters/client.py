"""``ExchangeClient``: the partner SDK — signs requests and messages, verifies what comes back."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import requests

from adapters.errors import HubError, VerificationFailed
from keys import (
    ACK_TYP,
    CHECKPOINT_TYP,
    HUB_PARTNER_ID,
    MESSAGE_TYP,
    RECEIPT_TYP,
    EvidenceInvalid,
    HttpRequest,
    KeysError,
    LogAction,
    SigningKey,
    UnknownKey,
    VerifiedEvidence,
    VerifyingKey,
    httpsig,
    jws,
    leaf_hash,
    verify_consistency,
    verify_evidence,
    verify_inclusion,
)
from schemas import canonical_bytes, envelope_sha256

Filter = str | int | bool | date
"""A query parameter's value as the SDK takes it."""


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head of the hub's log, its signature verified."""

    origin: str
    tree_size: int
    root_hash: bytes
    issued_at: str
    signed: str

    def as_json(self) -> dict[str, Any]:
        """What to keep on disk to check the next checkpoint against (see ``last_checkpoint``)."""
        return {"signed": self.signed}


@dataclass(frozen=True)
class SendResult:
    """A message the hub accepted, with its verified receipt."""

    id: str
    status: str
    receipt: str
    log_index: int
    claims: dict[str, Any]
    created: bool = True


@dataclass(frozen=True)
class InboxItem:
    """A message pulled from the inbox, its sender signature and hub receipt verified."""

    cursor: str
    envelope: dict[str, Any]
    signature: str
    receipt: str
    acked: bool
    envelope_sha256: str


@dataclass(frozen=True)
class InboxPage:
    """One page of the inbox; ``next`` is the cursor to continue from, or None."""

    items: list[InboxItem]
    next: str | None


@dataclass
class _Cache:
    hub_keys: dict[str, VerifyingKey] = field(default_factory=dict)
    partner_keys: dict[str, VerifyingKey] = field(default_factory=dict)
    digests: dict[str, str] = field(default_factory=dict)


class ExchangeClient:
    """Talks protocol v1 to a hub as one partner key (``kid``)."""

    def __init__(
        self,
        base_url: str,
        kid: str,
        private_key: SigningKey,
        *,
        session: requests.Session | None = None,
        timeout: float = 15.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.kid = kid
        self.private_key = private_key
        self.http = session or requests.Session()
        self.timeout = timeout
        self.clock = clock or (lambda: datetime.now(UTC))
        self._cache = _Cache()
        # The newest checkpoint seen: every later one must extend it (RFC 9162 §2.1.4), so a
        # hub that rewrites its history is caught. Persist it across runs (``as_json``).
        self.last_checkpoint: Checkpoint | None = None

    # -- messages -------------------------------------------------------------------------
    def sign(self, envelope: Mapping[str, Any]) -> dict[str, Any]:
        """The submission body: the envelope and a detached JWS over its JCS bytes."""
        signature = jws.sign_detached(
            canonical_bytes(envelope), self.private_key, kid=self.kid, typ=MESSAGE_TYP
        )
        return {"envelope": dict(envelope), "signature": signature}

    def send(self, envelope: Mapping[str, Any]) -> SendResult:
        """Submit one message; return its verified receipt."""
        response = self._request("POST", "/v1/messages", body=self.sign(envelope))
        return self._accepted(envelope, response.json(), created=response.status_code == 201)

    def send_batch(self, envelopes: Iterable[Mapping[str, Any]]) -> list[SendResult | HubError]:
        """Submit up to 100 messages in one request; one result (or refusal) per message."""
        envelopes = list(envelopes)
        body = {"messages": [self.sign(e) for e in envelopes]}
        results = self._request("POST", "/v1/messages:batch", body=body).json()["results"]
        out: list[SendResult | HubError] = []
        for envelope, result in zip(envelopes, results, strict=True):
            if "error" in result:
                out.append(HubError(int(result["error"].get("status", 422)), result["error"]))
            else:
                out.append(self._accepted(envelope, result))
        return out

    def message(self, message_id: str) -> dict[str, Any]:
        """A message this partner sent or received, with deliveries and events."""
        result: dict[str, Any] = self._request("GET", f"/v1/messages/{message_id}").json()
        return result

    # -- inbox ----------------------------------------------------------------------------
    def inbox(self, after: str | None = None, limit: int = 100, unacked: bool = False) -> InboxPage:
        """A page of released messages, each sender signature and receipt verified."""
        params: dict[str, str] = {"limit": str(limit)}
        if after is not None:
            params["after"] = after
        if unacked:
            params["unacked"] = "true"
        page = self._request("GET", "/v1/inbox", params=params).json()
        items = []
        for raw in page["items"]:
            envelope = raw["envelope"]
            digest = envelope_sha256(envelope)
            self._verify_sender(envelope, raw["signature"])
            self.verify_receipt(raw["receipt"], message_id=envelope["id"], digest=digest)
            self._cache.digests[envelope["id"]] = digest
            items.append(
                InboxItem(
                    raw["cursor"],
                    envelope,
                    raw["signature"],
                    raw["receipt"],
                    bool(raw["acked"]),
                    digest,
                )
            )
        return InboxPage(items, page.get("next"))

    def ack(self, message_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Acknowledge received messages with signed acks."""
        acks = []
        for message_id in message_ids:
            digest = self._cache.digests.get(message_id)
            if digest is None:
                digest = envelope_sha256(self.message(message_id)["envelope"])
            claims = {
                "id": message_id,
                "envelope_sha256": digest,
                "acked_at": self.clock().isoformat().replace("+00:00", "Z"),
            }
            token = jws.sign_compact(
                canonical_bytes(claims), self.private_key, kid=self.kid, typ=ACK_TYP
            )
            acks.append({"id": message_id, "ack": token})
        results: list[dict[str, Any]] = self._request(
            "POST", "/v1/inbox/acks", body={"acks": acks}
        ).json()["results"]
        return results

    # -- figures and lists ----------------------------------------------------------------
    def stats(self, **filters: Filter) -> dict[str, Any]:
        """The figures over what this partner sent or received (``GET /v1/stats``).

        ``filters`` as the endpoint's query parameters, ``from_`` for ``from``; dates as
        ``date`` or ISO text, e.g. ``stats(source_doc_number="燕审报〔2026〕3号",
        as_of=date(2026, 6, 30))``.
        """
        figures: dict[str, Any] = self._request("GET", "/v1/stats", params=_query(filters)).json()
        return figures

    def ledger(self, page_size: int = 100, **filters: Filter) -> Iterator[dict[str, Any]]:
        """Every 整改台账 item this partner owns or was sent lines of (``GET /v1/ledger``),
        page after page; ``filters`` such as ``source``, ``status``, ``unit``, ``overdue``.
        """
        return self.listed("/v1/ledger", page_size, **filters)

    def referrals(self, page_size: int = 100, **filters: Filter) -> Iterator[dict[str, Any]]:
        """Every clue referral this partner sent or received, per recipient's handling
        (``GET /v1/referrals``); ``filters`` such as ``state``, ``overdue``.
        """
        return self.listed("/v1/referrals", page_size, **filters)

    def shares(self, page_size: int = 100, **filters: Filter) -> Iterator[dict[str, Any]]:
        """Every shared result this partner sent or received and its use (``GET /v1/shares``);
        ``filters`` such as ``share_type``, ``state``.
        """
        return self.listed("/v1/shares", page_size, **filters)

    def listed(
        self, path: str, page_size: int = 100, **filters: Filter
    ) -> Iterator[dict[str, Any]]:
        """Every item of a cursor-paged list (``/v1/ledger``, ``/v1/referrals``, ``/v1/shares``),
        following ``next`` page by page; ``filters`` as the list's query parameters.
        """
        params = {**_query(filters), "page_size": str(page_size)}
        while True:
            page = self._request("GET", path, params=params).json()
            yield from page["items"]
            if page["next"] is None:
                return
            params["cursor"] = page["next"]

    # -- directory and trust --------------------------------------------------------------
    def partners(self) -> list[dict[str, Any]]:
        """The partner directory (ids, names, bodies, keys with windows)."""
        partners: list[dict[str, Any]] = self._request("GET", "/v1/partners").json()["partners"]
        for partner in partners:
            for key in partner["keys"]:
                if key["revoked_at"] is None:
                    self._cache.partner_keys[key["kid"]] = VerifyingKey.from_jwk(key["jwk"])
        return partners

    def hub_keys(self, *, refresh: bool = False) -> dict[str, VerifyingKey]:
        """The hub's public keys from its JWK Set (cached)."""
        if refresh or not self._cache.hub_keys:
            jwks = self._request("GET", "/.well-known/jwks.json", signed=False).json()
            self._cache.hub_keys = {k["kid"]: VerifyingKey.from_jwk(k) for k in jwks["keys"]}
        return self._cache.hub_keys

    def verify_receipt(
        self, receipt: str, *, message_id: str | None = None, digest: str | None = None
    ) -> dict[str, Any]:
        """Verify a hub receipt against the JWKS; check it names this message and digest."""
        try:
            _header, payload = jws.verify_compact(receipt, self._hub_key, typ=RECEIPT_TYP)
        except KeysError as failure:
            raise VerificationFailed(f"receipt does not verify: {failure}") from failure
        claims: dict[str, Any] = json.loads(payload)
        if message_id is not None and claims.get("id") != message_id:
            raise VerificationFailed("receipt names another message")
        if digest is not None and claims.get("envelope_sha256") != digest:
            raise VerificationFailed("receipt names another envelope digest")
        return claims

    # -- the transparency log -------------------------------------------------------------
    def checkpoint(self) -> Checkpoint:
        """The hub's newest checkpoint, verified, and proved consistent with the last seen."""
        document = self._request("GET", "/v1/log/checkpoint").json()
        newest = self.read_checkpoint(str(document["checkpoint"]))
        seen = self.last_checkpoint
        if seen is not None:
            if newest.origin != seen.origin:
                raise VerificationFailed("the checkpoint names another log")
            if newest.tree_size < seen.tree_size:
                raise VerificationFailed("the hub's log is shorter than a checkpoint seen before")
            self.verify_consistency(seen, newest)
        self.last_checkpoint = newest
        return newest

    def read_checkpoint(self, signed: str) -> Checkpoint:
        """Verify a checkpoint JWS with the hub's keys and read it."""
        try:
            _header, payload = jws.verify_compact(signed, self._hub_key, typ=CHECKPOINT_TYP)
            claims = json.loads(payload)
            return Checkpoint(
                str(claims["origin"]),
                int(claims["tree_size"]),
                bytes.fromhex(claims["root_hash"]),
                str(claims["issued_at"]),
                signed,
            )
        except (KeysError, ValueError, KeyError, TypeError) as failure:
            raise VerificationFailed(f"checkpoint does not verify: {failure}") from failure

    def verify_consistency(self, older: Checkpoint, newer: Checkpoint) -> None:
        """Prove with the hub's proof that ``newer`` extends ``older``; raise if it does not."""
        if older.tree_size == newer.tree_size or older.tree_size == 0:
            hashes: list[bytes] = []
        else:
            proof = self._request(
                "GET",
                "/v1/log/proofs/consistency",
                params={"first": str(older.tree_size), "second": str(newer.tree_size)},
            ).json()
            hashes = [bytes.fromhex(h) for h in proof["hashes"]]
        try:
            verify_consistency(
                older.tree_size, newer.tree_size, older.root_hash, newer.root_hash, hashes
            )
        except KeysError as failure:
            raise VerificationFailed(
                f"the hub's log of {newer.tree_size} entries does not extend the one of "
                f"{older.tree_size} seen before: {failure}"
            ) from failure

    def prove_receipt(self, result: SendResult, *, wait: float = 5.0) -> Checkpoint:
        """Prove that the receipt's log entry is in the hub's log: fetch the entry, check it
        records this message, and verify its inclusion proof against a checkpoint.
        """
        entry = self._request("GET", f"/v1/log/entries/{result.log_index}").json()
        claims = entry["entry"]
        if (
            claims.get("index") != result.log_index
            or claims.get("action") != LogAction.MESSAGE_RECEIVED
            or claims.get("message_id") != result.id
            or claims.get("envelope_sha256") != result.claims.get("envelope_sha256")
        ):
            raise VerificationFailed("the log entry at the receipt's index records something else")
        leaf = leaf_hash(canonical_bytes(claims))
        checkpoint = self.checkpoint()
        deadline = time.monotonic() + wait
        # The hub signs on demand at most once a second: wait for a head that covers the entry.
        while checkpoint.tree_size <= result.log_index and time.monotonic() < deadline:
            time.sleep(0.5)
            checkpoint = self.checkpoint()
        if checkpoint.tree_size <= result.log_index:
            raise VerificationFailed("no checkpoint covers the receipt's log index yet")
        proof = self._request(
            "GET",
            "/v1/log/proofs/inclusion",
            params={"index": str(result.log_index), "tree_size": str(checkpoint.tree_size)},
        ).json()
        try:
            verify_inclusion(
                leaf,
                result.log_index,
                checkpoint.tree_size,
                [bytes.fromhex(h) for h in proof["hashes"]],
                checkpoint.root_hash,
            )
        except KeysError as failure:
            raise VerificationFailed(f"inclusion proof fails: {failure}") from failure
        return checkpoint

    def evidence(self, message_id: str) -> tuple[dict[str, Any], VerifiedEvidence]:
        """A message's evidence bundle, verified with the hub's keys, its checkpoint proved
        consistent with the last one seen.
        """
        bundle: dict[str, Any] = self._request("GET", f"/v1/messages/{message_id}/evidence").json()
        hub_jwks = {"keys": [k.to_jwk(kid) for kid, k in self.hub_keys(refresh=True).items()]}
        try:
            verified = verify_evidence(bundle, hub_keys=hub_jwks)
        except EvidenceInvalid as failure:
            raise VerificationFailed(f"evidence does not verify: {failure}") from failure
        bundled = self.read_checkpoint(bundle["checkpoint"])
        seen = self.last_checkpoint
        if seen is not None:
            older, newer = sorted((seen, bundled), key=lambda c: c.tree_size)
            self.verify_consistency(older, newer)
        if seen is None or bundled.tree_size > seen.tree_size:
            self.last_checkpoint = bundled
        return bundle, verified

    def _hub_key(self, kid: str) -> VerifyingKey:
        keys = self.hub_keys()
        if kid not in keys:
            keys = self.hub_keys(refresh=True)
        if kid not in keys:
            raise UnknownKey(kid)
        return keys[kid]

    def _partner_key(self, kid: str) -> VerifyingKey:
        if kid not in self._cache.partner_keys:
            self.partners()
        if kid not in self._cache.partner_keys:
            raise UnknownKey(kid)
        return self._cache.partner_keys[kid]

    def verify_message(self, envelope: dict[str, Any], signature: str) -> str:
        """Verify a message's sender signature (a pushed one, say); return its digest."""
        self._verify_sender(envelope, signature)
        return hashlib.sha256(canonical_bytes(envelope)).hexdigest()

    def _verify_sender(self, envelope: dict[str, Any], signature: str) -> None:
        # The hub signs its own notices (`from: "hub"`) with a key of its JWK Set; partners'
        # messages verify with the directory only, so neither can pass for the other.
        resolve = self._hub_key if envelope.get("from") == HUB_PARTNER_ID else self._partner_key
        try:
            header = jws.verify_detached(
                signature, canonical_bytes(envelope), resolve, typ=MESSAGE_TYP
            )
        except KeysError as failure:
            raise VerificationFailed(f"sender signature does not verify: {failure}") from failure
        if not str(header["kid"]).startswith(f"{envelope['from']}#"):
            raise VerificationFailed("message signed by a key of another partner")

    def _accepted(
        self, envelope: Mapping[str, Any], result: dict[str, Any], created: bool = True
    ) -> SendResult:
        digest = hashlib.sha256(canonical_bytes(envelope)).hexdigest()
        claims = self.verify_receipt(
            result["receipt"], message_id=str(envelope["id"]), digest=digest
        )
        if claims.get("log_index") != result["log_index"]:
            raise VerificationFailed("receipt log index differs from the response")
        return SendResult(
            str(envelope["id"]),
            result["status"],
            result["receipt"],
            int(result["log_index"]),
            claims,
            created,
        )

    # -- transport ------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        signed: bool = True,
    ) -> requests.Response:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        prepared = requests.Request(
            method,
            self.base_url + path,
            params=params,
            data=data or None,
            headers={"Content-Type": "application/json"} if data else {},
        ).prepare()
        if signed:
            url = prepared.url or ""
            signature_headers = httpsig.sign_request(
                HttpRequest(method=method, url=url, headers=dict(prepared.headers), body=data),
                self.private_key,
                kid=self.kid,
                created=int(self.clock().timestamp()),
            )
            prepared.headers.update(signature_headers)
        response = self.http.send(prepared, timeout=self.timeout)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"type": "urn:exchange:error:http", "detail": response.text[:200]}
            raise HubError(response.status_code, problem)
        return response


def _query(filters: Mapping[str, Filter]) -> dict[str, str]:
    """Query parameters as the API spells them: ``from_`` → ``from``, dates ISO 8601,
    booleans ``true``/``false``.
    """
    params: dict[str, str] = {}
    for name, value in filters.items():
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, date):
            text = value.isoformat()
        else:
            text = str(value)
        params[name.removesuffix("_")] = text
    return params
