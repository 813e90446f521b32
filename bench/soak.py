"""Soak: N minutes (default 30) of mixed traffic against gunicorn + PostgreSQL + 2 workers.

What it does: sets up a hub on a fresh PostgreSQL database (`exchange init`, the four bodies
registered with `partners add`; discipline and personnel with webhooks to a local receiver
process, inspection and audit pull), serves it with `exchange serve` (gunicorn, 2 workers) and
runs two `exchange worker` processes. Then, for the whole run, real clients
(`adapters.ExchangeClient`, every request signed, every receipt verified):

- audit sends 整改状态 lines to the three other bodies (singles, and a batch of 20 every
  ten), and every forty a 问题线索移送 (to discipline, two reviewers) and a 成果共享 (to
  personnel, one reviewer);
- a reviewer approves what waits, through the CLI (`exchange review list/approve`);
- each recipient pulls its inbox and acks what it got; discipline answers each referral with
  a 线索办理情况反馈, personnel each share with a 成果运用情况反馈; audit pulls and acks those.

Every process's RSS (gunicorn master and workers, both workers) is sampled every 10 s. At the
end the load stops, the workers drain the outbox, and the run is checked against the clients'
own records: every message a client got a receipt for is stored at that log index and logged
once, nothing is stored that no client sent, every push reached the receiver (none twice),
every pull was acked, and `exchange log verify` passes. Prints per-minute throughput and
latency, RSS at the end of warm-up and at the end, and the checks.

Usage (from the repo root):

    .venv/bin/python bench/soak.py                       # 30 minutes on PostgreSQL
    .venv/bin/python bench/soak.py --seconds 20 --database sqlite   # the test's small run
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from adapters import ExchangeClient, HubError
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Delivery, LogEntry, Message
from keys import SigningKey
from keys.protocol import LogAction
from schemas import examples

sys.path.insert(0, str(Path(__file__).parent))
from delivery import receive, stats  # type: ignore[import-not-found]
from ingest import fresh_store, percentile  # type: ignore[import-not-found]

EXCHANGE = str(Path(sys.executable).parent / "exchange")
AUDIT, DISCIPLINE = examples.AUDIT, examples.DISCIPLINE
INSPECTION, PERSONNEL = examples.INSPECTION, examples.PERSONNEL
PUSHED_TO = (DISCIPLINE, PERSONNEL)
PULLS = (AUDIT, INSPECTION)
RSS_EVERY_SECONDS = 10.0


def exchange(env: dict[str, str], *args: str) -> str:
    """Run the hub CLI; its standard output."""
    done = subprocess.run(
        [EXCHANGE, *args], env=env, capture_output=True, text=True, timeout=300, check=True
    )
    return done.stdout


@dataclass
class Records:
    """What the clients were told and did: receipts, latencies, pulls and acks (thread-safe)."""

    receipts: dict[str, int] = field(default_factory=dict)
    sent: set[str] = field(default_factory=set)
    types: dict[str, str] = field(default_factory=dict)
    # (seconds since start, latency in seconds, messages in the request)
    requests: list[tuple[float, float, int]] = field(default_factory=list)
    retries: int = 0
    refusals: list[str] = field(default_factory=list)
    pulled: dict[str, set[str]] = field(default_factory=dict)
    acked: dict[str, set[str]] = field(default_factory=dict)
    reviews: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Soak:
    """The hub, its workers, the receiver and the clients of one run."""

    def __init__(self, database_url: str) -> None:
        # Removed by run() once the processes have stopped (or at exit, should this fail).
        self.scratch = tempfile.TemporaryDirectory(
            prefix="exchange-soak-", ignore_cleanup_errors=True
        )
        self.home = Path(self.scratch.name)
        self.env = dict(
            os.environ,
            EXCHANGE_HOME=str(self.home),
            EXCHANGE_DATABASE_URL=database_url,
            # The bench drives the hub past any partner's rate limit: raised out of the way
            # (the limiter still counts every request, so its cost is in the figures).
            EXCHANGE_RATELIMIT_PARTNER="1000000/second",
            EXCHANGE_RATELIMIT_ADDRESS="1000000/second",
        )
        ready = multiprocessing.Event()
        port = _free_port()
        self.receiver_process = multiprocessing.Process(
            target=receive, args=(port, ready), daemon=True
        )
        self.receiver_process.start()
        ready.wait(10)
        self.receiver = f"http://127.0.0.1:{port}"
        exchange(self.env, "init")
        self.keys: dict[str, SigningKey] = {}
        for partner_id in (AUDIT, DISCIPLINE, INSPECTION, PERSONNEL):
            key = SigningKey.generate()
            path = self.home / f"{partner_id}.pub.pem"
            path.write_bytes(key.public_key.to_pem())
            hook = (
                ["--webhook", f"{self.receiver}/{partner_id}", "--allow-internal"]
                if partner_id in PUSHED_TO
                else []
            )
            exchange(
                self.env, "partners", "add", partner_id, "--name", partner_id,
                "--key", str(path), *hook,
            )  # fmt: skip
            self.keys[partner_id] = key
        self.url = f"http://127.0.0.1:{_free_port()}"
        self.server = subprocess.Popen(
            [EXCHANGE, "serve", "--port", self.url.rsplit(":", 1)[1], "--workers", "2"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.workers = [
            subprocess.Popen(
                [EXCHANGE, "worker", "--interval", "0.5"],
                env=self.env,
                stdout=(self.home / f"worker-{n}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
            for n in range(2)
        ]
        for _ in range(600):
            try:
                if requests.get(self.url + "/readyz", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the hub did not start")
        self.records = Records()
        self.stopping = threading.Event()
        self.started = time.monotonic()

    def client(self, partner_id: str) -> ExchangeClient:
        """A real client of ``partner_id``."""
        return ExchangeClient(self.url, f"{partner_id}#1", self.keys[partner_id], timeout=60)

    # --- the processes and their memory -------------------------------------------------

    def processes(self) -> dict[str, int]:
        """The hub's processes by role: gunicorn master, its workers, the two workers."""
        found = {"gunicorn master": self.server.pid}
        children = Path(f"/proc/{self.server.pid}/task/{self.server.pid}/children")
        for n, pid in enumerate(sorted(int(p) for p in children.read_text().split())):
            found[f"gunicorn worker {n + 1}"] = pid
        for n, worker in enumerate(self.workers):
            found[f"exchange worker {n + 1}"] = worker.pid
        return found

    def sample_rss(self, samples: list[tuple[float, dict[str, int]]]) -> None:
        """Every 10 s until stopped: each process's resident set, in KiB."""
        while not self.stopping.wait(0 if not samples else RSS_EVERY_SECONDS):
            row = {}
            for role, pid in self.processes().items():
                match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
                if match:
                    row[role] = int(match.group(1))
            samples.append((time.monotonic() - self.started, row))

    # --- the clients ----------------------------------------------------------------------

    def submit(self, client: ExchangeClient, envelopes: list[dict[str, Any]]) -> list[str] | None:
        """Send singly or as a batch, retrying (same ids) while the hub is unavailable; the
        statuses, or None when stopping first.
        """
        while True:
            began = time.monotonic()
            try:
                if len(envelopes) == 1:
                    results: list[Any] = [client.send(envelopes[0])]
                else:
                    results = client.send_batch(envelopes)
            except (requests.RequestException, HubError) as failure:
                if isinstance(failure, HubError) and failure.status < 500:
                    self.records.refusals.append(str(failure))
                    return None
                self.records.retries += 1
                time.sleep(0.5)
                continue
            latency = time.monotonic() - began
            statuses = []
            with self.records.lock:
                self.records.requests.append((began - self.started, latency, len(envelopes)))
                for envelope, result in zip(envelopes, results, strict=True):
                    if isinstance(result, HubError):
                        self.records.refusals.append(str(result))
                        continue
                    self.records.receipts[result.id] = result.log_index
                    self.records.types[result.id] = envelope["type"]
                    statuses.append(result.status)
            return statuses
        return None

    def _sent(self, envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.records.lock:
            self.records.sent.update(e["id"] for e in envelopes)
        return envelopes

    def audit(self) -> None:
        """Status lines (a batch of 20 every ten singles); a referral and a share every 20."""
        client = self.client(AUDIT)
        count = 0
        while not self.stopping.is_set():
            count += 1
            if count % 40 == 0:
                case = f"SOAK-{count:07d}"
                referral = examples.referral_example(payload={"referral_id": f"YJ-{case}"})
                share = examples.share_example(payload={"share_id": f"GX-{case}"})
                self.submit(client, self._sent([referral]))
                self.submit(client, self._sent([share]))
            batch = 20 if count % 10 == 0 else 1
            lines = [_status_line() for _ in range(batch)]
            self.submit(client, self._sent(lines))
            time.sleep(0.05)

    def reviewer(self) -> None:
        """Approve what waits, through the CLI: referrals by two reviewers, shares by one."""
        while not self.stopping.wait(2.0):
            waiting = exchange(self.env, "review", "list")
            for message_id in re.findall(r"^(\S+)\t", waiting, re.MULTILINE):
                for reviewer in ("张审核", "李复核"):
                    done = subprocess.run(
                        [EXCHANGE, "review", "approve", "--as", reviewer, "--", message_id],
                        env=self.env, capture_output=True, text=True, timeout=300,
                    )  # fmt: skip
                    with self.records.lock:
                        self.records.reviews += 1
                    if done.returncode != 0 or "released" in done.stdout:
                        break

    def recipient(self, partner_id: str, answer: Callable[[dict[str, Any]], Any] | None) -> None:
        """Pull (signatures and receipts verified), ack, and answer what needs an answer."""
        client = self.client(partner_id)
        pulled = self.records.pulled.setdefault(partner_id, set())
        acked = self.records.acked.setdefault(partner_id, set())
        while True:
            stopping = self.stopping.is_set()
            try:
                page = client.inbox(unacked=True, limit=200)
                ids = [item.envelope["id"] for item in page.items]
                if ids:
                    results = client.ack(ids)
                    acked.update(r["id"] for r in results if r.get("status") == "acked")
            except (requests.RequestException, HubError):
                time.sleep(0.5)
                continue
            pulled.update(ids)
            for item in page.items:
                reply = answer(item.envelope) if answer else None
                if reply is not None:
                    self.submit(client, self._sent([reply]))
            if stopping and not ids:
                return
            if not ids:
                time.sleep(0.5)


def _status_line() -> dict[str, Any]:
    """A 整改状态 line opening a ledger item of its own, to the three other bodies."""
    line = examples.rectification_example()
    line["payload"]["ledger_item_id"] = line["subject"] = f"SOAK-{line['id'][:20]}"
    return line


def _feedback(envelope: dict[str, Any]) -> dict[str, Any] | None:
    if envelope["type"] == "clue.referral.v1":
        return examples.clue_feedback_example(referral=envelope)
    if envelope["type"] == "result.share.v1":
        return examples.result_feedback_example(share=envelope)
    return None


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run(seconds: float, database_url: str, warmup: float) -> dict[str, Any]:
    """One soak; its figures and checks. The hub's home is removed after."""
    soak = Soak(database_url)
    samples: list[tuple[float, dict[str, int]]] = []
    threads = [
        threading.Thread(target=soak.audit, name="audit"),
        threading.Thread(target=soak.reviewer, name="reviewer"),
        threading.Thread(target=soak.recipient, args=(DISCIPLINE, _feedback)),
        threading.Thread(target=soak.recipient, args=(PERSONNEL, _feedback)),
        threading.Thread(target=soak.recipient, args=(INSPECTION, None)),
        threading.Thread(target=soak.recipient, args=(AUDIT, None)),
        threading.Thread(target=soak.sample_rss, args=(samples,), name="rss"),
    ]
    for thread in threads:
        thread.start()
    try:
        soak.stopping.wait(seconds)
        soak.stopping.set()
        for thread in threads:
            thread.join(timeout=600)
        # The last reviews may have released messages after their recipients stopped pulling.
        exchange(soak.env, "review", "list")
        settled = _settle(soak)
        verified = exchange(soak.env, "log", "verify").strip()
    finally:
        soak.stopping.set()
        for worker in soak.workers:
            worker.send_signal(signal.SIGTERM)
        os.killpg(soak.server.pid, signal.SIGTERM)
        for worker in soak.workers:
            worker.wait(timeout=60)
        soak.server.wait(timeout=60)
        soak.receiver_process.terminate()
        soak.scratch.cleanup()
    return {
        "seconds": seconds,
        "warmup": warmup,
        "records": soak.records,
        "samples": samples,
        "verified": verified,
        **settled,
    }


def _settle(soak: Soak) -> dict[str, Any]:
    """Wait until the outbox is drained; what the store and the receiver hold then."""
    hub = Hub(Config(home=soak.home, database_url=soak.env["EXCHANGE_DATABASE_URL"]))
    try:
        for _ in range(600):
            with hub.readers() as session:
                waiting = session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.push_state.in_(("pending", "sending")))
                )
            if not waiting:
                break
            time.sleep(1)
        with hub.readers() as session:
            stored = dict(session.execute(select(Message.id, Message.log_index)).all())
            logged = dict(
                session.execute(
                    select(LogEntry.message_id, func.count())
                    .where(LogEntry.action == LogAction.MESSAGE_RECEIVED.value)
                    .group_by(LogEntry.message_id)
                ).all()
            )
            pushes = dict(
                session.execute(
                    select(Delivery.push_state, func.count())
                    .where(Delivery.push_state.is_not(None))
                    .group_by(Delivery.push_state)
                ).all()
            )
            released = dict(
                session.execute(select(Message.status, func.count()).group_by(Message.status)).all()
            )
    finally:
        hub.engine.dispose()
        hub.read_engine.dispose()
    return {
        "stored": stored,
        "logged": logged,
        "pushes": pushes,
        "statuses": released,
        "receiver": stats(soak.receiver),
    }


def report(result: dict[str, Any]) -> tuple[str, bool]:
    """The run's figures as Markdown, and whether every check held."""
    records: Records = result["records"]
    out = [
        f"PostgreSQL or SQLite as given; gunicorn 2 workers; 2 exchange workers; "
        f"{result['seconds'] / 60:g} minutes; cores: {os.cpu_count()}",
        "",
        "| minute | requests | messages accepted | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    by_minute: dict[int, list[tuple[float, int]]] = {}
    for at, latency, count in records.requests:
        by_minute.setdefault(int(at // 60), []).append((latency, count))
    for minute, rows in sorted(by_minute.items()):
        latencies = [latency for latency, _ in rows]
        out.append(
            f"| {minute + 1} | {len(rows):,} | {sum(c for _, c in rows):,} | "
            f"{percentile(latencies, 50) * 1000:.0f} | {percentile(latencies, 99) * 1000:.0f} |"
        )
    singles = [latency for _, latency, count in records.requests if count == 1]
    batches = [latency for _, latency, count in records.requests if count > 1]
    total = sum(count for _, _, count in records.requests)
    out += [
        "",
        f"overall: {total:,} messages in {len(records.requests):,} requests "
        f"({total / result['seconds']:.1f} messages/s); single p50 / p99 "
        f"{percentile(singles, 50) * 1000:.0f} / {percentile(singles, 99) * 1000:.0f} ms"
        + (
            f"; batch of 20 p50 / p99 {percentile(batches, 50) * 1000:.0f} / "
            f"{percentile(batches, 99) * 1000:.0f} ms"
            if batches
            else ""
        ),
        f"reviews (CLI): {records.reviews}; retries after 5xx or no answer: {records.retries}",
        "",
    ]
    ok = _memory(result, out)
    ok = _checks(result, out) and ok
    return "\n".join(out), ok


def _memory(result: dict[str, Any], out: list[str]) -> bool:
    """RSS at the end of warm-up against the end, per process (< 10 % growth)."""
    samples: list[tuple[float, dict[str, int]]] = result["samples"]
    after = [row for at, row in samples if at >= result["warmup"]] or [samples[-1][1]]
    first, last = after[0], samples[-1][1]
    out += [
        f"RSS (MiB), sampled every {RSS_EVERY_SECONDS:g} s; warm-up {result['warmup']:g} s:",
        "",
        "| process | after warm-up | peak | end | growth |",
        "|---|---|---|---|---|",
    ]
    ok = True
    for role in sorted(last):
        start, end = first.get(role, last[role]), last[role]
        peak = max(row.get(role, 0) for _, row in samples)
        growth = (end - start) / start * 100
        ok = ok and growth < 10
        out.append(
            f"| {role} | {start / 1024:.1f} | {peak / 1024:.1f} | {end / 1024:.1f} | "
            f"{growth:+.1f} % |"
        )
    out.append("")
    return ok


def _checks(result: dict[str, Any], out: list[str]) -> bool:
    """Nothing lost or doubled, against the clients' own records and the log."""
    records: Records = result["records"]
    stored: dict[str, int] = result["stored"]
    receiver = result["receiver"]
    lost = [m for m, index in records.receipts.items() if stored.get(m) != index]
    unknown = set(stored) - records.sent
    doubled = [m for m, count in result["logged"].items() if count != 1]
    unacked = {p: len(records.pulled[p] - records.acked[p]) for p in records.pulled}
    checks = {
        f"receipts given: {len(records.receipts):,}; stored at their index: "
        f"{len(records.receipts) - len(lost):,}": not lost,
        f"stored but sent by no client: {len(unknown)}": not unknown,
        f"messages logged other than once: {len(doubled)}": not doubled,
        f"refused: {len(records.refusals)}"
        + (f" (first: {records.refusals[0]})" if records.refusals else ""): not records.refusals,
        f"pushes by state: {result['pushes']}": set(result["pushes"]) <= {"pushed"},
        f"pushes received: {receiver['ids']:,} (repeats {receiver['repeats']})": (
            receiver["ids"] == result["pushes"].get("pushed", 0) and receiver["repeats"] == 0
        ),
        f"pulled and not acked: {unacked}": not any(unacked.values()),
        f"messages by status: {result['statuses']}": True,
        f"log verify: {result['verified']}": result["verified"].startswith("ok:"),
    }
    for text, held in checks.items():
        out.append(f"- {'ok' if held else 'FAILED'}: {text}")
    return all(checks.values())


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--seconds", type=float, default=None, help="instead of --minutes")
    parser.add_argument("--warmup", type=float, default=None, help="default: a sixth of the run")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    return parser.parse_args()


def main() -> None:
    """Run the soak and print its figures; exit 1 if a check failed."""
    args = arguments()
    seconds = args.seconds if args.seconds is not None else args.minutes * 60
    warmup = args.warmup if args.warmup is not None else seconds / 6
    url, scratch = fresh_store(args.database, "exchange_soak")
    with scratch:
        text, ok = report(run(seconds, url, warmup))
    print(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
