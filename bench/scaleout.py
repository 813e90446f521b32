"""Scale-out benchmark: two hub nodes on one PostgreSQL, two workers, one load generator.

What it does: makes a temporary store on PostgreSQL (`exchange init`), registers a sender and
three recipients whose webhooks are a local receiver, and starts two `exchange serve`
processes on two ports — two nodes, each with its own gunicorn workers, sharing the database
and a copy of the hub's keys as two machines would — and two `exchange worker` processes.
`wrk` then loads both nodes at once (one wrk per node, each half the connections) with signed
single submissions for `--seconds`, and again with batches of 100. The same is measured
against one node alone, for comparison. Afterwards the workers must have pushed every
delivery exactly once (counted by webhook-id at the receiver), the log must verify
(`exchange log verify`), and the store must hold exactly the messages the nodes acknowledged.

On this 2-core machine two nodes share the cores one node already uses, so the figure to read
is not a speed-up but that the second node costs nothing and loses nothing: the log lock, the
group commit and the outbox claims hold across processes that know nothing of each other.

**Floor**: as in `ingest.py` — verify one RFC 9421 signature, verify one JWS, sign one receipt
per message, in one process, in the same run.

Usage (from the repo root; `apt-get install wrk`):

    .venv/bin/python bench/scaleout.py
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import func, select

from exchange.store.models import Delivery, LogEntry, Message

sys.path.insert(0, str(Path(__file__).parent))
from delivery import RECIPIENTS, SENDER, Store, free_port, receive, stats  # type: ignore[import-not-found]
from ingest import (  # type: ignore[import-not-found]
    drive_wrk,
    envelope,
    floor,
    fresh_postgres,
    prepare,
    signed,
)

EXCHANGE = str(Path(sys.executable).parent / "exchange")

Prepared = list[tuple[str, bytes, dict[str, str]]]


class Node:
    """One `exchange serve` on a port of its own, with a copy of the hub's home."""

    def __init__(self, env: dict[str, str], workers: int, name: str) -> None:
        self.home = home = Path(tempfile.mkdtemp(prefix=f"exchange-node-{name}-"))
        # A node of its own: the keys copied (as a deployment ships them), metrics apart.
        shutil.copytree(Path(env["EXCHANGE_HOME"]) / "keys", home / "keys")
        os.chmod(home, 0o700)
        self.env = dict(env, EXCHANGE_HOME=str(home))
        self.url = f"http://127.0.0.1:{free_port()}"
        self.process = subprocess.Popen(
            [EXCHANGE, "serve", "--port", self.url.rsplit(":", 1)[1], "--workers", str(workers)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(300):
            try:
                if requests.get(self.url + "/readyz", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise SystemExit(f"node {name} did not start")

    def stop(self) -> None:
        """Stop the node, wait for it, and remove its home."""
        self.process.terminate()
        self.process.wait(timeout=60)
        shutil.rmtree(self.home, ignore_errors=True)


def load(
    nodes: list[Node], store: Store, path: str, count: int, per_request: int, **wrk: Any
) -> dict[str, Any]:
    """Load every node at once with its own wrk; messages/s over all, p50/p99 of the slowest."""
    key, kid = store.key, f"{SENDER}#1"

    def document() -> dict[str, Any]:
        if per_request == 1:
            one: dict[str, Any] = signed(key, kid, envelope())
            return one
        return {"messages": [signed(key, kid, envelope()) for _ in range(per_request)]}

    pools: list[Prepared] = [
        [prepare(node.url, key, kid, path, document()) for _ in range(count)] for node in nodes
    ]
    results: list[tuple[int, float, float, float]] = []
    threads = [
        threading.Thread(
            target=lambda pool=pool: results.append(
                drive_wrk(pool, wrk["connections"] // len(nodes), wrk["status"], wrk["seconds"])
            )
        )
        for pool in pools
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(results) != len(nodes):
        raise SystemExit("a load generator failed")
    answered = sum(r[0] for r in results) * per_request
    seconds = max(r[1] for r in results)
    return {
        "messages": answered,
        "rate": answered / seconds,
        "p50": max(r[2] for r in results),
        "p99": max(r[3] for r in results),
    }


def settle(store: Store, receiver: str, acknowledged: int) -> dict[str, Any]:
    """Wait until every delivery is pushed; check the store, the receiver and the log.

    wrk counts the answers it read within its time; the requests still in flight when it
    stopped are stored too, so the store holds at least what was acknowledged.
    """
    with store.hub.readers() as session:
        messages = session.scalar(select(func.count()).select_from(Message)) or 0
        deliveries = session.scalar(select(func.count()).select_from(Delivery))
        # One statement: the workers append meanwhile (pushes are logged).
        entries, top = session.execute(select(func.count(), func.max(LogEntry.index))).one()
    expected = messages * len(RECIPIENTS)
    if messages < acknowledged or deliveries != expected:
        raise SystemExit(f"{messages} messages stored, {acknowledged} acknowledged")
    deadline = time.monotonic() + 900
    while store.pushed() < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {store.pushed()} of {expected} deliveries were pushed")
        time.sleep(0.5)
    if top is None or entries != top + 1:
        raise SystemExit("the log's indices are not dense")
    received = stats(receiver)
    if received["ids"] != expected or received["repeats"]:
        raise SystemExit(f"{received['ids']} deliveries pushed, {received['repeats']} twice")
    done = subprocess.run(
        [EXCHANGE, "log", "verify"], env=store.env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout.startswith("ok:"):
        raise SystemExit(f"log verify: {done.stdout}{done.stderr}")
    return {"messages": messages, "entries": entries, "pushed": expected}


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10, help="per load (wrk)")
    parser.add_argument("--connections", type=int, default=16, help="over all nodes")
    parser.add_argument("--node-workers", type=int, default=2, help="gunicorn workers per node")
    parser.add_argument("--messages", type=int, default=15000, help="single requests per node")
    parser.add_argument("--batches", type=int, default=300, help="batch requests per node")
    return parser.parse_args()


def run(args: argparse.Namespace, count: int) -> tuple[float, list[dict[str, Any]]]:
    """One store; one node, then two, each loaded single and batch; the figures."""
    ready = multiprocessing.Event()
    port = free_port()
    receiver_process = multiprocessing.Process(target=receive, args=(port, ready), daemon=True)
    receiver_process.start()
    ready.wait(10)
    receiver = f"http://127.0.0.1:{port}"
    store = Store(fresh_postgres("exchange_scaleout"), receiver)
    workers = [
        subprocess.Popen(
            [EXCHANGE, "worker", "--interval", "0.5"],
            env=store.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(2)
    ]
    rows: list[dict[str, Any]] = []
    try:
        floor_rate = floor(2000)
        acknowledged = 0
        for node_count in (1, 2):
            nodes = [Node(store.env, args.node_workers, str(n)) for n in range(node_count)]
            try:
                wrk = {"connections": args.connections, "seconds": args.seconds}
                single = load(nodes, store, "/v1/messages", count, 1, status=201, **wrk)
                batch = load(
                    nodes, store, "/v1/messages:batch", args.batches, 100, status=200, **wrk
                )
            finally:
                for node in nodes:
                    node.stop()
            acknowledged += single["messages"] + batch["messages"]
            checked = settle(store, receiver, acknowledged)
            rows.append({"nodes": node_count, "single": single, "batch": batch, **checked})
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            process.wait(timeout=60)
        store.close()
        receiver_process.terminate()
    return floor_rate, rows


def main() -> None:
    """Run the benchmark and print its figures."""
    args = arguments()
    floor_rate, rows = run(args, args.messages)
    print(
        f"PostgreSQL; {args.node_workers} gunicorn workers per node; 2 exchange workers; "
        f"wrk, {args.connections} connections over all nodes, {args.seconds} s per load; "
        f"cores: {os.cpu_count()}; floor {floor_rate:,.0f} messages/s"
    )
    print(
        "| nodes | single msg/s | single p50 / p99 ms | single ÷ floor | batch msg/s | "
        "batch p50 / p99 ms | batch ÷ floor | stored (≥ acknowledged) | pushed once |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for row in rows:
        single, batch = row["single"], row["batch"]
        print(
            f"| {row['nodes']} | {single['rate']:,.0f} | {single['p50'] * 1000:.1f} / "
            f"{single['p99'] * 1000:.1f} | {single['rate'] / floor_rate:.2f} | "
            f"{batch['rate']:,.0f} | {batch['p50'] * 1000:.0f} / {batch['p99'] * 1000:.0f} | "
            f"{batch['rate'] / floor_rate:.2f} | {row['messages']:,} | {row['pushed']:,} |"
        )


if __name__ == "__main__":
    main()
