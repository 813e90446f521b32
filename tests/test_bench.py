"""The benchmarks still run: each in a small configuration on SQLite, its report checked.

They are not timed here (speed is measured in bench/, as ratios, by hand); this only keeps
them from rotting as the hub changes under them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.bench  # make test-faults


def bench(tmp_path: Path, script: str, *args: str) -> str:
    """Run ``bench/<script>`` to completion; its standard output."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env={"PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin", "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_ingest_benchmark_runs(tmp_path: Path) -> None:
    out = bench(
        tmp_path,
        "ingest.py",
        "--driver",
        "python",
        "--messages",
        "60",
        "--batch-size",
        "20",
        "--batch-messages",
        "100",
        "--rate",
        "20",
        "--seconds",
        "2",
    )
    assert "| single | 60 |" in out
    assert "| batch of 20 | 100 |" in out
    assert "single at 20 requests/s offered (open loop, 40 requests" in out


def test_the_delivery_benchmark_runs(tmp_path: Path) -> None:
    out = bench(
        tmp_path, "delivery.py", "--messages", "20", "--workers", "1", "--floor-requests", "50"
    )
    assert "20 messages × 3 webhook recipients per run" in out
    assert "| 1 | 60 | 60 (0) |" in out  # every delivery made, none twice


def test_the_soak_runs(tmp_path: Path) -> None:
    out = bench(tmp_path, "soak.py", "--seconds", "8", "--warmup", "2", "--database", "sqlite")
    assert "| 1 |" in out  # the first minute's throughput and latency
    assert "| gunicorn worker 1 |" in out and "| exchange worker 2 |" in out
    assert "FAILED" not in out and "- ok: log verify: ok:" in out
    assert "- ok: pushes received:" in out and "(repeats 0)" in out


def test_the_figures_benchmark_runs(tmp_path: Path) -> None:
    out = bench(tmp_path, "figures.py", "--items", "60", "--lines", "3", "--requests", "2")
    assert "60 ledger items × 3 lines on sqlite" in out
    assert "| `/v1/stats?as_of=2022-06-30` |" in out
    assert "60 items, 整改率" in out
