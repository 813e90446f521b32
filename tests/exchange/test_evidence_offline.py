"""An evidence bundle made by the hub, checked offline with ``keys`` alone.

This module imports only ``keys``, ``schemas`` and the standard library: what a partner or an
inspector has. The bundle comes from the ``evidence_bundle`` fixture as a file.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keys import EvidenceInvalid, verify_evidence
from schemas import canonical_bytes

# Run in a fresh interpreter: proves nothing of the hub, the database or the network is needed.
OFFLINE_CHECK = """
import json, sys
from keys import verify_evidence
verified = verify_evidence(json.load(open(sys.argv[1], encoding="utf-8")))
loaded = {"exchange", "adapters", "flask", "sqlalchemy", "psycopg", "requests"} & {
    name.split(".")[0] for name in sys.modules
}
assert not loaded, loaded
print(verified.message_id, len(verified.entries), ",".join(verified.acked_by))
"""


def test_the_bundle_verifies_offline_in_a_bare_interpreter(evidence_bundle: Path) -> None:
    bundle = json.loads(evidence_bundle.read_text())
    done = subprocess.run(
        [sys.executable, "-c", OFFLINE_CHECK, str(evidence_bundle)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    message_id, entries, acked_by = done.stdout.split()
    assert message_id == bundle["message_id"]
    assert acked_by == "discipline.yanliang"
    # received, two approvals, released, pulled, acked, and the two keys' registrations
    assert int(entries) == 8


def test_the_bundle_says_what_happened(evidence_bundle: Path) -> None:
    bundle = json.loads(evidence_bundle.read_text())
    verified = verify_evidence(bundle, hub_keys=bundle["keys"]["hub"])
    assert canonical_bytes(verified.envelope).decode() == bundle["envelope_jcs"]
    actions = [e["action"] for e in verified.entries]
    assert actions.count("key:added") == 2
    assert [a for a in actions if a.startswith("message:")] == [
        "message:received",
        "message:review:approved",
        "message:review:approved",
        "message:released",
        "message:pulled",
        "message:acked",
    ]
    reviewers = [e["actor"] for e in verified.entries if e["action"] == "message:review:approved"]
    # Two distinct reviewer accounts, named by id: no person's name in the log.
    assert len(set(reviewers)) == 2
    assert all(re.fullmatch(r"account:\d+", actor) for actor in reviewers), reviewers


def leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every scalar in a JSON document, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, (*path, index))
    else:
        yield path, node


def altered(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str) and value:
        # Change one character in the middle (inside a JWS, a hash, a text).
        middle = len(value) // 2
        return value[:middle] + ("A" if value[middle] != "A" else "B") + value[middle + 1 :]
    return "x"


def test_any_single_field_altered_fails(evidence_bundle: Path) -> None:
    bundle = json.loads(evidence_bundle.read_text())
    verify_evidence(bundle)
    paths = list(leaves(bundle))
    assert len(paths) > 60
    for path, value in paths:
        tampered = copy.deepcopy(bundle)
        target = tampered
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = altered(value)
        with pytest.raises(EvidenceInvalid):
            verify_evidence(tampered)
