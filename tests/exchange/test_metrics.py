"""``/metrics`` after a scripted mix of traffic, from a real gunicorn hub and a real worker:
each family an operator graphs, with the right counts, added up over every process.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import date, timedelta
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from adapters import ExchangeClient, HubError
from keys import SigningKey
from schemas import examples
from tests.exchange.test_end_to_end import EXCHANGE, run
from tests.support import NAMES

AUDIT, DISCIPLINE = "audit.yanliang", "discipline.yanliang"


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics``: (name, sorted labels) → value."""
    text = requests.get(url + "/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_after_a_scripted_mix_of_traffic(
    served_hub: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, env = served_hub
    clients: dict[str, ExchangeClient] = {}
    for partner_id in NAMES:
        key = SigningKey.generate()
        pem = tmp_path / f"{partner_id}.pub.pem"
        pem.write_bytes(key.public_key.to_pem())
        args = ["partners", "add", partner_id, "--name", NAMES[partner_id], "--key", str(pem)]
        if partner_id == DISCIPLINE:  # a webhook nothing answers: its pushes wait in the outbox
            args += ["--webhook", "http://127.0.0.1:9/hook", "--allow-internal"]
        run(env, *args)
        clients[partner_id] = ExchangeClient(url, f"{partner_id}#1", key)
    audit = clients[AUDIT]
    to_discipline = [DISCIPLINE]

    for _ in range(3):
        audit.send(examples.rectification_example(recipients=to_discipline))
    audit.send_batch([examples.rectification_example(recipients=to_discipline) for _ in range(2)])
    audit.send(examples.referral_example())  # held for review: two reviewers
    late = examples.rectification_example(recipients=to_discipline)
    late["payload"]["ledger_item_id"] = late["subject"] = "YL-LATE-1"
    late["payload"]["deadline"] = (date.today() - timedelta(days=10)).isoformat()
    for milestone in late["payload"]["milestones"]:
        milestone["due"] = late["payload"]["deadline"]
    audit.send(late)
    bad = examples.rectification_example()
    bad["payload"]["responsible_unit"]["uscc"] = "bad"
    try:
        audit.send(bad)
    except HubError as refused:
        assert refused.code == "schema-invalid"
    assert requests.get(url + "/v1/inbox", timeout=10).status_code == 401
    stranger = ExchangeClient(url, "audit.yanliang#nope", SigningKey.generate())
    try:
        stranger.inbox()
    except HubError as refused:
        assert refused.code == "unknown-key"
    clients["inspection.yanliang"].inbox()
    run(env, "log", "checkpoint")
    worker = subprocess.run(
        [EXCHANGE, "worker", "--once"], env=env, capture_output=True, text=True, timeout=120
    )
    assert "notice rectification_overdue" in worker.stdout, worker.stdout + worker.stderr
    time.sleep(0.2)

    samples = scrape(url)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, tuple(sorted(labels.items()))), 0.0)

    post = {"route": "/v1/messages", "method": "POST"}
    assert value("exchange_http_requests_total", **post, status="201") == 5
    assert value("exchange_http_requests_total", **post, status="422") == 1
    assert (
        value(
            "exchange_http_requests_total", route="/v1/messages:batch", method="POST", status="200"
        )
        == 1
    )
    assert value("exchange_http_requests_total", route="/v1/inbox", method="GET", status="401") == 2
    assert value("exchange_refusals_total", code="schema-invalid") == 1
    assert value("exchange_refusals_total", code="request-signature-invalid") == 1
    assert value("exchange_refusals_total", code="unknown-key") == 1
    assert value("exchange_intake_seconds_count", mode="single") == 5
    assert value("exchange_intake_seconds_count", mode="batch") == 1
    assert value("exchange_intake_seconds_bucket", mode="single", le="+Inf") == 5
    assert value("exchange_messages_accepted_total", status="released", created="true") == 6
    rectification = {"type": "rectification.status.v1", "state": "released"}
    assert value("exchange_messages", **rectification) == 6
    assert value("exchange_messages", type="clue.referral.v1", state="pending_review") == 1
    assert value("exchange_messages", type="hub.notice.v1", state="released") == 1
    assert value("exchange_review_queue_depth") == 1
    assert value("exchange_review_queue_oldest_seconds") > 0
    # Six status lines to discipline, pushed to a webhook nothing answers (the worker tried
    # them once, and they wait for their retry).
    assert value("exchange_deliveries", state="pending") == 6
    assert value("exchange_outbox_depth") == 6
    assert value("exchange_notices_sent_total", kind="rectification_overdue") == 1
    assert json.loads(requests.get(url + "/readyz", timeout=10).text) == {"status": "ready"}
    assert value("exchange_log_size") > 20
    assert ("exchange_checkpoint_age_seconds", ()) in samples


def test_the_sample_dashboard_graphs_only_metrics_the_hub_exposes() -> None:
    """Every family docs/grafana-dashboard.json queries is one the hub exposes."""
    dashboard = json.loads(
        (Path(__file__).parents[2] / "docs" / "grafana-dashboard.json").read_text("utf-8")
    )
    exposed = {
        "exchange_http_requests_total",
        "exchange_refusals_total",
        "exchange_intake_seconds_bucket",
        "exchange_messages_accepted_total",
        "exchange_review_queue_depth",
        "exchange_review_queue_oldest_seconds",
        "exchange_outbox_depth",
        "exchange_checkpoint_age_seconds",
        "exchange_deliveries",
        "exchange_messages",
        "exchange_log_size",
        "exchange_notices_sent_total",
    }
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"exchange_[a-z_]+", target["expr"])
    }
    assert queried == exposed
