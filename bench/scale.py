"""Scale benchmark: one PostgreSQL store grown through the API, its reads timed at each size.

A real hub under gunicorn (2 workers) takes batches of 100 signed messages from this process:
half 整改状态 lines from audit to the three other bodies (released at once: two log entries,
three deliveries, one ledger item each), half referrals from audit to discipline (held for
review: one entry, one case). The messages are signed in windows of a few batches just before
they are sent, so that no signature is stale. At each size (10^4 and 10^5 log entries; 10^6
with --million) it times, p50 and p99 over --samples requests each: an inclusion proof,
/v1/stats (all, and one period), /v1/ledger (as its owner and as a recipient) and
/v1/referrals on the first page and on the 1,000th (reached by walking cursors), and the
inbox with an un-acked backlog. Planner statistics are left as the load leaves them: the
server's autovacuum decides (this machine's runs with it off: no statistics at all).

    .venv/bin/python bench/scale.py                 # 10^4, 10^5
    .venv/bin/python bench/scale.py --million       # and 10^6
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import requests

from keys import HttpRequest, httpsig
from schemas import examples

sys.path.insert(0, str(Path(__file__).parent))
from ingest import Hub, drive, fresh_postgres, prepare, signed  # type: ignore[import-not-found]

SENDER = "audit.bench"
RECIPIENTS = ["discipline.bench", "inspection.bench", "personnel.bench"]
WINDOW = 10
"""Batches signed at a time: seconds of work, well inside the signatures' freshness."""


def ledger_line() -> dict[str, Any]:
    """A first 整改状态 line of a ledger item of its own, to the three other bodies."""
    line = examples.rectification_example(sender=SENDER, recipients=RECIPIENTS)
    line["payload"]["ledger_item_id"] = line["subject"] = f"BENCH-ZG-{uuid.uuid4().hex[:16]}"
    return line


def referral() -> dict[str, Any]:
    """A referral of its own to discipline (held for review)."""
    clue = examples.referral_example(sender=SENDER, recipients=[RECIPIENTS[0]])
    clue["payload"]["referral_id"] = clue["subject"] = f"BENCH-YJ-{uuid.uuid4().hex[:16]}"
    return clue


class Reader:
    """Signed GETs to the hub as one partner."""

    def __init__(self, hub: Hub, partner_id: str) -> None:
        self.hub, self.partner_id = hub, partner_id
        self.http = requests.Session()

    def get(self, path: str) -> Any:
        """GET ``path``; its JSON, or the run stops."""
        url = self.hub.url + path
        headers = httpsig.sign_request(
            HttpRequest("GET", url, {}, b""),
            self.hub.keys[self.partner_id],
            kid=f"{self.partner_id}#1",
        )
        response = self.http.get(url, headers=headers, timeout=120)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
        return response.json()


def grow(hub: Hub, entries: int, batch: int) -> int:
    """Submit batches until the log holds ``entries``; the log's size."""
    key, kid = hub.keys[SENDER], f"{SENDER}#1"
    reader = Reader(hub, SENDER)

    def accepted(status: int, body: bytes) -> None:
        if status != 200 or b'"error"' in body:
            raise SystemExit(f"a batch was refused: {status} {body[:300]!r}")

    size = reader.get("/v1/log/checkpoint")["tree_size"]
    while size < entries:
        # Each pair of messages adds three entries; sign only the window about to go.
        batches = min(WINDOW, max(1, (entries - size) * 2 // (3 * batch) + 1))
        window = [
            prepare(
                hub.url,
                key,
                kid,
                "/v1/messages:batch",
                {
                    "messages": [
                        signed(key, kid, ledger_line() if n % 2 else referral())
                        for n in range(batch)
                    ]
                },
            )
            for _ in range(batches)
        ]
        drive(window, 2, accepted)
        size = reader.get("/v1/log/checkpoint")["tree_size"]
    return int(size)


def timed(samples: int, call: Callable[[], object]) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``samples`` calls (after one unmeasured)."""
    call()
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def deep_cursor(reader: Reader, path: str, pages: int) -> tuple[str | None, int]:
    """The cursor of page ``pages`` of a list (walked from the first), and the page reached."""
    cursor: str | None = None
    for page in range(1, pages):
        listed = reader.get(path + (f"&cursor={cursor}" if cursor else ""))
        if listed["next"] is None:
            return cursor, page
        cursor = listed["next"]
    return cursor, pages


def measure(hub: Hub, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every read at this size: (p50, p99) by name, and the deep pages reached."""
    owner, recipient = Reader(hub, SENDER), Reader(hub, RECIPIENTS[0])
    n = args.samples
    row: dict[str, Any] = {"entries": size}
    tree = owner.get("/v1/log/checkpoint")["tree_size"]
    picks = random.Random(size)

    def proof() -> None:
        # Entry 0 is the hub's; every later one names a message of audit's or its key.
        owner.get(f"/v1/log/proofs/inclusion?index={picks.randrange(1, tree)}&tree_size={tree}")

    row["proof"] = timed(n, proof)
    # The first ask after the growth: the figures' kept sums catch up, or are made again.
    started = time.perf_counter()
    owner.get("/v1/stats")
    row["stats_first"] = (time.perf_counter() - started) * 1000
    row["stats"] = timed(max(5, n // 10), lambda: owner.get("/v1/stats"))
    row["stats_period"] = timed(
        max(5, n // 10), lambda: owner.get("/v1/stats?from=2025-01-01&to=2025-06-30")
    )
    lists = {
        "ledger_owner": (owner, "/v1/ledger?page_size=" + str(args.page_size)),
        "ledger_recipient": (recipient, "/v1/ledger?page_size=" + str(args.page_size)),
        "referrals": (owner, "/v1/referrals?page_size=" + str(args.page_size)),
    }
    for name, (reader, path) in lists.items():
        row[f"{name}_first"] = timed(n, partial(reader.get, path))
        cursor, reached = deep_cursor(reader, path, args.deep_page)
        deep = path + (f"&cursor={cursor}" if cursor else "")
        row[f"{name}_deep"] = timed(n, partial(reader.get, deep))
        row[f"{name}_page"] = reached
    # Nobody acks: discipline's whole inbox is the backlog (first pulls log once, then read).
    row["inbox"] = timed(n, lambda: recipient.get("/v1/inbox?unacked=true&limit=100"))
    return row


def report(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    """The table (Markdown), p50 / p99 in ms."""
    columns = [
        ("proof", "inclusion proof"),
        ("stats", "`/v1/stats`"),
        ("stats_period", "`/v1/stats?from&to`"),
        ("ledger_owner_first", "ledger (owner) p.1"),
        ("ledger_owner_deep", "ledger (owner) deep"),
        ("ledger_recipient_first", "ledger (recipient) p.1"),
        ("ledger_recipient_deep", "ledger (recipient) deep"),
        ("referrals_first", "referrals p.1"),
        ("referrals_deep", "referrals deep"),
        ("inbox", "inbox (un-acked)"),
    ]
    print(f"page_size={args.page_size}, samples={args.samples}; p50 / p99 in ms")
    titles = " | ".join(title for _, title in columns)
    print("| log entries | `/v1/stats` first ask | " + titles + " | deep page |")
    print("|---" * (len(columns) + 3) + "|")
    for row in rows:
        cells = [f"{row[name][0]:.1f} / {row[name][1]:.1f}" for name, _ in columns]
        pages = f"{row['ledger_owner_page']}, {row['ledger_recipient_page']}, "
        pages += f"{row['referrals_page']}"
        first = f"{row['stats_first']:.0f}"
        print(f"| {row['entries']:,} | {first} | " + " | ".join(cells) + f" | {pages} |")


def arguments() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--million", action="store_true", help="grow on to 10^6 entries")
    parser.add_argument(
        "--sizes", type=int, nargs="*", help="log sizes to stop at (default 10^4 10^5)"
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--samples", type=int, default=50, help="requests per figure")
    parser.add_argument("--page-size", type=int, default=20)
    parser.add_argument("--deep-page", type=int, default=1000, help="the deep page's number")
    parser.add_argument("--database", default="bench_scale", help="PostgreSQL database (emptied)")
    return parser.parse_args()


def main() -> None:
    """Grow, measure at each size, print the table."""
    args = arguments()
    sizes = args.sizes or [10**4, 10**5, *([10**6] if args.million else [])]
    hub = Hub(fresh_postgres(args.database), workers=2)
    rows = []
    try:
        for target in sizes:
            started = time.perf_counter()
            size = grow(hub, target, args.batch_size)
            print(f"grown to {size:,} entries in {time.perf_counter() - started:.0f} s", flush=True)
            rows.append(measure(hub, size, args))
            report(rows, args)
    finally:
        hub.stop()


if __name__ == "__main__":
    main()
