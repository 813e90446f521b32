"""Setting up and serving the hub: ``exchange init``, ``exchange serve``."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

import keys
from exchange.app import create_app
from exchange.cli.common import refuse_unless_set_up
from exchange.config import Config
from exchange.hub import Hub


@click.command()
def init() -> None:
    """Create the store under $EXCHANGE_HOME (schema migrations, hub keys) if absent."""
    config = Config.from_env()
    created = Hub(config).initialise()
    for name in created:
        click.echo(f"created {config.keys_dir / name}")
    click.echo(f"store ready at {config.database_url}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int, help="gunicorn worker processes")
@click.option(
    "--threads", default=8, show_default=True, type=int, help="request threads per worker"
)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the hub: gunicorn when installed, else Flask's development server.

    gunicorn runs threaded workers (gthread): a slow client holds one thread, never a whole
    worker, and idle keep-alive connections wait in the worker's poller, not in a thread.
    """
    config = Config.from_env()
    refuse_unless_set_up(Hub(config))
    metrics_dir = config.home / "run" / "prometheus"
    prune_metrics(metrics_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if shutil.which("gunicorn") or _has_module("gunicorn"):
        click.echo(
            f"serving with gunicorn ({workers} workers × {threads} threads) on http://{host}:{port}"
        )
        sys.stdout.flush()
        os.execv(
            sys.executable,
            [sys.executable, "-m", "gunicorn", *_gunicorn_args(host, port, workers, threads)],
        )
    click.echo(
        f"gunicorn is not installed: serving with Flask's development server on "
        f"http://{host}:{port} (not for production)"
    )
    create_app(config).run(host=host, port=port, threaded=True)


def prune_metrics(directory: Path) -> None:
    """Make the metrics directory, and drop the files of processes no longer running (a
    running worker's counters stay; a counter that restarts from 0 is what Prometheus expects
    of a restart).
    """
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*.db"):
        pid = path.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            path.unlink(missing_ok=True)


def _gunicorn_args(host: str, port: int, workers: int, threads: int) -> list[str]:
    """The gunicorn command line of ``exchange serve``."""
    return [
        "--workers",
        str(workers),
        # gthread, whose own refusals (414, 431, 400) are problem documents too.
        "--worker-class",
        "exchange.api.http_server.ProblemThreadWorker",
        "--threads",
        str(threads),
        "--bind",
        f"{host}:{port}",
        "--access-logfile",
        "-",
        # A worker that stops answering its arbiter for 60 s is replaced.
        "--timeout",
        "60",
        # Idle keep-alive connections are closed after 5 s (they wait in the poller).
        "--keep-alive",
        "5",
        "--graceful-timeout",
        "30",
        # gunicorn puts its working directory first on sys.path. Run from inside a hub home,
        # the home's keys/ directory would shadow the `keys` package wherever that package is
        # found only after the path (an editable install's finder): the packages' own
        # directory goes first.
        "--pythonpath",
        _packages_root(),
        # gunicorn's own bounds on the request line and headers (answered 4xx beyond).
        "--limit-request-line",
        "8190",
        "--limit-request-fields",
        "100",
        "--limit-request-field_size",
        "8190",
        "exchange.app:create_app()",
    ]


def _packages_root() -> str:
    """The directory the hub's packages (``exchange``, ``keys``, ``schemas``) are imported from."""
    return str(Path(keys.__file__).resolve().parent.parent)


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None
