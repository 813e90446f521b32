"""How fast ``GET /v1/stats`` answers over a large ledger, with the Version 1 filters.

Fills a store directly through SQL inserts of the hub's own tables (messages, ledger lines and
items, as the ledger lifecycle writes them: each line with the whole state it left its item in,
status dates rising through the year) — the intake path is measured by ``bench/ingest.py`` —
to N ledger items of ~5 lines each, then asks ``/v1/stats`` as the ledger owner through the app
(Flask's test client: the same WSGI path a server runs, signed requests included) with several
filters, and prints p50/p99 per query.

    .venv/bin/python bench/figures.py --items 10000,100000 \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_figures
    .venv/bin/python bench/figures.py --items 200 --requests 3  # SQLite (tests/test_bench.py)
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

from sqlalchemy import Table, create_engine, insert, text
from sqlalchemy.engine import make_url

from exchange.admin.partners import add_partner
from exchange.app import create_app
from exchange.config import Config
from exchange.store.db import upgrade
from exchange.store.models import LedgerItem, LedgerLine, Message
from exchange.trust.hub_keys import HubTrust
from keys import HttpRequest, SigningKey, httpsig
from schemas import AMOUNT_CATEGORIES

OWNER: Final = "audit.bench"
KID: Final = f"{OWNER}#1"
YEAR: Final = 2022
DOCS: Final = [f"阎审报〔{2020 + n % 4}〕{n}号" for n in range(1, 41)]
UNITS: Final = [(f"燕良区某单位{n:03d}", f"91610114MA{n:06d}X0") for n in range(200)]
CATEGORIES: Final = [
    "财务管理",
    "预算执行",
    "政府采购",
    "工程建设",
    "国有资产",
    "津贴补贴",
    "内部控制",
]
PATH: Final = ["pending", "in_progress", "submitted", "completed", "closed"]
QUERIES: Final = [
    "/v1/stats",
    f"/v1/stats?as_of={YEAR}-06-30",
    f"/v1/stats?source_doc_number={DOCS[2]}&as_of={YEAR}-06-30",
    f"/v1/stats?source_year={YEAR}&problem_category=财务管理",
    f"/v1/stats?unit={UNITS[7][1]}&as_of={YEAR}-09-30",
    f"/v1/stats?owner={OWNER}&source=audit&from={YEAR}-01-01&to={YEAR}-03-31",
]
_CHUNK: Final = 5_000


def _reset(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    server = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        quoted = connection.dialect.identifier_preparer.quote(str(parsed.database))
        connection.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        connection.execute(text(f"CREATE DATABASE {quoted}"))
    server.dispose()


def _lines(items: int, lines: int, rng: random.Random) -> Iterator[tuple[dict[str, Any], ...]]:
    """Per item: (message, line, …) rows, then the item row last."""
    base = datetime(YEAR, 1, 5, 2, tzinfo=UTC)
    log_index = 0
    for n in range(items):
        unit = UNITS[n % len(UNITS)]
        doc = DOCS[n % len(DOCS)]
        first = base + timedelta(days=n % 20)
        state: dict[str, Any] = {
            "owner": OWNER,
            "ledger_item_id": f"ZG-{n:07d}",
            "source": "audit",
            "source_doc_number": doc,
            "unit_name": unit[0],
            "unit_uscc": unit[1],
            "rectification_class": rng.choice(["immediate", "phased", "continuous"]),
            "deadline": date(YEAR, 6, 30) + timedelta(days=rng.randrange(-60, 120)),
            "milestone_due": None,
            "amount_involved": rng.randrange(0, 5_000_000),
            "amount_rectified": 0,
            "rules_made": 0,
            "persons_held_accountable": 0,
            "source_year": int(doc[4:8]),
            "source_project": f"项目{n % 30}",
            "problem_category": CATEGORIES[n % len(CATEGORIES)],
            "referral_id": None,
            "co_units_json": None,
            "acts_json": None,
            **{f"amount_{c}": None for c in AMOUNT_CATEGORIES},
        }
        rows: list[dict[str, Any]] = []
        day = first
        for k in range(lines):
            log_index += 1
            day += timedelta(days=rng.randrange(10, 70))
            status = PATH[min(k, len(PATH) - 1)] if rng.random() < 0.8 else "ongoing"
            state["status"] = status
            if k >= 2:
                state["amount_rectified"] = state["amount_involved"] // (5 - k + 1)
                state["amount_recovered"] = state["amount_rectified"]
                state["amount_violation"] = state["amount_involved"]
            message_id = f"bench-{log_index:012d}"
            rows.append(
                {
                    "id": message_id,
                    "type": "rectification.status.v1",
                    "sender": OWNER,
                    "subject": state["ledger_item_id"],
                    "in_reply_to": None,
                    "classification": "internal",
                    "sent_at": day,
                    "received_at": day,
                    "released_at": day,
                    "envelope_sha256": "0" * 64,
                    "sealed_envelope": b"",
                    "signature": "",
                    "signer_kid": KID,
                    "status": "released",
                    "required_approvals": 0,
                    "receipt": "",
                    "receipt_status": "released",
                    "log_index": log_index,
                    "size_bytes": 0,
                }
            )
            rows.append(
                {
                    **state,
                    "message_id": message_id,
                    "log_index": log_index,
                    "received_at": day,
                    "reported_at": day,
                    "status_date": (day + timedelta(hours=8)).date(),
                }
            )
        lines_of_item = rows[1::2]
        for line, following in zip(lines_of_item, [*lines_of_item[1:], None], strict=True):
            line["first_reported_at"] = rows[0]["sent_at"]
            line["superseded_on"] = following["status_date"] if following else None
        rows.append(
            {
                **{
                    k: v
                    for k, v in rows[-1].items()
                    if k not in ("message_id", "log_index", "received_at", "superseded_on")
                },
                "first_reported_at": rows[0]["sent_at"],
                "last_message_id": rows[-1]["message_id"],
                "notified_at": None,
            }
        )
        yield tuple(rows)


def fill(url: str, items: int, lines: int) -> float:
    """Insert ``items`` ledger items of ``lines`` lines; seconds taken."""
    engine = create_engine(url)
    rng = random.Random(items)
    tables: dict[str, Table] = {
        "message": Message.__table__,  # type: ignore[dict-item]
        "line": LedgerLine.__table__,  # type: ignore[dict-item]
        "item": LedgerItem.__table__,  # type: ignore[dict-item]
    }
    started = time.perf_counter()
    batch: dict[str, list[dict[str, Any]]] = {"message": [], "line": [], "item": []}

    def flush() -> None:
        with engine.begin() as connection:
            for name in ("message", "line", "item"):
                if batch[name]:
                    connection.execute(insert(tables[name]), batch[name])
                    batch[name].clear()

    for rows in _lines(items, lines, rng):
        *pairs, item = rows
        for n, row in enumerate(pairs):
            batch["message" if n % 2 == 0 else "line"].append(row)
        batch["item"].append(item)
        if len(batch["line"]) >= _CHUNK:
            flush()
    flush()
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def measure(url: str, requests: int, home: Path) -> list[tuple[str, float, float, float, str]]:
    """The first ask's time, p50 and p99 (ms) of each query, and the 整改率 it answered."""
    HubTrust.ensure(home / "keys", now=datetime.now(UTC))
    app = create_app(Config(home=home, database_url=url))
    hub = app.extensions["exchange"]
    key = SigningKey.generate()
    with hub.sessions.begin() as session:
        add_partner(
            session,
            OWNER,
            name="燕良区审计局(bench)",
            kid=KID,
            public_key=key.public_key,
            actor="bench",
            now=datetime.now(UTC) - timedelta(minutes=5),
        )
    client = app.test_client()
    results = []
    for shown in QUERIES:
        path = quote(shown, safe="/?=&")
        url_path = "http://localhost" + path
        timings = []
        first = 0.0
        rate = ""
        for n in range(requests + 2):
            headers = httpsig.sign_request(HttpRequest("GET", url_path, {}, b""), key, kid=KID)
            started = time.perf_counter()
            response = client.get(path, headers=headers)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code == 200, response.get_data(as_text=True)
            if n == 0:  # the first ask: the cells of a wide scope are made by a scan
                first = elapsed
            if n >= 2:  # two warm-up requests
                timings.append(elapsed)
            figures = response.get_json()["rectification"]
            rate = f"{figures['total']} items, 整改率 {figures['rectification_rate']}"
        timings.sort()
        p99 = timings[min(len(timings) - 1, round(0.99 * (len(timings) - 1)))]
        results.append((shown, first, statistics.median(timings), p99, rate))
    hub.engine.dispose()
    hub.read_engine.dispose()
    return results


def main() -> None:
    """Fill, measure, print a Markdown table per size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--items", default="10000", help="comma-separated ledger sizes")
    parser.add_argument("--lines", type=int, default=5, help="status lines per item")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per query")
    args = parser.parse_args()
    for items in (int(n) for n in args.items.split(",")):
        # The hub's home and, unless a URL is given, its SQLite file: removed after each size.
        with tempfile.TemporaryDirectory(prefix="exchange-bench-figures-") as home:
            url = args.database_url or f"sqlite:///{home}/figures.db"
            _reset(url)
            upgrade(url)
            seconds = fill(url, items, args.lines)
            backend = make_url(url).get_backend_name()
            print(
                f"\n{items:,} ledger items × {args.lines} lines on {backend}, "
                f"filled in {seconds:.0f} s"
            )
            print(f"{args.requests} timed requests per query, as the owner, through the app\n")
            print("| query | first ask ms | p50 ms | p99 ms | answer |")
            print("|---|---|---|---|---|")
            for path, first, p50, p99, answer in measure(url, args.requests, Path(home)):
                print(f"| `{path}` | {first:.0f} | {p50:.0f} | {p99:.0f} | {answer} |")


if __name__ == "__main__":
    main()
