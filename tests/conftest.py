"""Shared fixtures: real databases (SQLite, and PostgreSQL when configured), a real HTTP server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from werkzeug.serving import make_server

from exchange.app import create_app
from exchange.config import Config
from exchange.hub import Hub
from exchange.store.db import upgrade
from exchange.store.models import Base
from exchange.trust.hub_keys import HubTrust
from tests.support import NAMES, PartnerKeys, register

PG_URL = os.environ.get("EXCHANGE_TEST_DATABASE_URL")
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


def xdist_worker() -> str:
    """This process's pytest-xdist worker id (``gw0``, ``gw1`` …), or ``master`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


def worker_database_url(base_url: str, worker: str) -> str:
    """The database one worker uses: ``<base>_<worker>`` beside the base one, which ``master``
    (no xdist) uses itself.
    """
    if worker == "master":
        return base_url
    url = make_url(base_url)
    return url.set(database=f"{url.database}_{worker}").render_as_string(hide_password=False)


def ensure_postgres_database(base_url: str, url: str) -> None:
    """Create ``url``'s database if missing, connected to the base database (it is not touched)."""
    name = make_url(url).database
    server = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).scalar()
        if not exists:
            quoted = connection.dialect.identifier_preparer.quote(str(name))
            connection.execute(text(f"CREATE DATABASE {quoted}"))
    server.dispose()


def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database, once per backend for the whole session (of each xdist worker)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'exchange.db'}"
    else:
        assert PG_URL
        url = worker_database_url(PG_URL, xdist_worker())
        if url != PG_URL:
            ensure_postgres_database(PG_URL, url)
        reset_postgres(url)
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def hub_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with the hub's keys, made once."""
    home = tmp_path_factory.mktemp("home")
    HubTrust.ensure(home / "keys", now=datetime.now(UTC))
    return home


class Clock:
    """A settable clock: real time plus an offset tests may move."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@pytest.fixture(scope="session")
def clock() -> Clock:
    """The hub's clock in tests."""
    return Clock()


@pytest.fixture(scope="session")
def hub_app_and_server(
    database_url: str, hub_home: Path, clock: Clock
) -> Iterator[tuple[Hub, str]]:
    """The hub app served over real HTTP on a free loopback port, in a thread."""
    config = Config(home=hub_home, database_url=database_url, clock=clock)
    app = create_app(config)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app.extensions["exchange"], f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    app.extensions["exchange"].engine.dispose()
    app.extensions["exchange"].read_engine.dispose()


@pytest.fixture
def hub(hub_app_and_server: tuple[Hub, str], clock: Clock) -> Iterator[Hub]:
    """The running hub, with empty tables before each test."""
    the_hub, _url = hub_app_and_server
    clock.offset = timedelta()
    _empty(the_hub)
    yield the_hub


@pytest.fixture
def base_url(hub: Hub, hub_app_and_server: tuple[Hub, str]) -> str:
    """The running hub's URL."""
    return hub_app_and_server[1]


def _empty(the_hub: Hub) -> None:
    with the_hub.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def partners(hub: Hub) -> dict[str, PartnerKeys]:
    """One registered partner per body, keyed by body."""
    return {pid.split(".")[0]: register(hub, pid) for pid in NAMES}
