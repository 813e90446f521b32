"""Prometheus metrics an operator would graph (``GET /metrics``).

Counted where they happen — requests by route and status, refusals by problem type, intake
latency, notices sent — in prometheus-client's multi-process mode when
``PROMETHEUS_MULTIPROC_DIR`` is set (``exchange serve`` and ``exchange worker`` share
``$EXCHANGE_HOME/run/prometheus``), so every gunicorn worker and the scheduled jobs add up.
Read from the store at each scrape — messages by type and state, the review queue's depth
and the age of its oldest, the outbox and deliveries by push state, the log's size and the
age of its newest checkpoint — so that they are right whichever process changed them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session, sessionmaker

from exchange.store.models import Checkpoint, Delivery, Message, UtcDateTime
from exchange.transparency.tree import StoredTree

REQUESTS: Final = Counter(
    "exchange_http_requests_total",
    "HTTP requests, by route, method and status",
    ["route", "method", "status"],
)
REFUSALS: Final = Counter(
    "exchange_refusals_total",
    "Refusals (problem documents and refused batch items), by problem type",
    ["code"],
)
SUBMISSIONS: Final = Counter(
    "exchange_messages_accepted_total", "Messages accepted, by status", ["status", "created"]
)
INTAKE_SECONDS: Final = Histogram(
    "exchange_intake_seconds",
    "Time to check and store a submission (a batch counts as one), by mode",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
GROUP_SIZE: Final = Histogram(
    "exchange_intake_group_size",
    "Single submissions stored together in one commit (group commit)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 100),
)
NOTICES: Final = Counter("exchange_notices_sent_total", "Hub notices sent, by kind", ["kind"])


def count_request(route: str, method: str, status: int) -> None:
    """Count one answered request (``route`` is the URL rule, not the path)."""
    REQUESTS.labels(route=route, method=method, status=str(status)).inc()


def count_submission(status: str, *, created: bool) -> None:
    """Count one accepted submission."""
    SUBMISSIONS.labels(status=status, created=str(created).lower()).inc()


def count_refusal(code: str) -> None:
    """Count one refusal."""
    REFUSALS.labels(code=code).inc()


def count_notice(kind: str) -> None:
    """Count one hub notice sent."""
    NOTICES.labels(kind=kind).inc()


def observe_intake(mode: str, started: float) -> None:
    """The time since ``started`` (``time.perf_counter``) of one single or batch submission."""
    INTAKE_SECONDS.labels(mode=mode).observe(time.perf_counter() - started)


def observe_group(size: int) -> None:
    """One group commit of ``size`` single submissions."""
    GROUP_SIZE.observe(size)


class StoreCollector(Collector):
    """Gauges read from the store at each scrape (cheap: counts over indexed columns)."""

    def __init__(self, readers: sessionmaker[Session], now: Any) -> None:
        self._readers = readers
        self._now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The store's gauges, as of now."""
        now: datetime = self._now()
        with self._readers() as session:
            messages = GaugeMetricFamily(
                "exchange_messages", "Stored messages, by type and state", labels=["type", "state"]
            )
            for type_, state, count in session.execute(
                select(Message.type, Message.status, func.count()).group_by(
                    Message.type, Message.status
                )
            ):
                messages.add_metric([type_, state], count)
            yield messages
            depth, oldest = session.execute(
                select(
                    func.count(), type_coerce(func.min(Message.received_at), UtcDateTime())
                ).where(Message.status == "pending_review")
            ).one()
            yield GaugeMetricFamily(
                "exchange_review_queue_depth", "Messages held for review", value=depth
            )
            yield GaugeMetricFamily(
                "exchange_review_queue_oldest_seconds",
                "Age of the oldest message held for review (0 when none)",
                value=_age(now, oldest),
            )
            pushes = GaugeMetricFamily(
                "exchange_deliveries", "Pushes to webhooks, by push state", labels=["state"]
            )
            for push_state, count in session.execute(
                select(Delivery.push_state, func.count())
                .where(Delivery.push_state.is_not(None))
                .group_by(Delivery.push_state)
            ):
                pushes.add_metric([str(push_state)], count)
            yield pushes
            due = session.scalar(select(func.count()).where(Delivery.next_attempt_at.is_not(None)))
            yield GaugeMetricFamily(
                "exchange_outbox_depth",
                "Pushes waiting in the outbox (pending or claimed)",
                value=due or 0,
            )
            yield GaugeMetricFamily(
                "exchange_log_size",
                "Entries in the transparency log",
                value=StoredTree(session.connection()).size(),
            )
            newest = session.scalar(
                select(type_coerce(func.max(Checkpoint.issued_at), UtcDateTime()))
            )
            yield GaugeMetricFamily(
                "exchange_checkpoint_age_seconds",
                "Age of the newest signed checkpoint (0 when none)",
                value=_age(now, newest),
            )


def _age(now: datetime, moment: datetime | None) -> float:
    return 0.0 if moment is None else max(0.0, (now - moment).total_seconds())


def render(store: Collector | None) -> tuple[bytes, str]:
    """The exposition text and its content type: the counters (of every process, in
    multi-process mode) and the store's gauges.
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        for metric in (REQUESTS, REFUSALS, SUBMISSIONS, INTAKE_SECONDS, NOTICES):
            registry.register(metric)
    if store is not None:
        registry.register(store)
    return generate_latest(registry), CONTENT_TYPE_LATEST
