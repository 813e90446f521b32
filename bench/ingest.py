"""Ingest benchmark: a real hub under gunicorn (2 workers), loaded from this separate process.

Reports messages/s and p50/p99 latency for single and batch submissions, next to the floor
measured in the same run: verifying one JWS and one HTTP signature and signing one receipt per
message, in one process. Usage (from the repo root):

    .venv/bin/python bench/ingest.py --database sqlite
    .venv/bin/python bench/ingest.py --database postgresql
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text

from keys import HttpRequest, SigningKey, httpsig, jws, save_signing_key, static_resolver
from schemas import canonical_bytes, examples

EXCHANGE = str(Path(sys.executable).parent / "exchange")
PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
PARTNERS = ("audit.bench", "discipline.bench", "inspection.bench", "personnel.bench")


def fresh_postgres(database: str) -> str:
    """An empty PostgreSQL database of its own (created if missing)."""
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = f"{PG_SERVER}/{database}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exchange(env: dict[str, str], *args: str) -> None:
    subprocess.run([EXCHANGE, *args], env=env, check=True, capture_output=True)


class Hub:
    """A hub process on a temporary store, with registered bench partners."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="exchange-bench-"))
        self.env = dict(
            os.environ, EXCHANGE_HOME=str(self.home), EXCHANGE_DATABASE_URL=database_url
        )
        exchange(self.env, "init")
        self.keys: dict[str, SigningKey] = {}
        for partner_id in PARTNERS:
            key = SigningKey.generate()
            path = self.home / f"{partner_id}.pem"
            save_signing_key(path, key)
            exchange(
                self.env, "partners", "add", partner_id, "--name", partner_id, "--key", str(path)
            )
            self.keys[partner_id] = key
        self.url = f"http://127.0.0.1:{free_port()}"
        port = self.url.rsplit(":", 1)[1]
        self.process = subprocess.Popen(
            [EXCHANGE, "serve", "--port", port, "--workers", str(workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            try:
                if requests.get(self.url + "/readyz", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit("the hub did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def envelope() -> dict[str, Any]:
    """A 整改状态 line from audit to the three other bodies (no review: released at once)."""
    return examples.rectification_example(
        sender="audit.bench",
        recipients=["discipline.bench", "inspection.bench", "personnel.bench"],
    )


def signed(key: SigningKey, kid: str, envelope_: dict[str, Any]) -> dict[str, Any]:
    signature = jws.sign_detached(
        canonical_bytes(envelope_), key, kid=kid, typ="exchange-message+jws"
    )
    return {"envelope": envelope_, "signature": signature}


def prepare(
    url: str, key: SigningKey, kid: str, path: str, document: Any
) -> tuple[str, bytes, dict[str, str]]:
    body = json.dumps(document, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(
        httpsig.sign_request(HttpRequest("POST", url + path, headers, body), key, kid=kid)
    )
    return url + path, body, headers


def drive(requests_: list[tuple[str, bytes, dict[str, str]]], concurrency: int,
          check: Callable[[int, bytes], None]) -> tuple[float, list[float]]:
    """Send the prepared requests from ``concurrency`` threads; return (seconds, latencies).

    The standard library's http.client keeps the load generator's own CPU cost low: it shares
    the machine's two cores with the hub it measures.
    """
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    queue = list(reversed(requests_))

    def worker() -> None:
        while not failures:
            with lock:
                if not queue:
                    return
                url, body, headers = queue.pop()
            parts = urlsplit(url)
            started = time.perf_counter()
            connection = http.client.HTTPConnection(parts.netloc, timeout=60)
            connection.request("POST", parts.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            connection.close()
            elapsed = time.perf_counter() - started
            try:
                check(response.status, payload)
            except BaseException as failure:  # a thread's SystemExit would vanish: keep it
                failures.append(failure)
                return
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - started, latencies


def floor(count: int) -> float:
    """Messages/s for the bare crypto: verify JWS + verify HTTP signature + sign a receipt."""
    sender, hub_key = SigningKey.generate(), SigningKey.generate()
    resolve = static_resolver({"audit.bench#1": sender.public_key})
    items = []
    for _ in range(count):
        document = signed(sender, "audit.bench#1", envelope())
        url, body, headers = prepare(
            "http://127.0.0.1", sender, "audit.bench#1", "/v1/messages", document
        )
        items.append(
            (
                canonical_bytes(document["envelope"]),
                document["signature"],
                HttpRequest("POST", url, headers, body),
            )
        )
    receipt = canonical_bytes({"id": "x" * 26, "status": "released", "log_index": 1})
    started = time.perf_counter()
    for canonical, signature, request in items:
        httpsig.verify_request(request, resolve)
        jws.verify_detached(signature, canonical, resolve, typ="exchange-message+jws")
        jws.sign_compact(receipt, hub_key, kid="hub#1", typ="exchange-receipt+jws")
    return count / (time.perf_counter() - started)


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    if args.database == "postgresql":
        url = fresh_postgres("exchange_bench")
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='exchange-bench-db-')}/exchange.db"
    hub = Hub(url, args.workers)
    kid, key = "audit.bench#1", hub.keys["audit.bench"]
    try:
        floor_rate = floor(min(args.messages, 2000))

        def created(status: int, body: bytes) -> None:
            if status != 201:
                raise SystemExit(f"refused: {status} {body[:300]!r}")

        def batch_ok(status: int, body: bytes) -> None:
            if status != 200 or any("error" in r for r in json.loads(body)["results"]):
                raise SystemExit(f"batch refused: {body[:300]!r}")

        # Warm up both workers (imports, connection pools) outside the timed runs.
        warm = [
            prepare(hub.url, key, kid, "/v1/messages", signed(key, kid, envelope()))
            for _ in range(40)
        ]
        drive(warm, args.concurrency, created)

        singles = [
            prepare(hub.url, key, kid, "/v1/messages", signed(key, kid, envelope()))
            for _ in range(args.messages)
        ]
        single_seconds, single_latency = drive(singles, args.concurrency, created)
        batches = [
            prepare(
                hub.url,
                key,
                kid,
                "/v1/messages:batch",
                {"messages": [signed(key, kid, envelope()) for _ in range(args.batch_size)]},
            )
            for _ in range(args.messages // args.batch_size)
        ]
        batch_seconds, batch_latency = drive(batches, args.concurrency, batch_ok)
    finally:
        hub.stop()

    single_rate = args.messages / single_seconds
    batch_rate = len(batches) * args.batch_size / batch_seconds
    print(
        f"database: {args.database}; gunicorn workers: {args.workers}; "
        f"client threads: {args.concurrency}; cores: {os.cpu_count()}"
    )
    print(
        f"floor (verify JWS + verify HTTP signature + sign receipt, one process): "
        f"{floor_rate:,.0f} messages/s"
    )
    print("| mode | messages | messages/s | p50 ms | p99 ms | fraction of floor |")
    print("|---|---|---|---|---|---|")
    for mode, count, rate, latencies in (
        ("single", args.messages, single_rate, single_latency),
        (f"batch of {args.batch_size}", len(batches) * args.batch_size, batch_rate, batch_latency),
    ):
        print(
            f"| {mode} | {count} | {rate:,.0f} | {percentile(latencies, 50) * 1000:.1f} | "
            f"{percentile(latencies, 99) * 1000:.1f} | {rate / floor_rate:.2f} |"
        )


if __name__ == "__main__":
    main()
