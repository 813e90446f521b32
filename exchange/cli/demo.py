"""``exchange demo``: a round of joint supervision with real processes."""

from __future__ import annotations

import json
import time

import click

from exchange.demo import run_demo


@click.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="the hub's port (a free one by default)",
)
def demo(port: int | None) -> None:
    """A round of joint supervision: a hub and four partner agents as real processes."""
    started = time.monotonic()
    summary = run_demo(click.echo, port=port)
    click.echo(f"summary ({time.monotonic() - started:.0f} s):")
    for name, value in summary.items():
        click.echo(f"  {name}: {json.dumps(value, ensure_ascii=False)}")
