"""Push-delivery benchmark: webhook deliveries per second from `exchange worker` processes to a
local receiver, with 1 and with 4 workers, next to the floor measured in the same run.

What it does: makes a temporary store (`exchange init`), registers a sender and three
recipients whose webhook is a local receiver (`exchange partners add --webhook`), stores
`--messages` released status lines (each one three deliveries, three outbox rows) through the
hub's own intake, then starts N `exchange worker` processes and times the receiver from its
first webhook to its last, until every delivery is recorded as pushed. The same is repeated for
each worker count on fresh messages. Every request's `webhook-id` is counted at the receiver,
and one request per run is checked with the reference `standardwebhooks` library.

**Floor**: the receiver's own requests/s from a plain client — N processes each POSTing one
prepared, signed webhook body again and again through one `requests.Session` — the HTTP cost no
worker can avoid on this machine, with nothing else: no database, no signing, no log.

Usage (from the repo root):

    .venv/bin/python bench/delivery.py --database sqlite
    .venv/bin/python bench/delivery.py --database postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select, update
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Delivery
from exchange.transport.webhook_sender import webhook_body, webhook_headers
from exchange.trust.directory import KeyLookup
from keys import SigningKey, jws
from schemas import canonical_bytes, examples

sys.path.insert(0, str(Path(__file__).parent))
from ingest import fresh_store  # type: ignore[import-not-found]

EXCHANGE = str(Path(sys.executable).parent / "exchange")
SENDER = "audit.bench"
RECIPIENTS = ("discipline.bench", "inspection.bench", "personnel.bench")


# --- the receiver: a small asyncio HTTP/1.1 server in a process of its own -----------------------


def receive(port: int, ready: Any) -> None:
    """Answer 204 to every POST (keep-alive); ``GET /stats`` reports what came, ``GET /reset``
    starts over.
    """
    stats: dict[str, Any] = {}

    def reset() -> None:
        stats.update(requests=0, ids={}, first=None, last=None, sample=None)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while request_line := await reader.readline():
                headers: dict[str, str] = {}
                while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                body = await reader.readexactly(length) if length else b""
                if request_line.startswith(b"GET /stats"):
                    answer = json.dumps(
                        {**stats, "ids": len(stats["ids"]), "repeats": _repeats(stats)}
                    ).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
                    )
                elif request_line.startswith(b"GET /reset"):
                    reset()
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    moment = time.perf_counter()
                    stats["requests"] += 1
                    stats["first"] = stats["first"] or moment
                    stats["last"] = moment
                    webhook_id = headers.get("webhook-id", "")
                    # Each recipient has a path of its own: a delivery is (path, webhook-id).
                    key = request_line.split(b" ")[1].decode() + " " + webhook_id
                    stats["ids"][key] = stats["ids"].get(key, 0) + 1
                    if stats["sample"] is None and webhook_id:
                        stats["sample"] = {
                            "headers": headers,
                            "body": base64.b64encode(body).decode(),
                        }
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
        ready.set()
        async with server:
            await server.serve_forever()

    reset()
    asyncio.run(serve())


def _repeats(stats: dict[str, Any]) -> int:
    return sum(count - 1 for count in stats["ids"].values())


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the floor: a plain client ------------------------------------------------------------------


def plain_client(url: str, body: bytes, headers: dict[str, str], count: int, out: Any) -> None:
    """POST the same prepared request ``count`` times through one session; put the seconds."""
    session = requests.Session()
    session.trust_env = False
    session.post(url, data=body, headers=headers, timeout=15).raise_for_status()  # warm
    started = time.perf_counter()
    for _ in range(count):
        session.post(url, data=body, headers=headers, timeout=15).raise_for_status()
    out.put(time.perf_counter() - started)


def floor(url: str, body: bytes, headers: dict[str, str], processes: int, count: int) -> float:
    """Requests/s of ``processes`` plain clients together."""
    out: Any = multiprocessing.Queue()
    clients = [
        multiprocessing.Process(target=plain_client, args=(url, body, headers, count, out))
        for _ in range(processes)
    ]
    for client in clients:
        client.start()
    seconds: list[float] = [out.get(timeout=300) for _ in clients]
    for client in clients:
        client.join()
    return processes * count / max(seconds)


# --- the hub -------------------------------------------------------------------------------------


def exchange(env: dict[str, str], *args: str) -> str:
    """Run the hub CLI; its standard output."""
    done = subprocess.run([EXCHANGE, *args], env=env, check=True, capture_output=True, text=True)
    return done.stdout


class Store:
    """A temporary hub store with a sender and three recipients pushed to ``webhook``."""

    def __init__(self, database_url: str, webhook: str) -> None:
        self.home = Path(tempfile.mkdtemp(prefix="exchange-bench-delivery-"))
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
        self.secrets: dict[str, str] = {}
        self.key = SigningKey.generate()
        for partner_id in (SENDER, *RECIPIENTS):
            key = self.key if partner_id == SENDER else SigningKey.generate()
            path = self.home / f"{partner_id}.pub.pem"
            path.write_bytes(key.public_key.to_pem())
            args = ["partners", "add", partner_id, "--name", partner_id, "--key", str(path)]
            if partner_id != SENDER:
                args += ["--webhook", f"{webhook}/{partner_id}", "--allow-internal"]
            out = exchange(self.env, *args)
            secret = re.search(r"whsec_\S+", out)
            if secret:
                self.secrets[partner_id] = secret.group(0)
        self.hub = Hub(Config.from_env(self.env))

    def load(self, count: int) -> set[str]:
        """Store ``count`` released status lines, sender to the three recipients; their ids."""
        ids: set[str] = set()
        for start in range(0, count, 100):
            items = []
            for _ in range(min(100, count - start)):
                line = examples.rectification_example(sender=SENDER, recipients=RECIPIENTS)
                line["payload"]["ledger_item_id"] = line["subject"] = (
                    f"BENCH-WH-{uuid.uuid4().hex[:16]}"
                )
                signature = jws.sign_detached(
                    canonical_bytes(line), self.key, kid=f"{SENDER}#1", typ="exchange-message+jws"
                )
                items.append({"envelope": line, "signature": signature})
                ids.add(line["id"])
            now = self.hub.now()
            with self.hub.readers() as session:
                results = self.hub.intake.submit_batch(
                    SENDER, items, lookup=KeyLookup(session, now), now=now
                )
            refused = [r for r in results if not hasattr(r, "receipt")]
            if refused:
                raise SystemExit(f"refused: {refused[0]}")
        return ids

    def hold(self, until: datetime | None) -> None:
        """Make every pending push due at ``until`` (None: now), so that the workers start
        together once they are all up.
        """
        with self.hub.engine.begin() as connection:
            connection.execute(
                update(Delivery)
                .where(Delivery.push_state == "pending")
                .values(next_attempt_at=until or self.hub.now())
            )

    def pushed(self) -> int:
        """How many deliveries are recorded as pushed."""
        with self.hub.readers() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.push_state == "pushed")
                )
                or 0
            )

    def close(self) -> None:
        """Release the database connections and remove the home."""
        self.hub.engine.dispose()
        self.hub.read_engine.dispose()
        shutil.rmtree(self.home, ignore_errors=True)


def stats(receiver: str) -> dict[str, Any]:
    """The receiver's own counts."""
    answer: dict[str, Any] = requests.get(receiver + "/stats", timeout=10).json()
    return answer


def _verifies(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def run_workers(
    store: Store, receiver: str, workers: int, messages: int, batch: int
) -> dict[str, Any]:
    """Load fresh messages, start the workers, wait until every push is recorded; figures."""
    requests.get(receiver + "/reset", timeout=10)
    before = store.pushed()
    ids = store.load(messages)
    expected = before + len(ids) * len(RECIPIENTS)
    store.hold(store.hub.now() + timedelta(days=1))
    processes = [
        subprocess.Popen(
            [EXCHANGE, "worker", "--interval", "0.2", "--batch", str(batch)],
            env=store.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        time.sleep(5)  # every worker up and polling (every 0.2 s) before the pushes are due
        if any(p.poll() is not None for p in processes):
            raise SystemExit("a worker did not start")
        store.hold(None)
        deadline = time.monotonic() + 900
        while store.pushed() < expected:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise SystemExit("the workers stopped or took too long")
            time.sleep(0.2)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=60)
    figures = stats(receiver)
    sample = figures["sample"]
    body = base64.b64decode(sample["body"])
    # The sample verifies with the secret of the partner it was for (one of the three).
    if not any(_verifies(secret, body, sample["headers"]) for secret in store.secrets.values()):
        raise SystemExit("a webhook did not verify with the reference library")
    if figures["ids"] != expected - before or figures["repeats"]:
        raise SystemExit(f"{figures['ids']} distinct deliveries, {figures['repeats']} repeats")
    seconds = figures["last"] - figures["first"]
    return {
        "workers": workers,
        "deliveries": expected - before,
        "requests": figures["requests"],
        "distinct": figures["ids"],
        "repeats": figures["repeats"],
        "seconds": seconds,
        "rate": (figures["requests"] - 1) / seconds,
    }


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--messages", type=int, default=2000, help="per worker count (×3 pushes)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--batch", type=int, default=20, help="pushes a worker claims at a time")
    parser.add_argument("--floor-requests", type=int, default=3000, help="per client process")
    args = parser.parse_args()

    port = free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=receive, args=(port, ready), daemon=True)
    server.start()
    ready.wait(10)
    receiver = f"http://127.0.0.1:{port}"
    webhook = receiver + "/hooks/exchange"

    url, scratch = fresh_store(args.database, "exchange_bench_delivery")
    store = Store(url, webhook)
    try:
        # The floor's request: a real webhook of this store, as a worker would send it.
        line = examples.rectification_example(sender=SENDER, recipients=RECIPIENTS)
        envelope = canonical_bytes(line)
        body = webhook_body(envelope, "x" * 180, "y" * 600)
        headers = webhook_headers(
            line["id"],
            int(time.time()),
            body,
            base64.b64decode(next(iter(store.secrets.values())).removeprefix("whsec_")),
            store.hub.trust.current.signing_key,
        )
        results = []
        for workers in args.workers:
            rate = floor(webhook, body, headers, workers, args.floor_requests)
            run = run_workers(store, receiver, workers, args.messages, args.batch)
            results.append({**run, "floor": rate})
    finally:
        store.close()
        server.terminate()
        scratch.cleanup()

    print(
        f"database: {args.database}; batch {args.batch}; cores: {os.cpu_count()}; "
        f"{args.messages} messages × {len(RECIPIENTS)} webhook recipients per run"
    )
    print(
        "| workers | deliveries | requests at the receiver (repeats) | seconds | deliveries/s "
        "| floor: plain client req/s (same processes) | ÷ floor |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['workers']} | {r['deliveries']} | {r['requests']} ({r['repeats']}) | "
            f"{r['seconds']:.1f} | {r['rate']:,.0f} | {r['floor']:,.0f} | "
            f"{r['rate'] / r['floor']:.2f} |"
        )


if __name__ == "__main__":
    main()
