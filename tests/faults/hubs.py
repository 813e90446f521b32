"""Real processes for the fault tests: a hub set up by its CLI and served by gunicorn, its
worker, and partners whose requests are signed as a client's would be.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from exchange.config import Config
from exchange.hub import Hub
from exchange.store.models import Delivery, LogEntry, Message
from keys import SigningKey
from keys.protocol import LogAction
from tests.forked_cli import run_cli
from tests.support import PartnerKeys

EXCHANGE = str(Path(sys.executable).parent / "exchange")


def free_port() -> int:
    """A loopback port free now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], what: str, *, seconds: float = 30.0) -> None:
    """Poll ``condition`` until it holds, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds:g} s waiting until {what}")


def fresh_postgres(server_url: str, database: str) -> str:
    """An empty database ``database`` on the server of ``server_url`` (created if missing)."""
    admin = create_engine(
        make_url(server_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}
        ).first()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{database}"'))
    admin.dispose()
    url = make_url(server_url).set(database=database).render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def ready(url: str) -> bool:
    """Whether the hub at ``url`` answers its readiness probe with 200."""
    try:
        return requests.get(url + "/readyz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


def _alive(url: str) -> bool:
    try:
        return requests.get(url + "/healthz", timeout=5).status_code == 200
    except requests.RequestException:
        return False


class ServedHub:
    """A hub home set up with ``exchange init``, partners registered with ``partners add``,
    served by ``exchange serve`` (gunicorn) on a port of its own, and its worker.
    """

    def __init__(
        self, home: Path, database_url: str, partner_ids: tuple[str, ...], **env: str
    ) -> None:
        self.home = home
        self.env = dict(
            os.environ, EXCHANGE_HOME=str(home), EXCHANGE_DATABASE_URL=database_url, **env
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.cli("init")
        key = SigningKey.generate()
        key_file = home / "partners.pub.pem"
        key_file.write_bytes(key.public_key.to_pem())
        self.partners: dict[str, PartnerKeys] = {}
        for partner_id in partner_ids:
            self.cli("partners", "add", partner_id, "--name", partner_id, "--key", str(key_file))
            self.partners[partner_id] = PartnerKeys(partner_id, f"{partner_id}#1", key)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the hub's CLI on this home; with ``check``, it must succeed."""
        done = run_cli("exchange", args, self.env)
        if check:
            assert done.returncode == 0, f"exchange {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    def serve(self, *, workers: int = 2) -> None:
        """Start gunicorn (its own process group) and wait until it is ready."""
        self.server = subprocess.Popen(
            [EXCHANGE, "serve", "--port", str(self.port), "--workers", str(workers)],
            env=self.env,
            stdout=(self.home / "serve.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: ready(self.url), "the hub is ready", seconds=90)

    def serve_unready(self) -> None:
        """Start gunicorn on a store expected not to be ready; wait until it answers."""
        self.server = subprocess.Popen(
            [EXCHANGE, "serve", "--port", str(self.port), "--workers", "2"],
            env=self.env,
            stdout=(self.home / "serve.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(lambda: _alive(self.url), "the hub answers", seconds=90)

    def kill(self) -> None:
        """SIGKILL the server's master and workers at once."""
        assert self.server is not None
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait(timeout=10)
        self.server = None

    def start_worker(self, *args: str) -> None:
        """Start ``exchange worker`` (its output in ``worker.log``)."""
        self.worker = subprocess.Popen(
            [EXCHANGE, "worker", *args],
            env=self.env,
            stdout=(self.home / "worker.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        """SIGTERM what runs and wait for it."""
        for process in (self.server, self.worker):
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=30)
        self.server = self.worker = None

    def verify_log(self) -> str:
        """``exchange log verify``: its one line, which must start ``ok:``."""
        out = self.cli("log", "verify").stdout.strip()
        assert out.startswith("ok:"), out
        return out

    def stored(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        """What the store holds: each message's log index, its ``message:received`` entries
        and its deliveries (rows), by message id.
        """
        with self.store() as hub, hub.readers() as session:
            indices = dict(session.execute(select(Message.id, Message.log_index)).all())
            received = {
                str(message_id): count
                for message_id, count in session.execute(
                    select(LogEntry.message_id, func.count())
                    .where(LogEntry.action == LogAction.MESSAGE_RECEIVED.value)
                    .group_by(LogEntry.message_id)
                )
            }
            deliveries = dict(
                session.execute(
                    select(Delivery.message_id, func.count()).group_by(Delivery.message_id)
                ).all()
            )
        return indices, received, deliveries

    @contextmanager
    def store(self) -> Iterator[Hub]:
        """The hub's store opened from this process, to check what it holds."""
        hub = Hub(Config(home=self.home, database_url=self.env["EXCHANGE_DATABASE_URL"]))
        try:
            yield hub
        finally:
            hub.engine.dispose()
            hub.read_engine.dispose()


def problem(response: requests.Response) -> dict[str, Any]:
    """A problem document (RFC 9457), its media type checked."""
    assert response.headers["Content-Type"].startswith("application/problem+json"), (
        response.status_code,
        response.text[:300],
    )
    document: dict[str, Any] = response.json()
    return document
