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
from exchange.supervision.reports import FORMATS, REPORTS
from exchange.supervision.scope import Period
from schemas import RECTIFICATION_SOURCES


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
        click.option(
            "--as-of", type=dates, default=None, help="截至日期: states as of this Beijing date"
        ),
        click.option("--owner", default=None, help="the ledger's owner (a partner id)"),
        click.option("--source", type=click.Choice(sorted(RECTIFICATION_SOURCES)), default=None),
        click.option("--source-doc-number", default=None, help="来源文书文号"),
        click.option("--source-year", type=click.IntRange(1949, 2100), help="问题所属年度"),
        click.option("--source-project", default=None, help="审计(巡察)项目名称"),
        click.option("--unit", default=None, help="整改责任单位 (or a co-unit): name or USCC"),
        click.option("--problem-category", default=None, help="问题类别"),
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
    as_of: datetime | None,
    **scope: str | int | None,
) -> None:
    """整改台账: one row per ledger item (--from/--to: the day first reported; --as-of and the
    scope options as /v1/stats takes them).
    """
    _write_report("ledger", extension, out_path, partner, _period(start, end, as_of, scope))


@report_group.command("referrals")
@_report_options
def report_referrals(
    extension: str | None,
    out_path: Path,
    start: datetime | None,
    end: datetime | None,
    partner: str | None,
    as_of: datetime | None,
    **scope: str | int | None,
) -> None:
    """移送线索台账: one row per recipient's handling of a referral (--from/--to: the day sent;
    --as-of the cut-off).
    """
    _write_report("referrals", extension, out_path, partner, _period(start, end, as_of, scope))


def _period(
    start: datetime | None,
    end: datetime | None,
    as_of: datetime | None,
    scope: dict[str, str | int | None],
) -> Period:
    if start and end and start > end:
        fail("--from must not be after --to")
    return Period(
        start.date() if start else None,
        end.date() if end else None,
        as_of=as_of.date() if as_of else None,
        **scope,  # type: ignore[arg-type]  # click gives each option its declared type
    )


def _write_report(
    kind: str, extension: str | None, out_path: Path, partner: str | None, period: Period
) -> None:
    extension = extension or out_path.suffix.removeprefix(".").lower()
    if extension not in FORMATS:
        fail("give --format xlsx or csv (or an --out file ending in .xlsx or .csv)")
    the_hub = hub()
    with the_hub.readers() as session:
        if partner is not None and session.get(Partner, partner) is None:
            fail(f"no such partner: {partner}")
        report = REPORTS[kind](session, the_hub.trust, partner, period, the_hub.now())
    rows = len(report.table.rows)
    with click.progressbar(length=rows, label=f"writing {out_path.name}", file=sys.stderr) as bar:
        out_path.write_bytes(report.render(extension, bar.update))
    click.echo(f"wrote {out_path} ({plural(rows, 'row')})")
