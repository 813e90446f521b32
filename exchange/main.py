"""The ``exchange`` console script: one step before the CLI itself is imported.

``exchange serve`` (its gunicorn workers) and ``exchange worker`` count their metrics in one
place, ``$EXCHANGE_HOME/run/prometheus``, so that ``/metrics`` adds up every process —
prometheus-client chooses its multi-process mode when it is first imported, hence here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

METRIC_COMMANDS = frozenset({"serve", "worker"})


def metrics_dir() -> Path:
    """Where the processes of one hub keep their metrics."""
    return Path(os.environ.get("EXCHANGE_HOME", "./var")).resolve() / "run" / "prometheus"


def main() -> None:
    """Run the hub's CLI."""
    directory = metrics_dir()
    # Before `exchange init` there is no home, and the command will say so: nothing is made.
    if len(sys.argv) > 1 and sys.argv[1] in METRIC_COMMANDS and directory.parents[1].is_dir():
        # An unlabelled metric opens its file as its module is imported: the directory first.
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(directory))
    from exchange.cli import main as cli  # after the variable: see the module's docstring

    cli()
