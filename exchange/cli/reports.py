"""``exchange report``: the 整改台账 and the 移送线索台账 as XLSX or CSV."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import click
from flask.cli import AppGroup

from exchange.cli.common import fail, hub, plural
from exchange.store.models import Partner
from exchange.supervision.figures import Period
from exchange.supervision.reports import FORMATS, REPORTS


@click.group("report", cls=AppGroup)
def report_group() -> None:
    """Write the 整改台账 or the 移送线索台账 as a spreadsheet (XLSX or CSV)."""


def _report_options(command: Callable[..., None]) -> Callable[..., None]:
    dates = click.DateTime(["%Y-%m-%d"])
    options = (
        click.option(
            "--format",
            "extension",
            type=click.Choice(["xlsx", "csv"]),
            default=None,
            help="xlsx (with the sheet 汇总) or csv (the rows); default: the --out suffix",
        ),
        click.option("--out", "out_path", required=True, type=click.Path(path_type=Path)),
        click.option("--from", "start", type=dates, default=None, help="first Beijing date"),
        click.option("--to", "end", type=dates, default=None, help="last Beijing date"),
        click.option("--partner", default=None, help="only what this partner sent or received"),
    )
    for option in reversed(options):
        command = option(command)
    return command


@report_group.command("ledger")
@_report_options
def report_ledger(
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
) -> None:
    """整改台账: one row per ledger item (--from/--to: the day first reported)."""
    _write_report("ledger", extension, out_path, start, end, partner)


@report_group.command("referrals")
@_report_options
def report_referrals(
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
) -> None:
    """移送线索台账: one row per recipient's handling of a referral (--from/--to: the day sent)."""
    _write_report("referrals", extension, out_path, start, end, partner)


def _write_report(
    kind: str,
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
) -> None:
    extension = extension or out_path.suffix.removeprefix(".").lower()
    if extension not in FORMATS:
        fail("give --format xlsx or csv (or an --out file ending in .xlsx or .csv)")
    period = Period(start.date() if start else None, end.date() if end else None)
    if period.start and period.end and period.start > period.end:
        fail("--from must not be after --to")
    the_hub = hub()
    with the_hub.readers() as session:
        if partner is not None and session.get(Partner, partner) is None:
            fail(f"no such partner: {partner}")
        report = REPORTS[kind](session, the_hub.trust, partner, period, the_hub.now())
    rows = len(report.table.rows)
    with click.progressbar(length=rows, label=f"writing {out_path.name}", file=sys.stderr) as bar:
        out_path.write_bytes(report.render(extension, bar.update))
    click.echo(f"wrote {out_path} ({plural(rows, 'row')})")
