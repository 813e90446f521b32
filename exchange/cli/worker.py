"""``exchange worker``: the hub's scheduled jobs, round after round."""

from __future__ import annotations

import signal
import threading

import click
from flask.cli import with_appcontext
from sqlalchemy.exc import DBAPIError

from exchange.cli.common import hub
from exchange.cli.notices import send_notices
from exchange.hub import Hub
from exchange.transparency.checkpoints import checkpoint_due
from exchange.transparency.log import format_time
from exchange.transparency.window import sign_checkpoint
from exchange.transport.outbox import Dispatcher, Tally
from exchange.transport.webhook_sender import WebhookSender


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
    the_hub = hub()
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    dispatcher = Dispatcher(the_hub.sessions, the_hub.trust, WebhookSender(), batch_size=batch)
    while True:
        now = the_hub.now()
        with the_hub.sessions.begin() as session:
            if checkpoint_due(session.connection(), now):
                checkpoint = sign_checkpoint(session, the_hub.notary, now)
                click.echo(f"{format_time(now)} checkpoint tree_size {checkpoint.tree_size}")
        for line in send_notices(the_hub, now):
            click.echo(f"{format_time(now)} notice {line}")
        try:
            busy = _push(the_hub, dispatcher, stopping, seconds=max(interval, 10.0))
        except DBAPIError as failure:
            # A deadlock victim or a lost connection: what was claimed is claimed again once
            # its lease runs out; the next round goes on.
            click.echo(f"{format_time(the_hub.now())} deliveries failed: {failure.orig}", err=True)
            busy = False
        if once or stopping.is_set() or (not busy and stopping.wait(interval)):
            dispatcher.sender.close()
            return


def _push(the_hub: Hub, dispatcher: Dispatcher, stopping: threading.Event, seconds: float) -> bool:
    """Push batches until none is due, for at most ``seconds`` (the other jobs wait meanwhile);
    return whether the last batch was full (more may be due at once).
    """
    tally, started, full = Tally(), the_hub.now(), False
    while not stopping.is_set():
        batch = dispatcher.run_once(the_hub.now())
        tally.add(batch)
        full = batch.claimed == dispatcher.batch_size
        if not full or (the_hub.now() - started).total_seconds() >= seconds:
            break
    if tally.claimed:
        click.echo(f"{format_time(the_hub.now())} deliveries {tally}")
    return full
