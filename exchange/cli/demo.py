"""``exchange demo``: a round of joint supervision with real processes."""

from __future__ import annotations

import json
import time

import click

from exchange.demo import run_demo


@click.command()
def demo() -> None:
    """A round of joint supervision: a hub and four partner agents as real processes."""
    started = time.monotonic()
    summary = run_demo(click.echo)
    click.echo(f"summary ({time.monotonic() - started:.0f} s):")
    for name, value in summary.items():
        click.echo(f"  {name}: {json.dumps(value, ensure_ascii=False)}")
