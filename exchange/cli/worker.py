"""``exchange worker``: the hub's scheduled jobs, round after round."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click
from flask.cli import with_appcontext

from exchange.cli.common import hub
from exchange.worker import Worker


@click.command()
@with_appcontext
@click.option("--once", is_flag=True, help="run the due jobs once and exit")
@click.option("--interval", default=5.0, show_default=True, help="seconds between rounds")
@click.option("--batch", default=20, show_default=True, help="pushes claimed at a time")
def worker(once: bool, interval: float, batch: int) -> None:
    """Run the hub's scheduled jobs: a checkpoint at least every 60 s while the log grows, the
    hub notices that are due (overdue feedback and rectification, once a week each), and the
    pushes to partners' webhooks. Several workers may run at once.
    """
    the_hub = hub()  # before anything is made: refused before `exchange init`
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
    jobs = Worker(
        the_hub, batch=batch, say=click.echo, complain=lambda line: click.echo(line, err=True)
    )
    signal.signal(signal.SIGTERM, lambda *_: jobs.stopping.set())
    jobs.run(once=once, interval=interval)
