"""Fixtures of the fault tests: a store of each test's own, on each backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.hubs import fresh_postgres

PG_URL = os.environ.get("EXCHANGE_TEST_DATABASE_URL")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty store of this test's own: an SQLite file, or a database beside the test
    database on its server (``EXCHANGE_TEST_DATABASE_URL``; skipped without it).
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exchange.db'}"
    if not PG_URL:
        pytest.skip("EXCHANGE_TEST_DATABASE_URL is not set")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "master")
    test = request.node.originalname.removeprefix("test_")[:30]
    return fresh_postgres(PG_URL, f"faults_{test}_{worker}")
