"""The hub's scheduled jobs, round after round: a checkpoint at least every 60 s while the log
grows, the hub notices that are due, then the webhook pushes that are due. Several workers
may run at once: they share the outbox without waiting for each other. The store going away
stops no worker: it says so once, tries again every interval, and goes on when it answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from sqlalchemy.exc import DBAPIError

from exchange.errors import Unavailable
from exchange.hub import Hub
from exchange.store.db import store_unavailable
from exchange.transparency.checkpoints import checkpoint_due
from exchange.transparency.log import format_time
from exchange.transparency.window import sign_checkpoint
from exchange.transport.notices import run_notices
from exchange.transport.outbox import Dispatcher, Tally
from exchange.transport.webhook_sender import WebhookSender

Say = Callable[[str], None]


class Worker:
    """Runs the rounds until stopped; each line it says is stamped with the hub's time."""

    def __init__(self, hub: Hub, *, batch: int, say: Say, complain: Say) -> None:
        self.hub = hub
        self.dispatcher = Dispatcher(hub.sessions, hub.trust, WebhookSender(), batch_size=batch)
        self.stopping = threading.Event()
        self._say, self._complain = say, complain
        self._unavailable = False

    def run(self, *, once: bool, interval: float) -> None:
        """Round after round, ``interval`` seconds apart while idle; one round with ``once``."""
        try:
            while True:
                busy = self._round_unless_unavailable(push_for=max(interval, 10.0))
                if once or self.stopping.is_set() or (not busy and self.stopping.wait(interval)):
                    return
        finally:
            self.dispatcher.sender.close()

    def _round_unless_unavailable(self, *, push_for: float) -> bool:
        """A round; while the store does not answer, one line when it goes and when it is
        back, and no round (its jobs are all due again next time: nothing is lost).
        """
        try:
            busy = self.round(push_for=push_for)
        except Exception as failure:
            if not (isinstance(failure, Unavailable) or store_unavailable(failure)):
                raise
            if not self._unavailable:
                reason = getattr(failure, "orig", None) or failure
                self._complain(
                    f"{format_time(self.hub.now())} store unavailable "
                    f"({type(reason).__name__}): retrying every round"
                )
            self._unavailable = True
            return False
        if self._unavailable:
            self._say(f"{format_time(self.hub.now())} store available again")
            self._unavailable = False
        return busy

    def round(self, *, push_for: float) -> bool:
        """One round of every job; whether more pushes may be due at once."""
        now = self.hub.now()
        with self.hub.sessions.begin() as session:
            if checkpoint_due(session.connection(), now):
                checkpoint = sign_checkpoint(session, self.hub.notary, now)
                self._say(f"{format_time(now)} checkpoint tree_size {checkpoint.tree_size}")
        with self.hub.sessions.begin() as session:
            for notice in run_notices(session, self.hub.trust, now):
                self._say(f"{format_time(now)} notice {notice.line()}")
        try:
            return self._push(seconds=push_for)
        except DBAPIError as failure:
            # A deadlock victim or a lost connection: what was claimed is claimed again once
            # its lease runs out; the next round goes on.
            self._complain(f"{format_time(self.hub.now())} deliveries failed: {failure.orig}")
            return False

    def _push(self, *, seconds: float) -> bool:
        """Push batches until none is due, for at most ``seconds`` (the other jobs wait
        meanwhile); whether the last batch was full.
        """
        tally, started, full = Tally(), self.hub.now(), False
        while not self.stopping.is_set():
            batch = self.dispatcher.run_once(self.hub.now())
            tally.add(batch)
            full = batch.claimed == self.dispatcher.batch_size
            if not full or (self.hub.now() - started).total_seconds() >= seconds:
                break
        if tally.claimed:
            self._say(f"{format_time(self.hub.now())} deliveries {tally}")
        return full
