"""Schemathesis against the hub's own OpenAPI document, over real HTTP, every request signed
(RFC 9421) as a registered partner and every envelope re-signed (its detached JWS over JCS),
so that generated requests get past authentication to the schemas, the store and the log.

Bounded and deterministic: ``derandomize`` with a fixed case budget per operation and mode
(about 2,000 cases in all). Checks: schemathesis's own (no 5xx, documented statuses, media
types, headers and response schemas), and ours: every refusal a problem document of a listed
type whose ``status`` is the answer's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode, Response
from schemathesis.core.result import Ok

from exchange.api.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPES
from keys import HttpRequest, httpsig, jws
from schemas import canonical_bytes
from tests.support import PartnerKeys

pytestmark = [pytest.mark.slow, pytest.mark.fuzz]

# Cases per operation and mode: 20 operations × (40 valid + 10 invalid) ≈ 1,000, twice
# (signed, unsigned) is the ~2,000 the CI budget allows on two cores.
VALID_CASES = 40
INVALID_CASES = 10
UNSIGNED_CASES = 50


class PartnerSigner(requests.auth.AuthBase):
    """Signs each prepared request as ``partner`` (the body as sent), after re-signing any
    envelope in it, so the fuzzer's bodies meet the hub's checks past the signatures.
    """

    def __init__(self, partner: PartnerKeys) -> None:
        self.partner = partner

    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        body = prepared.body or b""
        if isinstance(body, str):
            body = body.encode()
        body = self._resigned(body)
        prepared.body = body or None
        prepared.prepare_content_length(prepared.body)
        headers = {k: v for k, v in prepared.headers.items() if isinstance(v, str)}
        signed = httpsig.sign_request(
            HttpRequest(
                method=str(prepared.method), url=str(prepared.url), headers=headers, body=body
            ),
            self.partner.key,
            kid=self.partner.kid,
        )
        prepared.headers.update(signed)
        return prepared

    def _resigned(self, body: bytes) -> bytes:
        try:
            document = json.loads(body)
        except ValueError:
            return body
        items = document.get("messages") if isinstance(document, dict) else None
        submissions = items if isinstance(items, list) else [document]
        changed = False
        for submission in submissions:
            envelope = submission.get("envelope") if isinstance(submission, dict) else None
            if not isinstance(envelope, dict):
                continue
            try:
                submission["signature"] = self.partner_signature(envelope)
            except Exception:  # not JCS-able (a float outside I-JSON, say): sent as generated
                continue
            changed = True
        return json.dumps(document, ensure_ascii=False).encode() if changed else body

    def partner_signature(self, envelope: dict[str, Any]) -> str:
        """The detached JWS this partner would send with ``envelope``."""
        return jws.sign_detached(
            canonical_bytes(envelope),
            self.partner.key,
            kid=self.partner.kid,
            typ="exchange-message+jws",
        )


class Tally:
    """What the run saw: cases by operation, statuses, problem types."""

    def __init__(self) -> None:
        self.cases = 0
        self.statuses: Counter[int] = Counter()
        self.problems: Counter[str] = Counter()
        self.failures: list[str] = []
        self.unfuzzable: list[str] = []


@pytest.fixture(scope="module")
def tally() -> Iterator[Tally]:
    seen = Tally()
    yield seen
    print(
        f"\nfuzzed {seen.cases} cases; statuses {dict(sorted(seen.statuses.items()))}; "
        f"problems {dict(sorted(seen.problems.items()))}; no invalid input for {seen.unfuzzable}"
    )
    for failure in seen.failures:
        print("FINDING", failure)


def _media_type(response: Response) -> str:
    return (response.headers.get("content-type") or [""])[0]


def _problem_is_listed(response: Response) -> None:
    """Every 4xx/5xx is an RFC 9457 document of a listed type, its ``status`` the answer's."""
    if response.status_code < 400:
        return
    assert _media_type(response).startswith(PROBLEM_MEDIA_TYPE), response.content[:300]
    problem = json.loads(response.content)
    code = str(problem["type"]).removeprefix("urn:exchange:error:")
    assert code in PROBLEM_TYPES, problem
    assert problem["status"] == response.status_code, problem
    assert problem["title"] and problem["detail"], problem


def _operations(base_url: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(base_url + "/v1/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the hub's own document must load whole
        operations.append(result.ok())
    return operations


def _run(
    operation: Any,
    mode: GenerationMode,
    cases: int,
    session: requests.Session,
    base_url: str,
    tally: Tally,
    excluded: list[Any],
) -> None:
    @settings(
        max_examples=cases,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: Case[Any]) -> None:
        response = case.call(base_url=base_url, session=session, timeout=30)
        tally.cases += 1
        tally.statuses[response.status_code] += 1
        if response.status_code >= 400 and _media_type(response).startswith(PROBLEM_MEDIA_TYPE):
            code = str(json.loads(response.content).get("type"))
            tally.problems[code.removeprefix("urn:exchange:error:")] += 1
        checks_out = excluded
        if operation.path.endswith((":batch", "/acks")):
            # Each item of a batch (and each ack) is refused on its own, inside a 200
            # (PROTOCOL §4, §5): an item off its schema is not a refusal of the request.
            checks_out = [*excluded, schemathesis.checks.negative_data_rejection]
        case.validate_response(response, excluded_checks=checks_out)
        _problem_is_listed(response)

    try:
        fuzz()
    except Unsatisfiable:
        # Nothing in the document can be made invalid (e.g. a free string path parameter).
        tally.unfuzzable.append(f"{operation.method.upper()} {operation.path}")
    except Exception as failure:  # collected, so that one run reports every operation
        tally.failures.append(f"{operation.method.upper()} {operation.path} [{mode}]: {failure}")


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_signed_requests_meet_the_document(
    base_url: str, partners: dict[str, PartnerKeys], tally: Tally, mode: GenerationMode
) -> None:
    session = requests.Session()
    session.auth = PartnerSigner(partners["audit"])
    # A schema-valid request may still be refused by what no schema can say (a route the
    # agreements forbid, an id not the caller's): positive_data_acceptance would call that
    # a failure. Every other built-in check runs.
    excluded = [schemathesis.checks.positive_data_acceptance]
    cases = VALID_CASES if mode is GenerationMode.POSITIVE else INVALID_CASES
    for operation in _operations(base_url):
        _run(operation, mode, cases, session, base_url, tally, excluded)
    assert tally.failures == []


def test_unsigned_requests_are_refused_as_documented(base_url: str, tally: Tally) -> None:
    session = requests.Session()
    before = tally.statuses[401]
    excluded = [schemathesis.checks.positive_data_acceptance]
    operations = _operations(base_url)
    for operation in operations:
        _run(
            operation,
            GenerationMode.POSITIVE,
            UNSIGNED_CASES // 5,
            session,
            base_url,
            tally,
            excluded,
        )
    assert tally.failures == []
    assert tally.statuses[401] - before >= len(operations)
