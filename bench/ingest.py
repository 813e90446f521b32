"""Ingest benchmark: a real hub under gunicorn (2 workers), loaded from this separate process.

Reports messages/s and p50/p99 latency for single and batch submissions, next to the floor
measured in the same run: verifying one JWS and one HTTP signature and signing one receipt per
message, in one process. With wrk it also loads ``GET /healthz`` on the same hub: what the HTTP
stack alone (gunicorn, Flask, the limiter, no signature, no database) serves on these cores, the
ceiling no submission can pass. Usage (from the repo root):

    .venv/bin/python bench/ingest.py --database sqlite
    .venv/bin/python bench/ingest.py --database postgresql
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import create_engine, text

from keys import HttpRequest, SigningKey, httpsig, jws, static_resolver
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


def fresh_store(database: str, name: str) -> tuple[str, tempfile.TemporaryDirectory[str]]:
    """A fresh store's URL — PostgreSQL database ``name``, or an SQLite file — and the
    temporary directory to remove after the run (left empty on PostgreSQL).
    """
    scratch = tempfile.TemporaryDirectory(prefix="exchange-bench-db-")
    if database == "postgresql":
        return fresh_postgres(name), scratch
    return f"sqlite:///{scratch.name}/exchange.db", scratch


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def exchange(env: dict[str, str], *args: str) -> None:
    """Run the hub CLI."""
    subprocess.run([EXCHANGE, *args], env=env, check=True, capture_output=True)


class Hub:
    """A hub process on a temporary store, with registered bench partners."""

    def __init__(self, database_url: str, workers: int) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="exchange-bench-"))
        self.env = dict(
            os.environ,
            EXCHANGE_HOME=str(self.home),
            EXCHANGE_DATABASE_URL=database_url,
            # The bench drives the hub past any partner's rate limit: raised out of the way
            # (the limiter still counts every request, so its cost is in the figures).
            EXCHANGE_RATELIMIT_PARTNER="1000000/second",
            EXCHANGE_RATELIMIT_ADDRESS="1000000/second",
        )
        exchange(self.env, "init")
        self.keys: dict[str, SigningKey] = {}
        for partner_id in PARTNERS:
            key = SigningKey.generate()
            path = self.home / f"{partner_id}.pub.pem"
            path.write_bytes(key.public_key.to_pem())
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
        """Stop the server, wait for it, and remove its home."""
        self.process.terminate()
        self.process.wait(timeout=30)
        shutil.rmtree(self.home, ignore_errors=True)


def envelope() -> dict[str, Any]:
    """A 整改状态 line from audit to the three other bodies (no review: released at once), each
    about a ledger item of its own (its first status: a new read-model row, a log entry).
    """
    line = examples.rectification_example(
        sender="audit.bench",
        recipients=["discipline.bench", "inspection.bench", "personnel.bench"],
    )
    item = f"BENCH-ZG-{uuid.uuid4().hex[:16]}"
    line["payload"]["ledger_item_id"] = line["subject"] = item
    return line


def signed(key: SigningKey, kid: str, envelope_: dict[str, Any]) -> dict[str, Any]:
    """A submission body: the envelope and its detached JWS."""
    signature = jws.sign_detached(
        canonical_bytes(envelope_), key, kid=kid, typ="exchange-message+jws"
    )
    return {"envelope": envelope_, "signature": signature}


def prepare(
    url: str, key: SigningKey, kid: str, path: str, document: Any
) -> tuple[str, bytes, dict[str, str]]:
    """A signed request, ready to send: URL, body, headers."""
    body = json.dumps(document, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json"}
    headers.update(
        httpsig.sign_request(HttpRequest("POST", url + path, headers, body), key, kid=kid)
    )
    return url + path, body, headers


def drive(
    requests_: list[tuple[str, bytes, dict[str, str]]],
    concurrency: int,
    check: Callable[[int, bytes], None],
) -> tuple[float, list[float]]:
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


def drive_rate(
    requests_: list[tuple[str, bytes, dict[str, str]]],
    rate: float,
    check: Callable[[int, bytes], None],
) -> tuple[float, list[float]]:
    """Offer the prepared requests at ``rate`` per second, open loop; (seconds, latencies).

    Request i is due at ``start + i / rate`` whatever became of the others, and its latency
    counts from then: a hub that falls behind is charged the queueing it causes (no
    coordinated omission). Keep-alive connections, one per sending thread.
    """
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    queue = list(reversed(list(enumerate(requests_))))
    start = time.perf_counter() + 0.5

    def worker() -> None:
        netloc = urlsplit(requests_[0][0]).netloc
        connection = http.client.HTTPConnection(netloc, timeout=60)
        while not failures:
            with lock:
                if not queue:
                    break
                number, (url, body, headers) = queue.pop()
            due = start + number / rate
            time.sleep(max(0.0, due - time.perf_counter()))
            connection.request("POST", urlsplit(url).path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            elapsed = time.perf_counter() - due
            try:
                check(response.status, payload)
            except BaseException as failure:  # a thread's SystemExit would vanish: keep it
                failures.append(failure)
                break
            with lock:
                latencies.append(elapsed)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(max(8, int(rate // 10)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return time.perf_counter() - start, latencies


_WRK_SCRIPT = """
local prepared = {%(requests)s}
local expected = %(status)d
local sent = 0
errors = 0
exhausted = 0
function setup(thread) table.insert(threads, thread) end
function request()
  sent = sent + 1
  if sent >= #prepared then exhausted = 1; wrk.thread:stop() end
  return prepared[math.min(sent, #prepared)]
end
function response(status, headers, body)
  if status ~= expected or body:find('"error"', 1, true) then errors = errors + 1 end
end
function done(summary, latency, requests)
  local errs, out = 0, 0
  for _, t in ipairs(threads) do errs = errs + t:get("errors"); out = out + t:get("exhausted") end
  io.write(string.format(
    'WRK {"requests": %%d, "seconds": %%f, "p50": %%f, "p99": %%f, ' ..
    '"errors": %%d, "exhausted": %%d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, errs, out))
end
threads = {}
"""


def _lua_string(data: bytes) -> str:
    """A Lua string literal holding exactly these bytes."""
    out = []
    for byte in data:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def drive_wrk(
    requests_: list[tuple[str, bytes, dict[str, str]]], connections: int, status: int, seconds: int
) -> tuple[int, float, float, float]:
    """Load for ``seconds`` with wrk (C, epoll) from a pool of distinct prepared requests.

    Returns (requests answered, seconds, p50, p99). wrk runs for a fixed duration, so the pool
    must outlast it: running dry would resend a message, and the run fails instead.
    """
    path = urlsplit(requests_[0][0]).path
    entries = []
    for _url, body, headers in requests_:
        header_table = ", ".join(
            f"[{_lua_string(k.encode())}] = {_lua_string(v.encode())}" for k, v in headers.items()
        )
        entries.append(f'wrk.format("POST", "{path}", {{{header_table}}}, {_lua_string(body)})')
    base = "{0.scheme}://{0.netloc}".format(urlsplit(requests_[0][0]))
    with tempfile.TemporaryDirectory(prefix="exchange-wrk-") as scratch:  # removed after
        script = Path(scratch) / "ingest.lua"
        script.write_text(_WRK_SCRIPT % {"requests": ",\n".join(entries), "status": status})
        done = subprocess.run(
            [
                "wrk",
                "-t",
                "1",
                "-c",
                str(connections),
                "-d",
                f"{seconds}s",
                "--timeout",
                "60s",
                "-s",
                str(script),
                base,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(row for row in done.stdout.splitlines() if row.startswith("WRK "))
    figures = json.loads(line[4:])
    if figures["exhausted"]:
        raise SystemExit(f"wrk used up all {len(requests_)} prepared requests: raise --messages")
    if figures["errors"]:
        raise SystemExit(f"wrk: {figures['errors']} requests were refused\n{done.stdout}")
    return (figures["requests"], figures["seconds"], figures["p50"] / 1000, figures["p99"] / 1000)


def stack_ceiling(base_url: str, connections: int, seconds: int) -> float:
    """Requests/s of ``GET /healthz`` on the same hub with wrk: what the HTTP stack alone
    (gunicorn, Flask, the limiter, the app's hooks) serves on these cores, with no signature,
    no body and no database.
    """
    done = subprocess.run(
        ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", base_url + "/healthz"],
        capture_output=True,
        text=True,
        check=True,
    )
    if "Non-2xx" in done.stdout:
        raise SystemExit(f"GET /healthz was refused under load:\n{done.stdout}")
    line = next(row for row in done.stdout.splitlines() if row.startswith("Requests/sec:"))
    return float(line.split()[1])


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
    """The q-th percentile of the values."""
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def arguments() -> argparse.Namespace:
    """The command line, with the defaults that depend on the driver filled in."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--messages",
        type=int,
        default=None,
        help="messages prepared per mode (default 20000 with wrk, 3000 without)",
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--driver",
        choices=["wrk", "python"],
        default="wrk" if shutil.which("wrk") else "python",
        help="load generator: wrk (C; apt-get install wrk) or Python threads",
    )
    parser.add_argument(
        "--seconds",
        type=int,
        default=10,
        help="wrk only: how long each load runs (the prepared messages must outlast it)",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=100.0,
        help="single submissions offered per second in the latency run (0 skips it)",
    )
    parser.add_argument(
        "--batch-messages",
        type=int,
        default=None,
        help="messages prepared for the batch mode (default 50000 with wrk, 3000 without)",
    )
    args = parser.parse_args()
    if args.messages is None:
        args.messages = 20000 if args.driver == "wrk" else 3000
    if args.batch_messages is None:
        args.batch_messages = 50000 if args.driver == "wrk" else 3000

    return args


def main() -> None:
    """Run the benchmark and print its figures."""
    args = arguments()
    url, scratch = fresh_store(args.database, "exchange_bench")
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

        def timed(
            build: Callable[[], tuple[str, bytes, dict[str, str]]],
            count: int,
            status: int,
            check: Callable[[int, bytes], None],
        ) -> tuple[int, float, float, float]:
            """(requests answered, seconds, p50 s, p99 s) over ``count`` prepared requests."""
            prepared = [build() for _ in range(count)]
            if args.driver == "wrk":
                return drive_wrk(prepared, args.concurrency, status, args.seconds)
            seconds, latencies = drive(prepared, args.concurrency, check)
            return count, seconds, percentile(latencies, 50), percentile(latencies, 99)

        single = timed(
            lambda: prepare(hub.url, key, kid, "/v1/messages", signed(key, kid, envelope())),
            args.messages,
            201,
            created,
        )
        batch = timed(
            lambda: prepare(
                hub.url,
                key,
                kid,
                "/v1/messages:batch",
                {"messages": [signed(key, kid, envelope()) for _ in range(args.batch_size)]},
            ),
            args.batch_messages // args.batch_size,
            200,
            batch_ok,
        )
        offered = None
        if args.rate:
            count = int(args.rate * args.seconds)
            prepared = [
                prepare(hub.url, key, kid, "/v1/messages", signed(key, kid, envelope()))
                for _ in range(count)
            ]
            seconds, latencies = drive_rate(prepared, args.rate, created)
            offered = (count, seconds, percentile(latencies, 50), percentile(latencies, 99))
        ceiling = (
            stack_ceiling(hub.url, args.concurrency, args.seconds) if args.driver == "wrk" else None
        )
    finally:
        hub.stop()
        scratch.cleanup()

    report(args, floor_rate, single, batch, offered, ceiling)


def report(
    args: argparse.Namespace,
    floor_rate: float,
    single: tuple[int, float, float, float],
    batch: tuple[int, float, float, float],
    offered: tuple[int, float, float, float] | None,
    ceiling: float | None,
) -> None:
    """Print the run's figures as a Markdown table."""
    print(
        f"database: {args.database}; gunicorn workers: {args.workers}; driver: {args.driver}, "
        f"{args.concurrency} connections; cores: {os.cpu_count()}"
    )
    print(
        f"floor (verify JWS + verify HTTP signature + sign receipt, one process): "
        f"{floor_rate:,.0f} messages/s"
    )
    print("| mode | messages | messages/s | p50 ms | p99 ms | fraction of floor |")
    print("|---|---|---|---|---|---|")
    for mode, per_request, (answered, seconds, p50, p99) in (
        ("single", 1, single),
        (f"batch of {args.batch_size}", args.batch_size, batch),
    ):
        rate = answered * per_request / seconds
        print(
            f"| {mode} | {answered * per_request} | {rate:,.0f} | {p50 * 1000:.1f} | "
            f"{p99 * 1000:.1f} | {rate / floor_rate:.2f} |"
        )
    if offered is not None:
        answered, seconds, p50, p99 = offered
        print(
            f"single at {args.rate:g} requests/s offered (open loop, {answered} requests in "
            f"{seconds:.1f} s): p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
        )
    if ceiling is not None:
        answered, seconds = single[0], single[1]
        print(
            f"the HTTP stack alone (wrk, GET /healthz, {args.concurrency} connections): "
            f"{ceiling:,.0f} requests/s = {ceiling / floor_rate:.2f} of the floor; "
            f"single submissions ran at {answered / seconds / ceiling:.2f} of it"
        )


if __name__ == "__main__":
    main()
