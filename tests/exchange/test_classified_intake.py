"""At the hub: a disguised state-secret marker anywhere in a signed message is refused over
HTTP with `classified-content-refused`, and nothing of the message is stored or logged.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from sqlalchemy import func, select

from exchange.hub import Hub
from exchange.store.models import LogEntry
from tests.schemas.test_schemas_classified_disguised import placements
from tests.support import PartnerKeys, message_count, post_json, problem_code


def log_size(hub: Hub) -> int:
    with hub.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(placed=placements())
def test_a_disguised_marker_is_refused_and_nothing_is_stored(
    base_url: str,
    hub: Hub,
    partners: dict[str, PartnerKeys],
    placed: tuple[dict[str, Any], str, str],
) -> None:
    envelope, path, original_sender = placed
    before = log_size(hub)
    sender = partners[original_sender.split(".")[0]]
    response = post_json(base_url, sender, "/v1/messages", sender.sign(envelope))
    assert response.status_code == 422, response.text
    assert problem_code(response) == "classified-content-refused"
    assert f"at {path};" in response.json()["detail"]
    assert message_count(hub) == 0
    assert log_size(hub) == before
