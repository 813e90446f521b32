"""Prometheus metrics; multi-process aware when ``PROMETHEUS_MULTIPROC_DIR`` is set (gunicorn)."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)

SUBMISSIONS = Counter(
    "exchange_messages_accepted_total", "Messages accepted, by status", ["status", "created"]
)
REFUSALS = Counter("exchange_refusals_total", "Refused submissions, by problem code", ["code"])


def count_submission(status: str, *, created: bool) -> None:
    """Count one accepted submission."""
    SUBMISSIONS.labels(status=status, created=str(created).lower()).inc()


def count_refusal(code: str) -> None:
    """Count one refusal."""
    REFUSALS.labels(code=code).inc()


def render() -> tuple[bytes, str]:
    """The exposition text and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
