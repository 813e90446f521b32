"""The store out of space or read-only: every submission meanwhile is a clean 503
problem+json with ``Retry-After`` (never another 5xx), nothing it refused is stored, the same
ids are stored once the fault is gone, and ``exchange log verify`` passes afterwards.

SQLite is capped with ``PRAGMA max_page_count`` (what a full disk looks like to SQLite:
SQLITE_FULL), the cap lifted, then its writers set ``PRAGMA query_only`` (SQLITE_READONLY, as
on a read-only mount) and back; PostgreSQL is a throwaway cluster whose database is set
``default_transaction_read_only`` (as a failover to a standby would leave it).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import event, func, select
from werkzeug.serving import make_server

from exchange.app import create_app
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import LogEntry, Message
from tests.faults.clusters import ThrowawayCluster
from tests.faults.hubs import EXCHANGE, ServedHub, problem, ready, wait_until
from tests.faults.load import status_line
from tests.support import PartnerKeys, register, signed_request

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.timeout(300)]

SENDER, RECIPIENT = "audit.disk", "discipline.disk"


def submit(hub: ServedHub, envelope: dict[str, Any]) -> requests.Response:
    """One signed single submission."""
    sender = hub.partners[SENDER]
    body = json.dumps(sender.sign(envelope)).encode()
    return signed_request(hub.url, sender, "POST", "/v1/messages", body=body)


def refused_cleanly(answers: list[requests.Response]) -> None:
    """Each answer a 503 problem document of type ``unavailable`` with ``Retry-After``."""
    for answer in answers:
        assert answer.status_code == 503, answer.text[:300]
        assert problem(answer)["type"] == "urn:exchange:error:unavailable"
        assert int(answer.headers["Retry-After"]) > 0


class PageCap:
    """``PRAGMA max_page_count`` on every connection the hub's writers check out: SQLite
    answers SQLITE_FULL ("database or disk is full") once the file would grow past it, as a
    full disk does — no root, no tmpfs. ``None`` lifts the cap. ``read_only`` sets
    ``PRAGMA query_only``: every write answers SQLITE_READONLY, as a read-only mount does.
    """

    def __init__(self) -> None:
        self.pages: int | None = None
        self.read_only = False

    def __call__(self, dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count = {self.pages or 4294967294}")
        cursor.execute(f"PRAGMA query_only = {'ON' if self.read_only else 'OFF'}")
        cursor.close()


@pytest.fixture
def capped_hub(tmp_path: Path) -> Iterator[tuple[Hub, str, PageCap, dict[str, PartnerKeys]]]:
    """A hub on an SQLite store of its own, served over real HTTP in a thread, whose writers'
    page cap the test sets.
    """
    config = Config(home=tmp_path / "home", database_url=f"sqlite:///{tmp_path / 'exchange.db'}")
    Hub(config).initialise()
    app = create_app(config)
    the_hub: Hub = app.extensions["exchange"]
    cap = PageCap()
    event.listen(the_hub.engine, "checkout", cap)
    partners = {pid: register(the_hub, pid) for pid in (SENDER, RECIPIENT)}
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield the_hub, f"http://127.0.0.1:{server.server_port}", cap, partners
    finally:
        server.shutdown()
        the_hub.engine.dispose()


def test_sqlite_disk_full_then_read_only_then_recovers(
    capped_hub: tuple[Hub, str, PageCap, dict[str, PartnerKeys]],
) -> None:
    the_hub, url, cap, partners = capped_hub
    sender = partners[SENDER]

    def send(envelope: dict[str, Any]) -> requests.Response:
        body = json.dumps(sender.sign(envelope)).encode()
        return signed_request(url, sender, "POST", "/v1/messages", body=body)

    stored: set[str] = set()
    for _ in range(3):
        envelope = status_line(SENDER, [RECIPIENT], "before")
        assert send(envelope).status_code == 201
        stored.add(envelope["id"])

    # Full: the file may not grow by one page. A commit that fits in free pages still lands.
    with the_hub.engine.connect() as connection:
        cap.pages = int(connection.exec_driver_sql("PRAGMA page_count").scalar_one())
    full_answers, refused = [], []
    for _ in range(40):
        envelope = status_line(SENDER, [RECIPIENT], "full")
        answer = send(envelope)
        if answer.status_code == 201:
            stored.add(envelope["id"])
            continue
        full_answers.append(answer)
        refused.append(envelope)
    with the_hub.readers() as session:
        held_while_full = set(session.scalars(select(Message.id)))

    # Space returns: the same ids are taken, once.
    cap.pages = None
    retried = [send(envelope) for envelope in refused]
    stored.update(envelope["id"] for envelope in refused)

    # Read-only: every write refused cleanly, nothing stored; then writable again.
    cap.read_only = True
    envelope = status_line(SENDER, [RECIPIENT], "read-only")
    read_only_answers = [send(envelope) for _ in range(3)]
    with the_hub.readers() as session:
        held_while_read_only = set(session.scalars(select(Message.id)))
    cap.read_only = False
    after = send(envelope)
    stored.add(envelope["id"])
    env = dict(
        os.environ,
        EXCHANGE_HOME=str(the_hub.config.home),
        EXCHANGE_DATABASE_URL=the_hub.config.database_url,
    )
    verified = subprocess.run(
        [EXCHANGE, "log", "verify"], env=env, capture_output=True, text=True, timeout=120
    )

    assert len(full_answers) >= 10, "the full store refused nothing"
    refused_cleanly(full_answers)
    assert not {e["id"] for e in refused} & held_while_full, "a refused message was stored"
    assert [r.status_code for r in retried] == [201] * len(refused)
    refused_cleanly(read_only_answers)
    assert envelope["id"] not in held_while_read_only and after.status_code == 201
    with the_hub.readers() as session:
        ids = list(session.scalars(select(Message.id)))
        entries = session.scalar(select(func.count()).select_from(LogEntry))
    assert sorted(ids) == sorted(stored) and entries is not None and entries >= len(stored)
    assert verified.returncode == 0, verified.stderr
    assert f"{len(stored)} messages" in verified.stdout


@pytest.fixture
def cluster() -> Iterator[ThrowawayCluster]:
    """A cluster of this test's own, with an empty ``exchange`` database."""
    try:
        server = ThrowawayCluster()
    except (FileNotFoundError, KeyError) as missing:
        pytest.skip(f"no PostgreSQL server to start: {missing}")
    try:
        server.start()
        server.execute("CREATE DATABASE exchange")
        yield server
    finally:
        server.destroy()


def read_only(cluster: ThrowawayCluster, on: bool) -> None:
    """Set the database read-only (or back), and cut its sessions, as a failover would."""
    cluster.execute(
        f"ALTER DATABASE exchange SET default_transaction_read_only = {'on' if on else 'off'}"
    )
    cluster.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = 'exchange' AND pid <> pg_backend_pid()"
    )


def test_postgresql_read_only(tmp_path: Path, cluster: ThrowawayCluster) -> None:
    hub = ServedHub(tmp_path / "home", cluster.url("exchange"), (SENDER, RECIPIENT))
    hub.serve()
    stored: set[str] = set()
    try:
        first = status_line(SENDER, [RECIPIENT], "before")
        assert submit(hub, first).status_code == 201
        stored.add(first["id"])
        read_only(cluster, True)
        envelope = status_line(SENDER, [RECIPIENT], "read-only")
        answers = [submit(hub, envelope) for _ in range(10)]
        readiness = requests.get(hub.url + "/readyz", timeout=30)
        held = hub.stored()[0]
        # Back to read-write without cutting the sessions: the hub must not keep any
        # connection that refuses writes.
        cluster.execute("ALTER DATABASE exchange SET default_transaction_read_only = off")
        wait_until(lambda: ready(hub.url), "the hub is ready again", seconds=30)
        after = [submit(hub, envelope)]
        while after[-1].status_code == 503 and len(after) < 30:  # as a client would retry
            after.append(submit(hub, envelope))
        after.append(submit(hub, envelope))
        stored.add(envelope["id"])
        verified = hub.verify_log()
    finally:
        hub.stop()

    refused_cleanly(answers)
    assert readiness.status_code == 503 and "read-only" in problem(readiness)["detail"]
    assert envelope["id"] not in held
    refused_cleanly(after[:-2])  # connections opened while read-only, each dropped once
    assert [a.status_code for a in after[-2:]] == [201, 200]
    indices, received, _ = hub.stored()
    assert set(indices) == stored and received == dict.fromkeys(stored, 1)
    assert verified.startswith("ok:")
