"""The ``exchange`` command: the hub's side — set up, serve, partners and keys, review, the
log, backup and restore, notices, the worker, deliveries, evidence, reports, the demo. One
module per command group; a partner's side (keygen, send, pull) is ``exchange-partner``
(``adapters.cli``).
"""

from __future__ import annotations

import click
from flask.cli import FlaskGroup

from exchange.app import create_app
from exchange.cli import (
    backup,
    deliveries,
    demo,
    evidence,
    example,
    keys,
    log,
    notices,
    partners,
    reports,
    review,
    setup,
    users,
    worker,
)


@click.group(
    cls=FlaskGroup,
    create_app=lambda: create_app(),
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
)
def main() -> None:
    """Joint-supervision exchange hub (贯通协同监督数据交换)."""


# The app comes from the environment ($EXCHANGE_*), never from Flask's own -A/-e/--debug options.
main.params = [p for p in main.params if p.name not in ("app", "env_file", "debug")]

for command in (
    setup.init,
    setup.serve,
    partners.partners,
    keys.keys_group,
    review.review,
    users.users,
    log.log_group,
    backup.backup,
    backup.restore,
    notices.notices_group,
    worker.worker,
    deliveries.deliveries_group,
    evidence.evidence_group,
    reports.report_group,
    demo.demo,
    example.example,
):
    main.add_command(command)
