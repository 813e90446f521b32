"""How many times one submitted message crosses from one hub module into another.

Sets up a hub on a temporary SQLite store with the CLI, then submits one signed referral
through the app (Flask's test client, the same WSGI path a server runs) under
``sys.setprofile``, counting every call whose caller and callee are functions of two
different ``exchange`` modules: the hops a reader follows from the request to the receipt.

    .venv/bin/python bench/hops.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Any

from keys import HttpRequest, SigningKey, httpsig, jws
from schemas import canonical_bytes, examples

EXCHANGE = str(Path(sys.executable).parent / "exchange")
# The capability each module belongs to; the flat modules of the hub before the reshape
# (issue 10) are mapped too, so that both shapes can be counted the same way.
CAPABILITIES = {
    "app": "hub",
    "hub": "hub",
    "config": "hub",
    "metrics": "api",
    "intake": "transport",
    "review": "transport",
    "inbox": "transport",
    "notices": "transport",
    "delivery": "transport",
    "writers": "store",
    "models": "store",
    "db": "store",
    "ledger": "transparency",
    "integrity": "transparency",
    "evidence": "transparency",
    "lifecycle": "supervision",
    "tracking": "supervision",
    "reports": "supervision",
    "directory": "trust",
    "trust": "trust",
    "agreements": "trust",
    "partners": "admin",
}
KID = "audit.yanliang#1"


def _module(frame: FrameType) -> str | None:
    name = frame.f_globals.get("__name__", "")
    return name if isinstance(name, str) and name.startswith("exchange.") else None


def capability(module: str) -> str:
    """``exchange.transport.intake`` → ``transport``; old flat modules by ``CAPABILITIES``."""
    first = module.split(".")[1]
    return CAPABILITIES.get(first, first)


def main() -> None:
    """Run in a temporary home, removed after."""
    with tempfile.TemporaryDirectory(prefix="exchange-hops-") as home:
        run(Path(home))


def run(home: Path) -> None:
    """Set up in ``home``, submit once while counting, print the hops and the modules they join."""
    env = {**os.environ, "EXCHANGE_HOME": str(home)}
    env.pop("EXCHANGE_DATABASE_URL", None)
    subprocess.run([EXCHANGE, "init"], env=env, check=True, capture_output=True)
    key = SigningKey.generate()
    public = home / "audit.pub.pem"
    public.write_bytes(key.public_key.to_pem())
    for partner in ("audit.yanliang", "discipline.yanliang"):
        pem = public if partner.startswith("audit") else home / "discipline.pub.pem"
        if not pem.exists():
            pem.write_bytes(SigningKey.generate().public_key.to_pem())
        args = ["partners", "add", partner, "--name", partner, "--key", str(pem)]
        subprocess.run([EXCHANGE, *args], env=env, check=True, capture_output=True)
    os.environ["EXCHANGE_HOME"] = str(home)
    from exchange.app import create_app

    app = create_app()
    client = app.test_client()

    def submit(envelope: dict[str, Any]) -> tuple[int, Counter[tuple[str, str]]]:
        body = json.dumps(
            {
                "envelope": envelope,
                "signature": jws.sign_detached(
                    canonical_bytes(envelope), key, kid=KID, typ="exchange-message+jws"
                ),
            }
        ).encode()
        url = "http://localhost/v1/messages"
        headers = {"Content-Type": "application/json"}
        headers.update(httpsig.sign_request(HttpRequest("POST", url, headers, body), key, kid=KID))
        hops: Counter[tuple[str, str]] = Counter()

        def profile(frame: FrameType, event: str, _arg: Any) -> None:
            if event != "call" or frame.f_back is None:
                return
            if frame.f_code.co_name.startswith("<"):
                return  # comprehensions and lambdas are not calls a reader follows
            callee, caller = _module(frame), _module(frame.f_back)
            if callee and caller and callee != caller:
                hops[(caller, callee)] += 1

        sys.setprofile(profile)
        try:
            status = client.post("/v1/messages", data=body, headers=headers).status_code
        finally:
            sys.setprofile(None)
        return status, hops

    rectification = examples.rectification_example(recipients=["discipline.yanliang"])
    submit(rectification)  # the first request builds the hub's services: not counted
    status, hops = submit(
        examples.rectification_example(recipients=["discipline.yanliang"], status="submitted")
    )
    assert status == 201, status
    print(f"hops between hub modules for one submission: {sum(hops.values())}")
    print(f"distinct module pairs: {len(hops)}")
    between: Counter[tuple[str, str]] = Counter()
    for (caller, callee), count in hops.items():
        if capability(caller) != capability(callee):
            between[(capability(caller), capability(callee))] += count
    print(f"hops between capabilities: {sum(between.values())} over {len(between)} pairs")
    for (caller, callee), count in sorted(between.items()):
        print(f"  {count:3d}  {caller} -> {callee}")
    print("hops between modules:")
    for (caller, callee), count in sorted(hops.items()):
        print(f"  {count:3d}  {caller} -> {callee}")


if __name__ == "__main__":
    main()
