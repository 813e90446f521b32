"""Where the hub may push (issue 9 item 7): no user-info, no loopback or link-local
destination unless the operator allows internal ones — checked when the webhook is set and
again on every connection of a push (DNS may change); private ranges stay allowed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from exchange.admin.webhooks import set_webhook
from exchange.errors import ExchangeError
from exchange.hub import Hub
from exchange.store.models import Delivery, Partner
from exchange.transport.outbox import PENDING
from exchange.trust.destinations import check_webhook_url, is_internal
from keys import SigningKey
from tests.exchange.test_cli import Cli, cli_env
from tests.exchange.test_delivery import (
    DISCIPLINE,
    Receiver,
    delivery,
    dispatcher,
    log_size,
    status_line,
)
from tests.support import PartnerKeys

Partners = dict[str, PartnerKeys]

INTERNAL = [
    "http://127.0.0.1:8080/hook",
    "http://127.8.9.10/hook",
    "http://localhost/hook",
    "http://[::1]:9000/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://0.0.0.0/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://127.1/hook",  # getaddrinfo reads it as 127.0.0.1
    "http://2130706433/hook",  # and this too
]
WITH_USER_INFO = [
    "https://user:secret@discipline.example/hook",
    "https://user@discipline.example/hook",
    "https://:@discipline.example/hook",
]
ALLOWED = [
    "https://10.20.30.40/hook",
    "https://192.168.1.20:8443/hook",
    "https://172.16.0.9/hook",
    "https://qz.discipline.example/exchange/webhook",  # does not resolve here: checked at send
]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_destinations_are_refused_unless_allowed(url: str) -> None:
    with pytest.raises(ExchangeError) as refused:
        check_webhook_url(url)
    assert refused.value.code == "bad-request"
    assert "--allow-internal" in refused.value.detail
    assert check_webhook_url(url, allow_internal=True) == url


@pytest.mark.parametrize("url", WITH_USER_INFO)
def test_user_info_is_refused_even_when_internal_is_allowed(url: str) -> None:
    for allow in (False, True):
        with pytest.raises(ExchangeError) as refused:
            check_webhook_url(url, allow_internal=allow)
        assert "user-info" in refused.value.detail


@pytest.mark.parametrize("url", ALLOWED)
def test_private_ranges_and_names_are_allowed(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("address", "internal"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("169.254.1.1", True),
        ("fe80::1%eth0", True),
        ("::ffff:169.254.169.254", True),
        ("0.0.0.0", True),
        ("10.0.0.1", False),
        ("100.64.0.1", False),
        ("2001:db8::1", False),
    ],
)
def test_what_counts_as_internal(address: str, internal: bool) -> None:
    assert is_internal(address) is internal


def test_a_refused_webhook_leaves_nothing(hub: Hub, partners: Partners) -> None:
    before = log_size(hub)
    with pytest.raises(ExchangeError), hub.sessions.begin() as session:
        set_webhook(session, DISCIPLINE, INTERNAL[0], trust=hub.trust, actor="test", now=hub.now())
    assert log_size(hub) == before
    with hub.sessions() as session:
        partner = session.get(Partner, DISCIPLINE)
        assert partner is not None and partner.webhook_url is None


def test_the_cli_refuses_an_internal_webhook_in_one_line_and_adds_nothing(
    hub: Hub, database_url: str, tmp_path: Path
) -> None:
    cli = Cli(cli_env(tmp_path / "home", database_url))
    cli.ok("init")
    key = tmp_path / "audit.pub.pem"
    key.write_bytes(SigningKey.generate().public_key.to_pem())
    add = ["partners", "add", "audit.yanliang", "--name", "审计局", "--key", str(key)]
    error = cli.refused(*add, "--webhook", "http://127.0.0.1:9/hook")
    assert len(error.strip().splitlines()) == 1 and "--allow-internal" in error
    assert "audit.yanliang" not in cli.ok("partners", "list")
    out = cli.ok(*add, "--webhook", "http://127.0.0.1:9/hook", "--allow-internal")
    assert "webhook secret" in out


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A partner's webhook server on this machine, answering 204."""
    server = Receiver()
    yield server
    server.close()


def test_a_push_to_an_internal_address_is_refused_at_send_time(
    base_url: str, hub: Hub, partners: Partners, receiver: Receiver
) -> None:
    """The URL passed when it was set (its name resolved elsewhere then); by the time of the
    push it leads to this machine: the connection is refused, nothing reaches the server.
    """
    with hub.sessions.begin() as session:
        set_webhook(session, DISCIPLINE, ALLOWED[3], trust=hub.trust, actor="test", now=hub.now())
        session.execute(
            update(Partner).where(Partner.id == DISCIPLINE).values(webhook_url=receiver.url)
        )
    line = status_line(base_url, partners)
    dispatcher(hub).run_once(hub.now())
    refused = delivery(hub, line["id"])
    assert receiver.received == []
    assert refused.push_state == PENDING and refused.attempts == 1
    assert refused.last_error == "connection failed (refused: a loopback or link-local destination)"

    # The operator allows internal destinations for this partner: the retry goes through.
    with hub.sessions.begin() as session:
        set_webhook(
            session,
            DISCIPLINE,
            receiver.url,
            trust=hub.trust,
            actor="test",
            now=hub.now(),
            allow_internal=True,
        )
        session.execute(
            update(Delivery)
            .where(Delivery.message_id == line["id"])
            .values(next_attempt_at=hub.now() - timedelta(seconds=1))
        )
    dispatcher(hub).run_once(hub.now())
    assert receiver.ids() == [line["id"]]
