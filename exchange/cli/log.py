"""``exchange log``: verify the whole store, sign a checkpoint."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from flask.cli import AppGroup

from exchange.cli.common import hub, plural
from exchange.errors import ExchangeError
from exchange.transparency.marker import VerifiedMark, read_mark, write_mark
from exchange.transparency.parallel import Progress, verify_log
from exchange.transparency.verify import IntegrityFailure
from exchange.transparency.window import sign_checkpoint


@click.group("log", cls=AppGroup)
def log_group() -> None:
    """Check the transparency log and sign checkpoints."""


@log_group.command("verify")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    show_default="one per CPU, fewer for a short log: one per 5,000 entries",
    help="Processes that check index ranges of the log side by side.",
)
@click.option(
    "--since",
    metavar="INDEX|last",
    default="0",
    help=(
        "Start at the newest checkpoint at or below this log index instead of entry 0, or "
        "at the checkpoint the last clean run verified ('last'). That checkpoint's signature "
        "and the stored hashes before it are checked; the entries and messages before it are "
        "NOT read again, so tampering with them is not caught by this run (run without "
        "--since for that)."
    ),
)
@click.option(
    "--progress-every",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds between progress lines when stderr is not a terminal (a bar when it is).",
)
def log_verify(jobs: int | None, since: str, progress_every: float) -> None:
    """Recompute every entry, the tree, every checkpoint and every message digest."""
    the_hub = hub()
    home = the_hub.config.home
    start, pinned = _since(since, home)
    try:
        with _progress(progress_every) as progress:
            report = verify_log(
                the_hub.config.database_url,
                the_hub.trust,
                the_hub.config.keys_dir,
                jobs=jobs,
                since=start,
                pinned_root=pinned,
                progress=progress,
            )
    except IntegrityFailure as failure:
        click.echo(f"FAILED at log index {failure.index}: {failure.reason}", err=True)
        sys.exit(1)
    checkpoint = report.verified_checkpoint
    if checkpoint is not None:
        write_mark(home, VerifiedMark(checkpoint.tree_size, checkpoint.root_hash, the_hub.now()))
    resumed = f" (entries {report.start}.. from checkpoint {report.start})" if report.start else ""
    click.echo(
        f"ok: {report.entries} entries{resumed}, {report.checkpoints} checkpoints, "
        f"{report.messages} messages; root {report.root_hash}"
    )
    if checkpoint is not None:
        click.echo(f"verified up to checkpoint {checkpoint.tree_size} (resume with --since last)")


def _since(value: str, home: Path) -> tuple[int, bytes | None]:
    """``--since`` as a log index, and for ``last`` the root its checkpoint must still have."""
    if value == "last":
        try:
            mark = read_mark(home)
        except ExchangeError as unreadable:
            raise click.BadParameter(unreadable.detail, param_hint="--since") from None
        if mark is None:
            raise click.BadParameter("no clean run has been recorded yet", param_hint="--since")
        return mark.tree_size, mark.root_hash
    if not value.isdecimal():
        raise click.BadParameter(
            f"{value!r} is neither a log index (0 or more) nor 'last'", param_hint="--since"
        )
    return int(value), None


@contextmanager
def _progress(every: float) -> Iterator[Progress]:
    """Progress with an ETA on stderr: a bar on a terminal, else a line every ``every`` s."""
    started = time.monotonic()
    last = started
    bar: Any = None

    def show(done: int, total: int) -> None:
        nonlocal last, bar
        if sys.stderr.isatty():
            if bar is None:
                bar = click.progressbar(
                    length=total, label="checking the log", file=sys.stderr, show_eta=True
                )
                bar.__enter__()
            bar.update(done - bar.pos)
            return
        now = time.monotonic()
        if now - last < every or not total:
            return
        last = now
        rate = done / max(now - started, 1e-9)
        left = f"about {(total - done) / rate:.0f} s left" if rate else "ETA unknown"
        click.echo(
            f"log verify: {done:,} of {plural(total, 'entry', 'entries')} "
            f"({100 * done // total}%), {rate:,.0f} entries/s, {left}",
            err=True,
        )

    try:
        yield show
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@log_group.command("checkpoint")
def log_checkpoint() -> None:
    """Sign a checkpoint of the log as it is now."""
    the_hub = hub()
    with the_hub.sessions.begin() as session:
        checkpoint = sign_checkpoint(session, the_hub.notary, the_hub.now())
    click.echo(f"checkpoint: tree_size {checkpoint.tree_size}, root {checkpoint.root_hash.hex()}")
